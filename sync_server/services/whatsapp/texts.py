"""The words of each message, from ``templates/whatsapp/`` (Bahasa Indonesia).

A message is rendered from its purpose and a few parameters kept in the outbox row, never
from the application itself, so it holds no personal data beyond what it needs: the short
application reference, the kecamatan, and the list of what is missing or wrong. No names, no
NIKs (the KK PDF attached to ``kk_issued`` is the one thing that must carry them).

* ``<purpose>.txt`` is the free-form text (inside the 24-hour window) and, for ``kk_issued``,
  the document's caption; ``${name}`` placeholders, filled by :class:`string.Template`.
* ``templates.json`` names the approved template for each purpose (used outside the window)
  and the order of its body parameters. Template parameters may not hold line breaks, tabs
  or more than four spaces in a row (Cloud API rule), so lists are joined with "; ".
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template
from typing import Any

from protocol.whatsapp import MessagePurpose

__all__ = ["TemplateSpec", "RenderedMessage", "render", "reference_of", "MAX_CAPTION"]

MAX_CAPTION = 1024
"""The Cloud API's limit for a document caption."""
_MAX_PARAM = 1024
_BLANK_RUNS = re.compile(r"\n{3,}")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class TemplateSpec:
    """An approved template filled for one message."""

    name: str
    language: str
    body: tuple[str, ...]
    """Body parameter values, in order ({{1}}, {{2}}...)."""
    document_header: bool
    """The template's header is the document (the KK PDF)."""


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    purpose: MessagePurpose
    text: str
    """Free-form text, or the caption of the document."""
    template: TemplateSpec
    needs_document: bool
    """True when the KK PDF goes with the message."""


def reference_of(application_id: str) -> str:
    """The short application reference an applicant can quote (first 8 hex digits)."""
    return application_id.replace("-", "")[:8].upper()


@cache
def _catalogue() -> Mapping[str, Any]:
    text = resources.files("templates").joinpath("whatsapp", "templates.json").read_text("utf-8")
    return json.loads(text)


@cache
def _text(purpose: MessagePurpose) -> Template:
    path = resources.files("templates").joinpath("whatsapp", f"{purpose.value}.txt")
    return Template(path.read_text("utf-8"))


def render(purpose: MessagePurpose | str, params: Mapping[str, Any]) -> RenderedMessage:
    """The message of ``purpose`` with ``params``: ``reference``, ``kecamatan`` and, for
    incomplete and returned, ``items`` (labels) and ``note`` (free text, may be empty)."""
    purpose = MessagePurpose(purpose)
    items: Sequence[str] = params.get("items") or ()
    values = {
        "reference": params["reference"],
        "kecamatan": params.get("kecamatan", ""),
        "items": "\n".join(f"- {item}" for item in items),
        "note": f"Catatan petugas: {params['note']}" if params.get("note") else "",
    }
    text = _BLANK_RUNS.sub("\n\n", _text(purpose).substitute(values)).strip()
    inline = {
        "reference": values["reference"],
        "items_inline": _inline("; ".join([*items, params.get("note") or ""]).strip("; ")),
    }
    spec = _catalogue()["templates"][purpose.value]
    template = TemplateSpec(
        name=spec["name"],
        language=_catalogue()["language"],
        body=tuple(inline[name] or "-" for name in spec["body"]),
        document_header=spec.get("header") == "document",
    )
    needs_document = purpose is MessagePurpose.KK_ISSUED
    if needs_document:
        text = text[:MAX_CAPTION]
    return RenderedMessage(purpose, text, template, needs_document)


def _inline(value: str) -> str:
    return _SPACES.sub(" ", value).strip()[:_MAX_PARAM]
