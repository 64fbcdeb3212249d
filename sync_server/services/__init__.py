"""What the server does: enrollment, accounts, signed-request checks and change-log ingest."""
