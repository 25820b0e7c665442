"""Scale-out of the pipeline: ``scamshare bench pipeline --workers 2 --json``.

    python bench/bench_pipeline_scale.py [--workers 2] [--reports 10000] [--seed 2026]
                                         [--bootstrap HOST:PORT --redis-url URL]

Starts an embedded broker and Redis unless both addresses are given, sends the same burst of N synthetic
reports through 1 and then N worker processes in one consumer group (4 partitions), measures the passthrough
loop for each, and prints one JSON object (``pipeline_per_s``, ``one_worker``, ``speedup``, ``cpu_count``,
``limits``: the CPU seconds of every process over the burst). Never fails on speed.
"""

from __future__ import annotations

import sys

from pipeline.cli.bench import bench
from pipeline.cli.context import CliContext, configure_logging
from pipeline.config import Settings


def main() -> None:
    configure_logging(0)
    bench.main(
        ["pipeline", "--workers", "2", "--json", *sys.argv[1:]],  # a later --workers wins
        prog_name="scamshare bench",
        obj=CliContext(settings=Settings()),
    )


if __name__ == "__main__":
    main()
