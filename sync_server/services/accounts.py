"""Operator and staff accounts, created centrally (design.md §1).

An account has a stable ``user_id`` (``usr-`` + 12 hex digits, the ``operator_id`` every
counter event carries), a unique username (3-32 of ``a-z 0-9 . _ -``), a full name, a role
(:class:`protocol.workflow.Role`) and an scrypt hash (:mod:`signing.passwords`). Operators are
bound to one Musi Banyuasin kecamatan; the other roles work centrally and have none.
Accounts are disabled, never deleted, so the audit trail always names a real account;
disabling one also ends its staff sessions (:mod:`sync_server.services.staff_auth`).

Every change of an operator account is reported, in the same transaction, to the devices of
its kecamatan through the signed feed (:func:`sync_server.services.feed.operator_changed`),
so counters learn of new and disabled accounts on their next pull.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from protocol.workflow import Role
from signing.passwords import MIN_PASSWORD_LENGTH, hash_password
from sync_server.clock import stamp
from sync_server.errors import Refusal
from sync_server.services import feed
from sync_server.services.wilayah import muba_kecamatan_code
from sync_server.storage import accounts as store
from sync_server.storage import sessions
from sync_server.storage.accounts import User
from sync_server.storage.db import Database

__all__ = [
    "USERNAME_PATTERN",
    "MAX_FULL_NAME",
    "parse_role",
    "check_password",
    "NewUser",
    "check_new_user",
    "add_user",
    "list_users",
    "disable_user",
]

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,31}$")
MAX_FULL_NAME = 100


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise Refusal(
            "user.invalid_role", value=text, choices=", ".join(r.value for r in Role)
        ) from None


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Refusal("user.password_too_short", min=MIN_PASSWORD_LENGTH)


@dataclass(frozen=True, slots=True)
class NewUser:
    """An account's details after every rule except the password's."""

    username: str
    full_name: str
    role: Role
    kecamatan: str | None


def check_new_user(
    db: Database, *, username: str, full_name: str, role: Role | str, kecamatan: str | None
) -> NewUser:
    """Check and normalise an account's details (the CLI does this before asking for the
    password). Raises :class:`Refusal`."""
    role = parse_role(role)
    username = username.strip()
    if not USERNAME_PATTERN.match(username):
        raise Refusal("user.invalid_username", value=username)
    full_name = " ".join(full_name.split())
    if not full_name or len(full_name) > MAX_FULL_NAME:
        raise Refusal("user.invalid_name", max=MAX_FULL_NAME)
    if role is Role.OPERATOR:
        if not kecamatan:
            raise Refusal("user.kecamatan_required")
        kecamatan = muba_kecamatan_code(kecamatan)
    elif kecamatan:
        raise Refusal("user.kecamatan_not_allowed", role=role.label)
    else:
        kecamatan = None
    with db.read() as conn:
        if store.user_by_username(conn, username) is not None:
            raise Refusal("user.exists", status=409, username=username)
    return NewUser(username, full_name, role, kecamatan)


def add_user(
    db: Database,
    *,
    username: str,
    full_name: str,
    role: Role | str,
    kecamatan: str | None,
    password: str,
    now: datetime,
) -> User:
    """Create an account; every rule is checked before the (slow) password hash is made."""
    details = check_new_user(
        db, username=username, full_name=full_name, role=role, kecamatan=kecamatan
    )
    check_password(password)
    user = User(
        user_id=f"usr-{secrets.token_hex(6)}",
        username=details.username,
        full_name=details.full_name,
        role=details.role,
        kecamatan=details.kecamatan,
        password_hash=hash_password(password),
        created_at=stamp(now),
        disabled_at=None,
    )
    with db.write() as conn:
        if store.user_by_username(conn, user.username) is not None:  # raced another admin
            raise Refusal("user.exists", status=409, username=user.username)
        store.insert_user(conn, user)
        feed.operator_changed(conn, user, now=now)
    return user


def list_users(db: Database) -> list[User]:
    with db.read() as conn:
        return store.list_users(conn)


def disable_user(db: Database, username: str, *, now: datetime) -> tuple[User, bool]:
    """Disable an account; returns it and whether it was active until now."""
    with db.write() as conn:
        user = store.user_by_username(conn, username.strip())
        if user is None:
            raise Refusal("user.not_found", status=404, username=username)
        changed = store.disable_user(conn, user.user_id, at=stamp(now))
        user = store.user_by_username(conn, user.username)
        assert user is not None
        if changed:
            feed.operator_changed(conn, user, now=now)
        sessions.delete_sessions_of(conn, user.user_id)  # its staff tokens stop at once
    return user, changed
