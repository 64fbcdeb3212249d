"""A pick-list (Textual's Select) where Enter never "chooses" the blank ``(pilih)`` entry
while nothing is chosen.

Enter opens the list on the current value, so Enter again keeps it. On a list with no value
yet the highlight starts on ``(pilih)``, and Textual would take a second Enter as choosing
it: the list closes with nothing chosen, as if the key was lost. Here that Enter moves the
highlight to the first real entry instead and the list stays open: the operator sees what
there is to choose, and a deliberate Enter (or typing to search) picks one. Moving back to
``(pilih)`` and pressing Enter still clears a value chosen before.
"""

from __future__ import annotations

from typing import TypeVar

from textual import on
from textual.widgets import Select
from textual.widgets._select import SelectOverlay

__all__ = ["PickList"]

T = TypeVar("T")


class PickList(Select[T]):
    """A compact pick-list with the ``(pilih)`` prompt (see the module doc)."""

    @on(SelectOverlay.UpdateSelection)
    def _not_the_blank(self, event: SelectOverlay.UpdateSelection) -> None:
        if self._options[event.option_index][1] is not Select.NULL or not self.is_blank():
            return  # Select's own handler takes it
        event.stop()
        event.prevent_default()
        if len(self._options) > 1:
            self.query_one(SelectOverlay).select(1)
