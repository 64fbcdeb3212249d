"""The counter's link to the central server: enrollment, push and pull.

* :func:`enroll_device` (:mod:`.enroll`): the one step that needs the network;
* :class:`SyncEngine` (:mod:`.engine`): the background task that empties the outbox, pulls
  the server's decisions, downloads signed KKs (:mod:`.downloads`) and uploads scans
  (:mod:`.uploads`), with its :class:`SyncStatus` for the screens (scan progress:
  :class:`TransferProgress`, :mod:`.progress`);
* :class:`SyncClient` (:mod:`.client`): signed HTTP requests (push, pull);
* errors (:mod:`.errors`): :class:`LinkDown`, :class:`ServerRefusal`,
  :class:`EnrollmentError`, all :class:`SyncError`.
"""

from field_client.sync.client import PullAnswer, PushAnswer, SyncClient
from field_client.sync.engine import Backoff, SyncEngine, SyncStatus
from field_client.sync.enroll import Enrollment, enroll_device
from field_client.sync.errors import EnrollmentError, LinkDown, ServerRefusal, SyncError
from field_client.sync.progress import TransferProgress

__all__ = [
    "Backoff",
    "Enrollment",
    "EnrollmentError",
    "LinkDown",
    "PullAnswer",
    "PushAnswer",
    "ServerRefusal",
    "SyncClient",
    "SyncEngine",
    "SyncError",
    "SyncStatus",
    "TransferProgress",
    "enroll_device",
]
