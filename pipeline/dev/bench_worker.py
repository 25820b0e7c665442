"""One worker process of the scale-out benchmark: ``python -m pipeline.dev.bench_worker STATUS_FILE``.

The same worker the pipeline benchmark runs in its own process (``build_worker`` + ``app.start()``), with
its settings from the ``SCAMSHARE_*`` environment, in a process of its own. Every 0.1 s it writes what it
owns to ``STATUS_FILE`` (JSON: pid, owned topic partitions, ready = no rebalance in progress and the flow
resumed), because the embedded broker (tansu) describes no group members: the benchmark learns from these
files when every worker of the group owns its share. Stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path

from pipeline.config import Settings
from pipeline.worker.app import build_worker
from pipeline.worker.inputs import registered_inputs


def write_status(path: Path, status: dict[str, object]) -> None:
    """Replace ``path`` atomically (a reader never sees half a file)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status))
    tmp.replace(path)


async def serve(status_file: Path) -> None:
    settings = Settings()
    worker = build_worker(settings, inputs=await registered_inputs(settings))
    app = worker.app
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await app.start()
        while not stop.is_set():
            owned = sorted([tp.topic, tp.partition] for tp in app.consumer.assignment())
            ready = bool(owned) and not app.rebalancing and app.flow_control.is_active()
            write_status(status_file, {"pid": os.getpid(), "owned": owned, "ready": ready})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)
    finally:
        await app.stop()
        await worker.close()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(serve(Path(sys.argv[1])))


if __name__ == "__main__":
    main()
