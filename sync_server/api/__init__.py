"""The HTTP API (``/api/v1``): routers per resource, dependencies and error mapping."""
