"""Throughput of the fast STIX builders (plain dicts + orjson) next to python-stix2, in one run.

    python bench/bench_stix_build.py [--seconds 1.0]

Prints one JSON object. Compare ratios within one run, never absolute numbers across machines.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pipeline.canon import simple
from pipeline.stix.build import _based_on_id, dumps, indicator_bundle, report_bundle
from pipeline.stix.pattern import parse_simple_pattern
from pipeline.stix.tlp import TLP


def rate(fn: Callable[[int], object], seconds: float) -> float:
    """Calls per second of ``fn(i)`` over about ``seconds``."""
    n, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            fn(n)
            n += 1
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    values = [simple("phone", f"+1415555{i:04d}") for i in range(1000)]

    def report(i: int) -> bytes:
        return dumps(
            report_bundle(
                values[i % 1000],
                producer="acme-telco",
                now=now,
                tlp=TLP.AMBER,
                confidence=80,
                scam_types=("investment",),
                country_hint="US",
                raw_value="(415) 555-0000",
            )
        )

    def published(i: int) -> bytes:
        return dumps(
            indicator_bundle(
                values[i % 1000],
                version=3,
                created=now,
                modified=now,
                valid_from=now,
                valid_until=now + timedelta(days=90),
                revoked=False,
                confidence=70,
                tlp=TLP.GREEN,
                scam_types=("investment",),
                score=64,
                reporter_count=3,
                report_count=5,
                sightings={"true_positive": 2, "false_positive": 0, "blocked": 9},
                first_reported=now,
                last_reported=now,
                enrichment={"country": "US", "carrier": "example"},
            )
        )

    def report_cold(i: int) -> bytes:
        # Every value new to this process: the relationship-id cache never hits.
        _based_on_id.cache_clear()
        return report(i)

    patterns = [v.pattern for v in values]

    def parse(i: int) -> object:
        return parse_simple_pattern(patterns[i % 1000])

    import stix2  # noqa: PLC0415 - only for the comparison line

    sample = report(0)
    indicator_json = json.dumps(json.loads(sample)["objects"][0])

    def stix2_parse(i: int) -> object:
        return stix2.parse(indicator_json, allow_custom=True)

    result = {
        "report_bundle+dumps_per_s": round(rate(report, args.seconds)),
        "report_bundle+dumps_uncached_relationship_id_per_s": round(rate(report_cold, args.seconds)),
        "indicator_bundle+dumps_per_s": round(rate(published, args.seconds)),
        "parse_simple_pattern_per_s": round(rate(parse, args.seconds)),
        "stix2.parse(indicator)_per_s": round(rate(stix2_parse, args.seconds / 2)),
        "report_bundle_bytes": len(sample),
        "indicator_bundle_bytes": len(published(0)),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
