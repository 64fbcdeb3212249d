"""Health: ``/api/v1/health`` (liveness and the server clock, for counters) and ``/healthz``
(for a load balancer or supervisor: also opens the database). Both unauthenticated."""

from __future__ import annotations

import sqlite3

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from sync_server.api.deps import ContextDep
from sync_server.clock import stamp, utc_now
from sync_server.errors import Refusal
from sync_server.schemas import ErrorResponse, HealthResponse
from sync_server.storage.db import Database

router = APIRouter(tags=["health"])


@router.get("/api/v1/health", response_model=HealthResponse)
async def health() -> HealthResponse:
    """The server is up; ``server_time`` lets a counter check its clock before signing."""
    return HealthResponse(status="ok", server_time=stamp(utc_now()))


def _database_answers(db: Database) -> bool:
    try:
        with db.read() as conn:
            conn.execute("SELECT count(*) FROM applications").fetchone()
    except sqlite3.Error:
        return False
    return True


@router.get(
    "/healthz",
    response_model=HealthResponse,
    responses={503: {"model": ErrorResponse, "description": "server.unhealthy"}},
)
async def healthz(context: ContextDep) -> HealthResponse:
    """Ready to serve: the process answers and its database can be read (503
    ``server.unhealthy`` otherwise)."""
    if not await run_in_threadpool(_database_answers, context.db):
        raise Refusal("server.unhealthy", status=503)
    return HealthResponse(status="ok", server_time=stamp(utc_now()))
