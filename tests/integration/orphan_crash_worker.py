"""Attach one scan and die between writing its blob and committing its row.

Run as ``python orphan_crash_worker.py DB KEYFILE PASSWORD APPLICATION_ID``. The store must be
enrolled, know the server's scan key, hold the application and an operator
:data:`~tests.integration.counter_crash_worker.OPERATOR_ID` with ``PASSWORD``. The worker
attaches a fresh PDF the way the counter app does (:meth:`Counter.attach_scan`, one
transaction); the blob folder's ``write`` is wrapped so that, once the blob file is durably
in place, the worker prints ``written <scan id>`` and waits to be killed, inside the open
transaction. The test then SIGKILLs it: the state a power cut at that moment leaves.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from field_client import scans
from field_client.actions import Counter
from field_client.store import Store
from signing.keys import load_private_key
from tests.integration.counter_crash_worker import OPERATOR_ID

_write = scans.ScanFolder.write


def _write_then_wait(self: scans.ScanFolder, scan_id: str, blob: bytes) -> None:
    _write(self, scan_id, blob)
    print("written", scan_id, flush=True)
    while True:  # the row is never committed: SIGKILL comes first
        time.sleep(60)


def main() -> None:
    db, key_file, password, application_id = sys.argv[1:5]
    store = Store.open(Path(db))
    key = store.unlock_scans(OPERATOR_ID, password, at="2026-11-25T01:00:00.000Z")
    scans.ScanFolder.write = _write_then_wait  # type: ignore[method-assign]
    counter = Counter(store, load_private_key(Path(key_file)))
    content = b"%PDF-1.7\n" + os.urandom(20_000)
    counter.attach_scan(
        application_id, "kk_lama", content, operator_id=OPERATOR_ID, key=key, recompress=False
    )
    print("committed", flush=True)  # never reached


if __name__ == "__main__":
    main()
