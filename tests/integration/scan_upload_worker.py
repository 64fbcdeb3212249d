"""A counter's sync engine in its own process, for the SIGKILL test of scan uploads.

Usage: ``python -m tests.integration.scan_upload_worker DATA_DIR SERVER_URL CHUNK_BYTES``.
Prints ``started`` and runs sync rounds until killed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from field_client.config import CounterConfig
from field_client.sync import SyncEngine


async def main(data_dir: Path, server_url: str, chunk: int) -> None:
    config = CounterConfig(
        data_dir=data_dir,
        server_url=server_url,
        trust_env=False,
        scan_chunk_min_bytes=chunk,
        scan_chunk_max_bytes=chunk,
        backoff_base_s=0.05,
        backoff_cap_s=0.2,
    )
    async with SyncEngine(config) as engine:
        print("started", flush=True)
        while True:
            await engine.run_once()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
