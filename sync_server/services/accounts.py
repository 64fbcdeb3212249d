"""Operator and staff accounts, created centrally (design.md §1).

An account has a stable ``user_id`` (``usr-`` + 12 hex digits, the ``operator_id`` every
counter event carries), a unique username (3-32 of ``a-z 0-9 . _ -``), a full name, a role
(:class:`protocol.workflow.Role`) and an scrypt hash (:mod:`signing.passwords`). Operators are
bound to one Musi Banyuasin kecamatan; the other roles work centrally and have none.
Accounts are disabled, never deleted, so the audit trail always names a real account;
disabling one also ends its staff sessions (:mod:`sync_server.services.staff_auth`).

A password is reset by an admin (staff page) or at the server's console (``kk-server user
set-password``), never read back: :func:`set_password` checks everything, hashes once, then in
one transaction replaces the hash, ends the account's staff sessions, lifts its login
throttle, tells its counters (operators) and appends ``user.password_reset`` to the
hash-chained access log (who, from where, which account; never the password). A disabled
account is refused (``user.disabled_password``): it cannot log in anywhere, and a new hash
sent to its counters would only make a disabled account look maintained. Staff change their
own password the same way, proving the current one first (:func:`change_own_password`).

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
from sync_server.services import access_log, feed, staff_auth
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
    "PASSWORD_RESET",
    "CLI_ACTOR",
    "PasswordReset",
    "check_resettable",
    "set_password",
    "change_own_password",
]

PASSWORD_RESET = "user.password_reset"
"""Access-log action: an account's password was set anew (detail: which account)."""
CLI_ACTOR = "cli"
"""Actor id, role and address of an access-log row written by ``kk-server`` at the console."""

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


@dataclass(frozen=True, slots=True)
class PasswordReset:
    """What a password reset did."""

    user: User
    sessions_ended: int
    counters_told: int
    """How many counters (devices of the operator's kecamatan) get the new hash; 0 for staff."""


def set_password(
    db: Database,
    username: str,
    password: str,
    *,
    actor: User | None,
    client_ip: str,
    now: datetime,
) -> PasswordReset:
    """Give an active account a new password (see the module doc). ``actor`` is the admin
    who did it, ``None`` at the console (:data:`CLI_ACTOR`). Blocking (scrypt).

    Raises :class:`Refusal`: 404 ``user.not_found``, 409 ``user.disabled_password``,
    ``user.password_too_short``.
    """
    check_resettable(db, username)
    check_password(password)
    new_hash = hash_password(password)
    at = stamp(now)
    with db.write() as conn:
        user = store.user_by_username(conn, username.strip())  # disabled meanwhile?
        _check_resettable(user, username)
        assert user is not None
        store.set_password_hash(conn, user.user_id, new_hash)
        user = store.get_user(conn, user.user_id)
        assert user is not None
        ended = sessions.delete_sessions_of(conn, user.user_id)
        staff_auth.clear_failures_of(conn, user.username)
        told = feed.operator_changed(conn, user, now=now)
        access_log.append(
            conn,
            at=at,
            actor_id=actor.user_id if actor else CLI_ACTOR,
            role=actor.role.value if actor else CLI_ACTOR,
            client_ip=client_ip,
            action=PASSWORD_RESET,
            application_id=None,
            detail=f"akun {user.username} ({user.user_id}); {ended} sesi diakhiri",
        )
    return PasswordReset(user, ended, told)


def check_resettable(db: Database, username: str) -> User:
    """The account whose password may be reset (the CLI checks before asking for one).
    Raises 404 ``user.not_found``, 409 ``user.disabled_password``."""
    with db.read() as conn:
        user = store.user_by_username(conn, username.strip())
    _check_resettable(user, username)
    assert user is not None
    return user


def _check_resettable(user: User | None, username: str) -> None:
    if user is None:
        raise Refusal("user.not_found", status=404, username=username)
    if not user.is_active:
        raise Refusal("user.disabled_password", status=409, username=user.username)


def change_own_password(
    db: Database, user: User, *, old: str, new: str, client_ip: str, now: datetime
) -> PasswordReset:
    """A staff member's own new password, proven by the current one (checked under the
    login throttle of (username, address), so the form is no way around it); then as
    :func:`set_password`, with the account itself as actor: every session of it ends, the
    one in use included. Blocking (scrypt, twice).

    Raises :class:`Refusal`: ``user.password_too_short``, 429 ``auth.throttled``, 401
    ``auth.invalid_credentials``, 409 ``user.disabled_password``.
    """
    check_password(new)
    staff_auth.verify_credentials(
        db, username=user.username, password=old, client_ip=client_ip, now=now
    )
    return set_password(db, user.username, new, actor=user, client_ip=client_ip, now=now)
