"""WhatsApp numbers of applicants, stored in E.164 form (``+628...``).

The applicant's WhatsApp is the SOP's only channel back to them (steps 1, 2 and 7), so a
number that cannot receive messages is an error at the counter, not a surprise at issue time.
"""

from __future__ import annotations

import re

from protocol.errors import ValidationError, define_messages

__all__ = ["normalize_whatsapp"]

define_messages(
    {
        "phone.invalid": 'Nomor WhatsApp "{value}" tidak valid. Tulis nomor HP Indonesia, '
        "misalnya 0812 3456 7890 atau +62 812 3456 7890.",
    }
)

# Indonesian mobile numbers: 08xx..., 9 to 12 digits after the leading 0 (operators'
# prefixes 0811-0899; the national numbering plan keeps them under 13 digits).
_MOBILE = re.compile(r"^8[1-9]\d{7,10}$")
_SEPARATORS = re.compile(r"[\s\-().]")


def normalize_whatsapp(raw: str, *, field: str = "whatsapp") -> str:
    """Return ``raw`` as ``+62`` E.164; raise :class:`ValidationError` (``phone.invalid``).

    Accepts the ways people write numbers at a counter: ``0812-3456-7890``,
    ``62812...``, ``+62 812 ...``.
    """
    text = _SEPARATORS.sub("", raw or "")
    if text.startswith("+62"):
        national = text[3:]
    elif text.startswith("62"):
        national = text[2:]
    elif text.startswith("0"):
        national = text[1:]
    else:
        national = text
    if not _MOBILE.match(national):
        raise ValidationError.single("phone.invalid", field=field, value=raw)
    return "+62" + national
