"""The server's clock and the office's calendar.

The server is the clock of record: it stamps every accepted event with its own time beside
the device's. Dates that rules depend on (readiness of a submission) are the office's date in
Western Indonesia Time (WIB, UTC+7, no daylight saving), where Musi Banyuasin lies.
"""

from __future__ import annotations

from datetime import UTC, datetime

from protocol.events import format_timestamp
from protocol.jurisdiction import WIB

__all__ = ["WIB", "utc_now", "stamp"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """The protocol's UTC text form, as stored in the database."""
    return format_timestamp(moment)
