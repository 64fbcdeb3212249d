"""Persistence of the central server: SQLite schema and one small module per table group."""
