"""Assertions on the server's error answers (RFC 9457 problem details)."""

from __future__ import annotations

from typing import Any

import httpx

PROBLEM_MEMBERS = {"type", "title", "status", "detail", "code"}


def problem(response: httpx.Response, status: int | None = None, code: str | None = None) -> dict:
    """The problem+json body of an error answer, checked for shape, status and code."""
    if status is not None:
        assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response
    body: dict[str, Any] = response.json()
    assert PROBLEM_MEMBERS <= set(body), body
    assert body["status"] == response.status_code, body
    assert body["type"] == f"urn:kk-online:problem:{body['code']}", body
    assert body["detail"], body  # always an Indonesian text for people
    if code is not None:
        assert body["code"] == code, body
    return body
