"""Rows of ``staff_sessions`` (login tokens, by SHA-256 only) and ``login_failures``."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

__all__ = [
    "Session",
    "LoginFailures",
    "insert_session",
    "get_session",
    "extend_session",
    "delete_session",
    "delete_sessions_of",
    "delete_expired_sessions",
    "get_failures",
    "record_failure",
    "clear_failures",
    "clear_failures_of",
    "delete_stale_failures",
]


@dataclass(frozen=True, slots=True)
class Session:
    """A staff login; the token itself is never stored, only its SHA-256 (hex)."""

    token_hash: str
    user_id: str
    created_at: str
    expires_at: str
    client_ip: str


@dataclass(frozen=True, slots=True)
class LoginFailures:
    """Consecutive failed logins of one (username, client IP)."""

    username: str
    client_ip: str
    failures: int
    last_failure: str
    blocked_until: str


def insert_session(conn: sqlite3.Connection, session: Session) -> None:
    conn.execute(
        "INSERT INTO staff_sessions (token_hash, user_id, created_at, expires_at, client_ip) "
        "VALUES (?, ?, ?, ?, ?)",
        (
            session.token_hash,
            session.user_id,
            session.created_at,
            session.expires_at,
            session.client_ip,
        ),
    )


def get_session(conn: sqlite3.Connection, token_hash: str) -> Session | None:
    row = conn.execute(
        "SELECT * FROM staff_sessions WHERE token_hash = ?", (token_hash,)
    ).fetchone()
    return None if row is None else Session(**dict(row))


def extend_session(conn: sqlite3.Connection, token_hash: str, *, expires_at: str) -> None:
    """Move the expiry forward (never back)."""
    conn.execute(
        "UPDATE staff_sessions SET expires_at = ? WHERE token_hash = ? AND expires_at < ?",
        (expires_at, token_hash, expires_at),
    )


def delete_session(conn: sqlite3.Connection, token_hash: str) -> bool:
    cursor = conn.execute("DELETE FROM staff_sessions WHERE token_hash = ?", (token_hash,))
    return cursor.rowcount == 1


def delete_sessions_of(conn: sqlite3.Connection, user_id: str) -> int:
    """End every session of one account (disabled, or its password reset); returns how many."""
    return conn.execute("DELETE FROM staff_sessions WHERE user_id = ?", (user_id,)).rowcount


def delete_expired_sessions(conn: sqlite3.Connection, *, now: str) -> int:
    return conn.execute("DELETE FROM staff_sessions WHERE expires_at <= ?", (now,)).rowcount


def get_failures(conn: sqlite3.Connection, username: str, client_ip: str) -> LoginFailures | None:
    row = conn.execute(
        "SELECT * FROM login_failures WHERE username = ? AND client_ip = ?",
        (username, client_ip),
    ).fetchone()
    return None if row is None else LoginFailures(**dict(row))


def record_failure(
    conn: sqlite3.Connection,
    username: str,
    client_ip: str,
    *,
    failures: int,
    at: str,
    blocked_until: str,
) -> None:
    conn.execute(
        "INSERT INTO login_failures (username, client_ip, failures, last_failure, blocked_until) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (username, client_ip) DO UPDATE SET "
        "failures = excluded.failures, last_failure = excluded.last_failure, "
        "blocked_until = excluded.blocked_until",
        (username, client_ip, failures, at, blocked_until),
    )


def clear_failures(conn: sqlite3.Connection, username: str, client_ip: str) -> None:
    conn.execute(
        "DELETE FROM login_failures WHERE username = ? AND client_ip = ?", (username, client_ip)
    )


def clear_failures_of(conn: sqlite3.Connection, username: str) -> int:
    """Forget the failures of one username from every address (its password was reset)."""
    return conn.execute("DELETE FROM login_failures WHERE username = ?", (username,)).rowcount


def delete_stale_failures(conn: sqlite3.Connection, *, before: str) -> int:
    """Forget failures whose last attempt is older than ``before``."""
    return conn.execute("DELETE FROM login_failures WHERE last_failure < ?", (before,)).rowcount
