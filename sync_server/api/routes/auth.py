"""``/api/v1/auth``: staff login, logout and "who am I" (:mod:`sync_server.services.staff_auth`).

Login answers a bearer token; every other staff route takes it as
``Authorization: Bearer <token>``. Operators log in at their counter, not here.
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from starlette.concurrency import run_in_threadpool

from sync_server.api.deps import ClientIpDep, ContextDep, StaffUser
from sync_server.clock import utc_now
from sync_server.schemas import ErrorResponse, LoginRequest, LoginResponse, MeResponse
from sync_server.services import staff_auth

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

_TOKEN_ERRORS = {
    401: {
        "model": ErrorResponse,
        "description": "auth.token_missing, auth.token_invalid, auth.token_expired, "
        "auth.account_disabled",
    }
}


@router.post(
    "/login",
    response_model=LoginResponse,
    responses={
        400: {"model": ErrorResponse, "description": "request.invalid_body"},
        401: {"model": ErrorResponse, "description": "auth.invalid_credentials"},
        403: {
            "model": ErrorResponse,
            "description": "auth.operator_at_counter, auth.account_disabled",
        },
        429: {"model": ErrorResponse, "description": "auth.throttled (Retry-After)"},
    },
)
async def login(body: LoginRequest, context: ContextDep, ip: ClientIpDep) -> LoginResponse:
    """Log a staff member in; failed attempts of one username from one address wait
    1, 2, 4 ... 60 seconds (never a lockout)."""
    result = await run_in_threadpool(
        lambda: staff_auth.login(
            context.db, username=body.username, password=body.password, client_ip=ip, now=utc_now()
        )
    )
    return LoginResponse(
        token=result.token,
        expires_at=result.expires_at,
        role=result.user.role.value,
        full_name=result.user.full_name,
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=_TOKEN_ERRORS)
async def logout(session: StaffUser, context: ContextDep) -> Response:
    """End this session; the token stops working at once."""
    await run_in_threadpool(staff_auth.logout, context.db, session)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=MeResponse, responses=_TOKEN_ERRORS)
async def me(session: StaffUser) -> MeResponse:
    """The account behind the token, and when the session ends if left idle."""
    user = session.user
    return MeResponse(
        user_id=user.user_id,
        username=user.username,
        full_name=user.full_name,
        role=user.role.value,
        role_label=user.role.label,
        expires_at=session.expires_at,
    )
