"""The OpenAPI description the real server publishes: every request body and every
successful JSON answer carries examples, and every example is valid for its model.

FastAPI drops ``null`` members from the published document, examples included: an example
leaves out an optional member rather than showing it as ``null``."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from sync_server import schemas

WITHOUT_EXAMPLES = {
    # The whole stored application and its SIAK record: field by field in the schema.
    "ApplicationDetail",
    "SiakExport",
    # Device-only answers, described field by field in docs/protocol.md.
    "PushResponse",
    "PullResponse",
}


@pytest.fixture
def openapi(client) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200, response.text
    return response.json()


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The component a schema names (directly, or as the non-null choice of an optional
    body) and its schema."""
    refs = [s["$ref"] for s in schema.get("anyOf", ()) if "$ref" in s]
    ref = schema.get("$ref") or (refs[0] if len(refs) == 1 else None)
    if ref is None:
        return None, schema
    name = ref.rsplit("/", 1)[-1]
    return name, spec["components"]["schemas"][name]


def _operations(spec: dict[str, Any]):
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def _model(name: str) -> type[BaseModel]:
    model = getattr(schemas, name, None)
    assert isinstance(model, type) and issubclass(model, BaseModel), name
    return model


def test_request_bodies_have_valid_examples(openapi):
    seen = 0
    for label, operation in _operations(openapi):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is None:
            continue
        name, schema = _resolve(openapi, body["schema"])
        examples = schema.get("examples") or body.get("examples")
        assert examples, f"{label}: request body without examples"
        name = name or schema.get("title")
        for example in examples:
            _model(name).model_validate(example)
        seen += 1
    assert seen >= 5


def test_successful_answers_have_valid_examples(openapi, client):
    for label, operation in _operations(openapi):
        for status, response in operation["responses"].items():
            content = response.get("content", {}).get("application/json")
            if not status.startswith("2") or content is None:
                continue
            name, schema = _resolve(openapi, content["schema"])
            if name is None or name in WITHOUT_EXAMPLES:
                continue
            examples = schema.get("examples")
            assert examples, f"{label}: {name} without examples"
            for example in examples:
                _model(name).model_validate(example)
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
