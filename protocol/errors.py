"""The one error model of the KK domain.

Every rule failure is an :class:`Issue` with a stable machine code (``nik.invalid_region``)
and a clear Indonesian message for the person at the counter or at the centre. Codes are
stable API: clients branch on them, never on message text.

Exception tree::

    KKError                      base of everything the domain raises
    ├── ValidationError          input breaks one or more rules; carries the Issues
    ├── WorkflowError            an SOP transition is not allowed
    │   ├── IllegalTransition    the action does not exist from the current state
    │   ├── RoleNotPermitted     the actor's role may not take this action
    │   └── ReasonRequired       returns/rejections/withdrawals need reasons
    └── ProtocolError            a change log or request breaks the sync protocol
        ├── ChainError           sequence gap, broken hash chain or forked history
        └── SignatureInvalid     a signature does not verify against the expected key

Messages live in one catalogue, filled by each rule module with :func:`define_messages`
so every code has exactly one Indonesian text, checked by the test suite.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

__all__ = [
    "KKError",
    "ValidationError",
    "WorkflowError",
    "IllegalTransition",
    "RoleNotPermitted",
    "ReasonRequired",
    "ProtocolError",
    "ChainError",
    "SignatureInvalid",
    "Issue",
    "Severity",
    "define_messages",
    "message_for",
    "issue",
    "all_message_codes",
]

_CODE_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_MESSAGES: dict[str, str] = {}


def define_messages(messages: Mapping[str, str]) -> None:
    """Register Indonesian message templates for machine codes.

    Templates use ``str.format`` fields filled from :func:`issue` parameters.
    A code may be defined once only, so two modules cannot disagree on its text.
    """
    for code, text in messages.items():
        if not _CODE_RE.match(code):
            raise ValueError(f"invalid message code {code!r}")
        if code in _MESSAGES and _MESSAGES[code] != text:
            raise ValueError(f"message code {code!r} defined twice")
        _MESSAGES[code] = text


def message_for(code: str, **params: Any) -> str:
    """Return the Indonesian message for ``code`` with ``params`` filled in."""
    return _MESSAGES[code].format(**params)


def all_message_codes() -> frozenset[str]:
    """Every machine code known to the catalogue (for tests and API docs)."""
    return frozenset(_MESSAGES)


class Severity(enum.StrEnum):
    """How hard a rule is."""

    ERROR = "error"
    """Blocks the step; the data must be corrected."""
    WARNING = "warning"
    """A judgement: the operator may go on after giving a reason (an override)."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One rule failure: a stable code, an Indonesian message and where it applies."""

    code: str
    message: str
    field: str = ""
    """Dotted path of the offending field, e.g. ``members[2].nik``; empty for the whole record."""
    severity: Severity = Severity.ERROR
    params: Mapping[str, Any] = dataclass_field(default_factory=dict)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_dict(self) -> dict[str, Any]:
        """Wire form: JSON-safe and stable."""
        return {
            "code": self.code,
            "message": self.message,
            "field": self.field,
            "severity": self.severity.value,
            "params": {k: _jsonable(v) for k, v in self.params.items()},
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def issue(
    code: str, *, field: str = "", severity: Severity = Severity.ERROR, **params: Any
) -> Issue:
    """Build an :class:`Issue` whose message comes from the catalogue."""
    return Issue(
        code=code,
        message=message_for(code, **params),
        field=field,
        severity=severity,
        params=params,
    )


class KKError(Exception):
    """Base of every error the KK domain raises. ``code`` is stable; ``message`` is Indonesian."""

    code: str = "kk.error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message


class ValidationError(KKError):
    """Input breaks one or more rules. ``issues`` lists every failure, not just the first."""

    code = "validation.failed"

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues: tuple[Issue, ...] = tuple(issues)
        if not self.issues:
            raise ValueError("ValidationError needs at least one issue")
        first = self.issues[0]
        text = first.message
        if len(self.issues) > 1:
            text += f" (dan {len(self.issues) - 1} masalah lain)"
        super().__init__(text, code=first.code)

    @classmethod
    def single(cls, code: str, *, field: str = "", **params: Any) -> ValidationError:
        """One-issue error, the common case for parsers."""
        return cls([issue(code, field=field, **params)])


class WorkflowError(KKError):
    """An SOP transition is not allowed; nothing was changed."""

    code = "workflow.error"


class IllegalTransition(WorkflowError):
    code = "workflow.illegal_transition"


class RoleNotPermitted(WorkflowError):
    code = "workflow.role_not_permitted"


class ReasonRequired(WorkflowError):
    code = "workflow.reason_required"


class ProtocolError(KKError):
    """A change log, event or signed request breaks the sync protocol; nothing was applied."""

    code = "protocol.error"


class ChainError(ProtocolError):
    """Sequence gap (``event.seq_gap``), broken chain (``event.chain_broken``) or fork."""

    code = "event.chain_broken"


class SignatureInvalid(ProtocolError):
    code = "signature.invalid"
