"""field_client package."""
