"""``/api/v1/health``: liveness and the server clock, unauthenticated."""

from __future__ import annotations

from fastapi import APIRouter

from sync_server.clock import stamp, utc_now
from sync_server.schemas import HealthResponse

router = APIRouter(prefix="/api/v1", tags=["health"])


@router.get("/health", response_model=HealthResponse)
async def health() -> HealthResponse:
    """The server is up; ``server_time`` lets a counter check its clock before signing."""
    return HealthResponse(status="ok", server_time=stamp(utc_now()))
