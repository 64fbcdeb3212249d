"""WhatsApp, the applicant's channel (design.md §6, SOP steps 1, 2 and 7).

* :mod:`.texts`: the Indonesian texts and approved templates of ``templates/whatsapp/``;
* :mod:`.outbox`: enqueue on workflow moves, the status rules, what the counter is told;
* :mod:`.worker`: the background task of the server's lifespan that sends due messages;
* :mod:`.transport`: the interface; :mod:`.console` writes files (``make run``'s default),
  :mod:`.cloud_api` sends through the WhatsApp Business Cloud API (:mod:`.codes`: its errors);
* :mod:`.documents`: where the signed KK PDF is found;
* :mod:`.webhook`: the Cloud API's webhook; :mod:`.inbound` and :mod:`.scan_store`: the
  documents applicants send, fetched, checked and stored encrypted in an inbox.

:func:`build_worker` assembles the worker the configuration asks for.
"""

from __future__ import annotations

from sync_server.config import ServerConfig
from sync_server.context import ServerContext
from sync_server.services.whatsapp.cloud_api import CloudApiTransport
from sync_server.services.whatsapp.console import CONSOLE_DIR, ConsoleTransport
from sync_server.services.whatsapp.documents import StoredKKDocuments
from sync_server.services.whatsapp.inbound import InboundFetcher
from sync_server.services.whatsapp.scan_store import EncryptedScanStore
from sync_server.services.whatsapp.transport import Transport
from sync_server.services.whatsapp.worker import Chore, OutboxWorker, WorkerSettings

__all__ = ["build_transport", "build_worker"]


def build_transport(config: ServerConfig) -> Transport | None:
    """The transport ``config.whatsapp_transport`` names; ``None`` for ``off``."""
    if config.whatsapp_transport == "console":
        return ConsoleTransport(config.data_dir / CONSOLE_DIR)
    if config.whatsapp_transport == "cloud_api":
        return CloudApiTransport(
            base_url=config.whatsapp_api_base_url,
            version=config.whatsapp_api_version,
            phone_number_id=config.whatsapp_phone_number_id,
            access_token=config.whatsapp_access_token,
            timeout=config.whatsapp_timeout_seconds,
        )
    return None


def build_worker(context: ServerContext) -> OutboxWorker | None:
    """The outbox worker for the server's configuration; ``None`` when sending is off."""
    config, db = context.config, context.db
    transport = build_transport(config)
    if transport is None:
        return None
    settings = WorkerSettings(
        poll_seconds=config.whatsapp_poll_seconds,
        max_attempts=config.whatsapp_max_attempts,
        backoff_seconds=config.whatsapp_backoff_seconds,
        backoff_max_seconds=config.whatsapp_backoff_max_seconds,
    )
    documents = StoredKKDocuments(db, config.documents_dir)
    chores: tuple[Chore, ...] = ()
    if isinstance(transport, CloudApiTransport):  # only the Cloud API receives documents
        scans = EncryptedScanStore(context.blobs, context.box_key)
        limit = config.whatsapp_inbound_max_bytes
        chores = (InboundFetcher(db, transport, scans, settings, max_bytes=limit),)
    return OutboxWorker(db, transport, documents, settings, chores=chores)
