"""The central server's FastAPI application: ``create_app(config)``.

HTTP contract (JSON; errors are RFC 9457 ``application/problem+json`` with a stable ``code``,
:mod:`sync_server.api.errors`):

=======  ==========================  ==========================================  ===========
method   path                        what                                        auth
=======  ==========================  ==========================================  ===========
GET      /api/v1/health              liveness and server time                    none
GET      /healthz                    ready: the database answers (503 if not)    none
POST     /api/v1/devices/enroll      enroll a counter with a one-time code       the code
POST     /api/v1/sync/push           store a batch of the device's change log    signed
GET      /api/v1/sync/pull           signed server events for the device         signed
POST     /api/v1/sync/scans/status   which scans the server lacks; PATCH …/{id}  signed
         PATCH /api/v1/sync/scans/   appends a piece (resumable)
         {id}
PUT      /api/v1/sync/documents/     the counter's X25519 key that its signed    signed
         box-key                     KKs are sealed for
GET      /api/v1/sync/documents/{id} the signed KK sealed for the owning         signed
                                     counter, in resumable pieces
POST     /api/v1/auth/login          staff login: bearer token                   password
POST     /api/v1/auth/logout         end the session                             staff token
GET      /api/v1/auth/me             the account behind the token                staff token
GET      /api/v1/queue               my work queue, oldest first                 verifikator,
                                                                                 kabid,
                                                                                 kepala_dinas
POST     /api/v1/applications/       verify / approve / sign / return /          verifikator,
         {id}/decisions              reject_tte, with the state the caller saw   kabid,
                                     (sign = the TTE, with the passphrase)       kepala_dinas
GET      /api/v1/applications/{id}/  DRAF KK, Biodata Penduduk, signed KK,       verifikator,
         draft-kk.pdf, biodata.pdf,  archive package (each read in the access    kabid,
         kk.pdf, archive.zip         log)                                        kepala_dinas
PUT      /api/v1/applications/{id}/  the KK number SIAK issued (new family)      verifikator,
         kk-number                                                               kabid
POST     /api/v1/tte/sign-batch      sign many approved KKs, one passphrase      kepala_dinas
POST     /api/v1/sync/scans/key/     the counter's scan key re-issued to one of   signed, +
         recover                     its operators (escrow + their password)     password
GET      /api/v1/verify/{token}      public status of a KK (its QR code's        none, rate-
         /verifikasi/{token} (HTML)  token): Aktif / Tidak aktif / not found     limited
POST     /api/v1/applications/       claim the current step (or assign it);      the step's
DELETE   {id}/claim                  release it                                  role, admin
GET      /api/v1/applications/       an approved application as JSON or CSV      verifikator,
         {id}/siak-export            for entry into SIAK                         kabid,
POST     …/{id}/siak-entry           record it was entered (SIAK reference)      kepala_dinas
GET      /api/v1/siak/pending        approved, not yet entered into SIAK         (same)
GET      /api/v1/admin/audit         access-log rows, newest first               admin
GET      /api/v1/admin/audit/verify  check the access-log chain                  admin
GET      /api/v1/whatsapp/webhook    WhatsApp Cloud API subscription check       verify token
POST     /api/v1/whatsapp/webhook    message statuses and applicants' messages   Meta's HMAC
=======  ==========================  ==========================================  ===========

The staff pages (``/staf/...``, HTML, session cookie) are installed by
:func:`sync_server.web.install_web`: the same services behind pages for browsers.

Device signatures never authenticate staff routes and staff tokens never authenticate
``/api/v1/sync`` (:mod:`sync_server.services.staff_auth`,
:func:`sync_server.api.deps.require_roles`).

Details: enrollment in :mod:`sync_server.services.enrollment`, signed requests in
:mod:`sync_server.services.request_auth`, push in :mod:`sync_server.services.ingest`, pull
in :mod:`sync_server.api.routes.sync` and :mod:`sync_server.services.feed`.
The lifespan opens the data directory (:func:`sync_server.context.open_context`), so an
uninitialised one fails at start-up, not on the first request, and runs the WhatsApp outbox
worker (:mod:`sync_server.services.whatsapp`) and the storage sweep (orphan blob files,
:mod:`sync_server.services.storage_sweep`) until shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from sync_server.api.errors import install_error_handlers
from sync_server.api.routes import (
    admin,
    applications,
    auth,
    claims,
    decisions,
    devices,
    documents,
    health,
    queue,
    scans,
    siak,
    sync,
    tte,
    verify,
    whatsapp,
)
from sync_server.config import ServerConfig
from sync_server.context import open_context
from sync_server.services import storage_sweep
from sync_server.services.whatsapp import build_worker
from sync_server.services.whatsapp.webhook import redact_access_log
from sync_server.web import install_web

__all__ = ["create_app"]


def create_app(config: ServerConfig | None = None) -> FastAPI:
    """A new application serving the data directory of ``config`` (default: from env)."""
    config = config if config is not None else ServerConfig()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.context = await run_in_threadpool(open_context, config)
        worker = build_worker(app.state.context)
        task = asyncio.create_task(worker.run(), name="whatsapp-outbox") if worker else None
        sweeper = asyncio.create_task(
            storage_sweep.run_periodically(app.state.context.db, config), name="storage-sweep"
        )
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            if worker is not None and task is not None:
                worker.stop()
                await task
                await worker.transport.aclose()
            app.state.context.db.close()

    app = FastAPI(
        title="KK Online: server pusat",
        summary="Sinkronisasi loket kecamatan Disdukcapil Kabupaten Musi Banyuasin",
        version="1",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    redact_access_log()
    app.include_router(health.router)
    app.include_router(devices.router)
    app.include_router(sync.router)
    app.include_router(auth.router)
    app.include_router(queue.router)
    app.include_router(decisions.router)
    app.include_router(applications.router)
    app.include_router(tte.router)
    app.include_router(documents.router)
    app.include_router(verify.router)
    app.include_router(scans.router)
    app.include_router(scans.chunks_router)
    app.include_router(scans.staff_router)
    app.include_router(scans.documents_router)
    app.include_router(whatsapp.router)
    app.include_router(claims.router)
    app.include_router(siak.router)
    app.include_router(admin.router)
    install_web(app)
    return app
