"""The requirement checklist of the chosen service (SOP step 2): each document present or not.

A requirement is met by any one of its documents ("buku nikah atau SPTJM"), so each
accepted document has its own check box under the requirement, and the requirement's line
says whether it is met. The list follows the service and the family: a WNA member adds the
KITAP, a recorded marriage the buku nikah.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Checkbox, Static

from field_client.widgets.keys import CHECKBOX_BINDINGS
from protocol.requirements import DOCUMENTS, Checklist, Requirement

__all__ = ["ChecklistPanel", "DocumentBox"]


def _single_label(req: Requirement) -> str:
    """A requirement one document meets: one box, named by the requirement."""
    return req.label + (f" ({req.condition})" if req.condition else "")


class DocumentBox(Checkbox):
    """A check box that reads without colour: ``✓`` when the document is here, blank when
    not (Textual's box shows an X either way, told apart by colour only)."""

    BINDINGS = CHECKBOX_BINDINGS

    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]  # noqa: N802 (Textual's name)
        return "✓" if self.value else " "


class ChecklistPanel(Vertical):
    """Requirements and their documents as check boxes; Space ticks the focused one, F7
    (on the form) attaches a scan for it."""

    DEFAULT_CSS = """
    ChecklistPanel {
        height: auto;
    }
    ChecklistPanel > .requirement {
        height: auto;
    }
    ChecklistPanel > Checkbox {
        padding: 0;
    }
    ChecklistPanel > .scans {
        height: auto;
    }
    """

    @dataclass
    class Changed(Message):
        """A document was marked present (``present``) or missing."""

        document: str
        present: bool

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 (Textual's name)
        super().__init__(id=id)
        self._shape: tuple[tuple[str, tuple[str, ...]], ...] | None = None
        self._checklist: Checklist | None = None

    async def show(
        self,
        checklist: Checklist | None,
        attached: Collection[str],
        scans: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """Show ``checklist`` with ``attached`` ticked (rebuilt only when it changed) and,
        under each document, the scans attached for it (``scans``: document -> lines)."""
        self._checklist = checklist
        shape = (
            () if checklist is None else tuple((r.code, r.any_of) for r in checklist.requirements)
        )
        if shape != self._shape:
            self._shape = shape
            await self.remove_children()
            if checklist is None:
                await self.mount(Static("Pilih jenis permohonan dulu.", classes="requirement"))
                return
            widgets: list[Static | DocumentBox] = []
            for req in checklist.requirements:
                single = len(req.any_of) == 1
                if not single:  # "one of": the requirement, then its documents
                    widgets.append(Static("", id=f"req-{req.code}", classes="requirement"))
                for code in req.any_of:
                    box = DocumentBox(
                        _single_label(req) if single else "  " + DOCUMENTS[code].display,
                        code in attached,
                        name=code,  # one document may meet two requirements: ids differ
                        id=f"doc-{req.code}-{code}",
                        compact=True,
                    )
                    widgets.append(box)
                    widgets.append(Static("", id=f"scans-{req.code}-{code}", classes="scans"))
            await self.mount_all(widgets)
        self._mark(attached, scans or {})

    def _mark(self, attached: Collection[str], scans: Mapping[str, Sequence[str]]) -> None:
        if self._checklist is None:
            return
        for req in self._checklist.requirements:
            if len(req.any_of) > 1:
                met = req.is_satisfied_by(attached)
                line = Text.assemble(
                    ("✓ " if met else "✗ ", "green" if met else "red"),
                    (f"{req.label}, salah satu:", "bold"),
                    (f" ({req.condition})" if req.condition else "", "dim"),
                )
                self.query_one(f"#req-{req.code}", Static).update(line)
            for code in req.any_of:
                lines = scans.get(code, ())
                shown = self.query_one(f"#scans-{req.code}-{code}", Static)
                shown.update(Text("\n".join(f"    ↳ {line}" for line in lines), style="cyan"))
                shown.display = bool(lines)
                box = self.query_one(f"#doc-{req.code}-{code}", Checkbox)
                if box.value != (code in attached):
                    with box.prevent(Checkbox.Changed):
                        box.value = code in attached

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        if event.checkbox.name:
            self.post_message(self.Changed(event.checkbox.name, event.value))
