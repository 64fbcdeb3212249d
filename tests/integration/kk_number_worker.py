"""Allocate demo KK numbers from a server database: one of the processes of the
allocation concurrency test (``tests/integration/test_kk_numbers.py``).

Run as ``python kk_number_worker.py DB COUNT NAME``; prints the allocated numbers as one JSON
list. Each allocation is its own write transaction, like one signature in a batch.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from sync_server.services.kk_numbers import DemoAllocator
from sync_server.storage.db import Database

KECAMATAN = "160601"
MOMENT = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # 10:00 WIB: DDMMYY 251126


def allocate(db: Database, count: int, name: str) -> list[str]:
    """``count`` numbers for Sekayu on :data:`MOMENT`, one transaction each."""
    allocator = DemoAllocator()
    numbers = []
    for i in range(count):
        with db.write() as conn:
            numbers.append(
                allocator.new_number(
                    conn, application_id=f"{name}-{i}", kecamatan=KECAMATAN, now=MOMENT
                )
            )
    return numbers


if __name__ == "__main__":
    path, count, name = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    # Other processes hold the write lock in turn: wait long, never fail under load.
    print(json.dumps(allocate(Database(path, busy_timeout_ms=60_000), count, name)))
