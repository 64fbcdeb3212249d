"""One way to page every list of the API: ``?limit=&offset=``, answered as
``{"items": [...], "total", "limit", "offset"}`` (:class:`sync_server.schemas.Page`).

``limit`` is 1 to :data:`MAX_LIMIT` (default :data:`DEFAULT_LIMIT`), ``offset`` 0 to
:data:`MAX_OFFSET`; anything else is 400 ``request.invalid_body``. ``total`` counts every
item of the list, so a client knows how many pages there are.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "MAX_OFFSET", "Limit", "Offset"]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_OFFSET = 1_000_000

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")]
