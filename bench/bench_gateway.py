"""The gateway over loopback: ``scamshare bench gateway --json``.

    python bench/bench_gateway.py [--states 5000] [--sizes 100000,1000000] [--concurrency 8]
                                  [--bootstrap HOST:PORT --redis-url URL]

Starts an embedded broker and Redis unless both addresses are given, writes synthetic indicator states and a
TAXII collection straight into Redis, starts a real ``scamshare gateway`` process, and prints one JSON
object: ``lookup_single`` (at the given concurrency, and ``lookup_single_concurrency_1`` one at a time),
``lookup_batch_1000`` (p50/p90/p99/max ms, two at a time) and
``taxii_page_1000_at_<size>`` for each size. Never fails on speed.
"""

from __future__ import annotations

import sys

from pipeline.cli.bench import bench
from pipeline.cli.context import CliContext, configure_logging
from pipeline.config import Settings


def main() -> None:
    configure_logging(0)
    bench.main(
        ["gateway", "--json", *sys.argv[1:]],
        prog_name="scamshare bench",
        obj=CliContext(settings=Settings()),
    )


if __name__ == "__main__":
    main()
