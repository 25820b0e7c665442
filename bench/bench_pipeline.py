"""The pipeline against a plain confluent-kafka loop, in one run: ``scamshare bench pipeline --json``.

    python bench/bench_pipeline.py [--reports 10000] [--seed 2026] [--profile out.pstats]
                                   [--bootstrap HOST:PORT --redis-url URL]

Starts an embedded broker and Redis unless both addresses are given, runs one worker in this process over
N synthetic reports (12 producers, ~30% repeats, every kind) with fan-out to 3 subscribers, measures the
passthrough loop on the same messages, and prints one JSON object (``pipeline_per_s``,
``passthrough_per_s``, ``ratio``, ``latency_ms``, ``counts``, ``redis``). Never fails on speed.
"""

from __future__ import annotations

import sys

from pipeline.cli.bench import bench
from pipeline.cli.context import CliContext, configure_logging
from pipeline.config import Settings


def main() -> None:
    configure_logging(0)
    bench.main(
        ["pipeline", "--json", *sys.argv[1:]],
        prog_name="scamshare bench",
        obj=CliContext(settings=Settings()),
    )


if __name__ == "__main__":
    main()
