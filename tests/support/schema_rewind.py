"""Turn a server database back into a file from before a migration, to test upgrades."""

from __future__ import annotations

import re

from sync_server.storage import db as server_db
from sync_server.storage.db import Database

__all__ = ["rewind"]


def rewind(db: Database, migration: tuple[str, ...]) -> None:
    """Undo ``migration`` and every later one (their tables and added columns go; rows they
    rewrote stay as they are) and set the file's version to before it, so the next
    :meth:`Database.migrate` runs them again as on an old file."""
    version = server_db._MIGRATIONS.index(migration)
    later = " ".join(s for m in server_db._MIGRATIONS[version:] for s in m)
    with db.write() as conn:
        for table in reversed(re.findall(r"CREATE TABLE (\w+)", later)):
            conn.execute(f"DROP TABLE {table}")
        for table, column in re.findall(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", later):
            conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        conn.execute(f"PRAGMA user_version = {version}")
