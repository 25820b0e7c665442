"""The steady-state sweep of the pipeline: ``scamshare bench pipeline --sweep --json``.

    python bench/bench_pipeline_steady.py [--reports 5000] [--duration 5] [--seed 2026]
                                          [--bootstrap HOST:PORT --redis-url URL]

Starts an embedded broker and Redis unless both addresses are given, measures the burst capacity C of one
in-process worker with N reports, then offers reports evenly at 0.25 C, 0.5 C, ... (each round for --duration
seconds, in a fresh namespace) until p99 exceeds 200 ms, and prints one JSON object (``capacity_per_s``,
``rounds``, ``max_rate_p99_within_200ms``, ``half_capacity``, ``settings``: the fetch wait and batch window in
effect). The defaults here keep it to about a minute and a half. Never fails on speed.
"""

from __future__ import annotations

import sys

from pipeline.cli.bench import bench
from pipeline.cli.context import CliContext, configure_logging
from pipeline.config import Settings

DEFAULTS = ["--reports", "5000", "--duration", "5"]


def main() -> None:
    configure_logging(0)
    bench.main(
        ["pipeline", "--sweep", "--json", *DEFAULTS, *sys.argv[1:]],  # later options win
        prog_name="scamshare bench",
        obj=CliContext(settings=Settings()),
    )


if __name__ == "__main__":
    main()
