"""``bench_pipeline`` with the state on a Redis Cluster: ``scamshare bench pipeline --redis-cluster 3``.

    python bench/bench_pipeline_cluster.py [--reports 10000] [--redis-cluster 3]

Starts an embedded broker and a 3-primary Redis Cluster on loopback (three ``redis-server
--cluster-enabled yes``), runs the same burst as ``bench_pipeline.py`` and prints one JSON object with
``redis_cluster: true``. Compare its ``pipeline_per_s`` with ``bench_pipeline.py``'s in the same hour (one
Redis); on one machine the primaries share its cores with the worker. Never fails on speed.
"""

from __future__ import annotations

import sys

from pipeline.cli.bench import bench
from pipeline.cli.context import CliContext, configure_logging
from pipeline.config import Settings


def main() -> None:
    configure_logging(0)
    args = sys.argv[1:]
    if not any(a.startswith("--redis-cluster") for a in args):
        args = ["--redis-cluster", "3", *args]
    bench.main(
        ["pipeline", "--json", *args], prog_name="scamshare bench", obj=CliContext(settings=Settings())
    )


if __name__ == "__main__":
    main()
