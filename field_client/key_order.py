"""Keys handled one after the other, each where the focus is once the one before is done.

Textual hands each key to the widget focused at the moment the app reads the key, and what
a key sets off takes a few more trips through the message queues: Enter in a field bubbles
up to the bindings, the field posts ``Submitted``, the screen's handler moves the focus, and
``Widget.focus()`` itself is a callback queued on the app. Keys read in one go (a paste in a
terminal without bracketed paste, a barcode scanner, a KTP reader, a fast typist on a busy
PC) are all forwarded before any of that happens, so the characters after Enter or Tab land
in the field being left: the password ends up in the user name.

:class:`OrderedKeysApp` holds a key back while the app is still busy with the previous one
(any message queue of the app, its screens or widgets not yet done, or callbacks waiting for
the next refresh) and hands it on as soon as everything settled, in the order typed. A key
that finds the app idle goes through at once, so typing at human speed waits for nothing.
A key is never held longer than :data:`MAX_HOLD_S`: a handler that never finishes must not
swallow the keyboard.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any, Generic, TypeVar

from textual import events
from textual.app import App
from textual.message import Message
from textual.message_pump import MessagePump

__all__ = ["MAX_HOLD_S", "OrderedKeysApp"]

log = logging.getLogger("field_client.app")

MAX_HOLD_S = 2.0
"""The longest a key waits for the previous one to settle before it is handed on anyway."""

_POLL_S = 0.002
"""How often a held key checks whether the app settled (an asyncio timer, not a busy loop)."""

ReturnType = TypeVar("ReturnType")


class ReleaseHeldKeys(Message, bubble=False):
    """Ask the app (in its own task) to hand on the keys it holds, if it settled."""


def _queued(pump: MessagePump) -> bool:
    """True while ``pump`` has a message waiting: in its queue, or taken out of it already
    (Textual peeks at the next message, to merge repeats, by moving it to
    ``_pending_message``) or a callback to run after the current message."""
    queue: Any = pump.__dict__.get("_message_queue")  # created lazily: absent means unused
    waiting = queue is not None and queue.qsize() > 0
    return waiting or pump._pending_message is not None or bool(pump._next_callbacks)


def _busy(pump: MessagePump) -> bool:
    """True while ``pump`` has a message waiting (:func:`_queued`) or is handling one.

    Textual's queue keeps no count of the message being handled, so "handling one" is read
    from the queue's ready event: a pump with nothing to do waits on it in ``Queue.get``,
    a pump inside a handler does not. (Textual internals: when they change, the fast-input
    tests fail; until then a pump that cannot be read counts as idle, as before.)
    """
    if _queued(pump):
        return True
    queue: Any = pump.__dict__.get("_message_queue")
    task = pump._task
    if queue is None or task is None or task.done():
        return False
    waiters = getattr(getattr(queue, "ready_event", None), "_waiters", None)
    return waiters is not None and not waiters


class OrderedKeysApp(App[ReturnType], Generic[ReturnType]):
    """An :class:`~textual.app.App` that hands on keys in order, once the last one settled."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held_keys: deque[events.Key] = deque()
        self._held_since = 0.0
        self._release_pending = False

    def _settled(self) -> bool:
        """Nothing is left of what earlier keys set off (called from the app's own task,
        where the message being handled is no longer in the app's queue)."""
        if _queued(self):
            return False
        for screen in self.screen_stack:
            if _busy(screen) or screen._callbacks:
                return False
        return not any(_busy(node) for node in list(self._registry) if node is not self)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            if self._held_keys or not self._settled():
                if not self._held_keys:
                    self._held_since = time.monotonic()
                self._held_keys.append(event)
                self._schedule_release()
                return
        await super().on_event(event)

    async def _on_release_held_keys(self, message: ReleaseHeldKeys) -> None:
        self._release_pending = False
        while self._held_keys:
            overdue = time.monotonic() - self._held_since > MAX_HOLD_S
            if not (overdue or self._settled()):
                self._schedule_release()
                return
            if overdue:
                busy = [type(n).__name__ for n in list(self._registry) if _busy(n)][:5]
                log.warning("key handed on after %.1f s, still busy: %s", MAX_HOLD_S, busy)
            key = self._held_keys.popleft()
            self._held_since = time.monotonic()
            await super().on_event(key)

    def _schedule_release(self) -> None:
        if self._release_pending:
            return
        self._release_pending = True
        # A timer on the loop, not a message to ourselves: the other queues get to run.
        asyncio.get_running_loop().call_later(_POLL_S, self.post_message, ReleaseHeldKeys())
