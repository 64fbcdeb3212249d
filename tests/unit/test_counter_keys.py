"""The F1 help lists keys in Indonesian, also for Textual's own widgets."""

from __future__ import annotations

import pytest
from textual.binding import Binding

from field_client.widgets.keys import (
    CHECKBOX_BINDINGS,
    LABELS,
    LIST_BINDINGS,
    TABLE_BINDINGS,
    TREE_BINDINGS,
    TextInput,
)


@pytest.mark.parametrize(
    "bindings",
    [TABLE_BINDINGS, LIST_BINDINGS, CHECKBOX_BINDINGS, TREE_BINDINGS, TextInput.BINDINGS],
    ids=["table", "list", "checkbox", "tree", "input"],
)
def test_every_key_of_the_wrapped_widgets_is_described_in_indonesian(bindings):
    for binding in bindings:
        assert isinstance(binding, Binding)
        assert binding.description in LABELS.values(), (binding.key, binding.description)


def test_a_widgets_own_binding_wins_over_the_inherited_one_for_the_same_key():
    actions = {b.key: b.action for b in TABLE_BINDINGS}
    assert actions["up"] == "cursor_up"  # DataTable's, not ScrollableContainer's scroll_up
    assert len(actions) == len(TABLE_BINDINGS)
