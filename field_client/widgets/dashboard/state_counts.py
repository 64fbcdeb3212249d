"""Counts of applications per state, in the groups an operator thinks in."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import Static

from protocol.workflow import State

__all__ = ["STATE_GROUPS", "StateCounts"]

STATE_GROUPS: tuple[tuple[str, str, tuple[State, ...]], ...] = (
    ("draft", "Draf", (State.DRAFT,)),
    ("incomplete", "Belum lengkap", (State.INCOMPLETE,)),
    # The three central steps are one wait for the counter: nothing to do until it returns.
    ("centre", "Di Dinas", (State.SUBMITTED, State.VERIFIED, State.APPROVED)),
    # A TTE refusal comes back to the counter like any return: edit and resubmit.
    ("returned", "Dikembalikan", (State.RETURNED, State.TTE_REJECTED)),
    ("signed", "Siap terbit", (State.SIGNED,)),
    ("issued", "Diterbitkan", (State.ISSUED,)),
    ("archived", "Diarsipkan", (State.ARCHIVED,)),
    ("withdrawn", "Dibatalkan", (State.WITHDRAWN,)),
)
"""``(id, label, states)`` per cell; together they cover every state exactly once."""


class StateCounts(Grid):
    """A 4x2 grid of "label  count" cells; :meth:`show` updates them."""

    DEFAULT_CSS = """
    StateCounts {
        grid-size: 4 2;
        grid-gutter: 0 1;
        height: 2;
        padding: 0 1;
    }
    StateCounts > Static {
        height: 1;
    }
    """

    def compose(self) -> ComposeResult:
        for key, label, _ in STATE_GROUPS:
            yield Static(label, id=f"count-{key}", classes="state-count")

    def show(self, counts: Mapping[State, int]) -> None:
        """Update every cell from :meth:`Store.count_by_state`."""
        for key, label, states in STATE_GROUPS:
            n = sum(counts.get(s, 0) for s in states)
            cell = self.query_one(f"#count-{key}", Static)
            cell.update(Text.assemble(f"{label}: ", (str(n), "bold" if n else "dim")))
            # Returned and ready-to-issue applications wait for the operator: stand out.
            cell.set_class(n > 0 and key in ("returned", "signed", "incomplete"), "attention")
