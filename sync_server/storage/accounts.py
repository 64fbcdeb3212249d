"""Rows of ``users``: operator and staff accounts."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from protocol.workflow import Role

__all__ = [
    "User",
    "insert_user",
    "get_user",
    "user_by_username",
    "list_users",
    "operators_of",
    "disable_user",
    "set_password_hash",
]


@dataclass(frozen=True, slots=True)
class User:
    """An account. Operators are bound to one kecamatan; staff work centrally (no kecamatan)."""

    user_id: str
    """Stable id carried by every event as ``operator_id``; never reused."""
    username: str
    full_name: str
    role: Role
    kecamatan: str | None
    password_hash: str
    created_at: str
    disabled_at: str | None

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None


def _user(row: sqlite3.Row | None) -> User | None:
    if row is None:
        return None
    data = dict(row)
    data["role"] = Role(data["role"])
    return User(**data)


def insert_user(conn: sqlite3.Connection, user: User) -> None:
    conn.execute(
        "INSERT INTO users (user_id, username, full_name, role, kecamatan, password_hash, "
        "created_at, disabled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            user.user_id,
            user.username,
            user.full_name,
            user.role.value,
            user.kecamatan,
            user.password_hash,
            user.created_at,
            user.disabled_at,
        ),
    )


def get_user(conn: sqlite3.Connection, user_id: str) -> User | None:
    return _user(conn.execute("SELECT * FROM users WHERE user_id = ?", (user_id,)).fetchone())


def user_by_username(conn: sqlite3.Connection, username: str) -> User | None:
    return _user(conn.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone())


def list_users(conn: sqlite3.Connection) -> list[User]:
    rows = conn.execute("SELECT * FROM users ORDER BY role, kecamatan, username").fetchall()
    return [u for u in map(_user, rows) if u is not None]


def operators_of(conn: sqlite3.Connection, kecamatan: str) -> list[User]:
    """Every operator account of one kecamatan, disabled ones included, oldest first."""
    rows = conn.execute(
        "SELECT * FROM users WHERE role = 'operator' AND kecamatan = ? "
        "ORDER BY created_at, user_id",
        (kecamatan,),
    ).fetchall()
    return [u for u in map(_user, rows) if u is not None]


def disable_user(conn: sqlite3.Connection, user_id: str, *, at: str) -> bool:
    """Set ``disabled_at`` unless already set; False when nothing changed."""
    cursor = conn.execute(
        "UPDATE users SET disabled_at = ? WHERE user_id = ? AND disabled_at IS NULL",
        (at, user_id),
    )
    return cursor.rowcount == 1


def set_password_hash(conn: sqlite3.Connection, user_id: str, password_hash: str) -> bool:
    """Replace an active account's hash; False when it is unknown or disabled."""
    cursor = conn.execute(
        "UPDATE users SET password_hash = ? WHERE user_id = ? AND disabled_at IS NULL",
        (password_hash, user_id),
    )
    return cursor.rowcount == 1
