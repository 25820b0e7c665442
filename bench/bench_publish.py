"""`scamshare publish --dry-run` over a large phone/domain CSV: rows per second and peak memory.

    python bench/bench_publish.py [--rows 200000] [--workers 0] [--emit-stix]

Writes a CSV of ``--rows`` rows (half Thai national mobile numbers with a country column, half fresh
domains: every value new, so no cache helps), runs the real CLI on it in a child process and prints one
JSON object:

- ``rows_per_s``: rows divided by the wall time of the whole command (start-up, the check pass, reading,
  canonicalising; with ``--emit-stix`` also building and writing the bundle);
- ``max_rss_mb``: the child's peak resident memory (``getrusage``), which must stay flat in the file size;
- ``help_s`` / ``normalize_domain_s`` / ``normalize_phone_s``: start-up of ``scamshare --help`` and of one
  ``normalize`` (the phone one loads libphonenumber's geocoder data for its ``region`` fact).

Compare ratios measured in one run, never absolute numbers across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCAMSHARE = str(Path(sys.executable).with_name("scamshare"))


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with path.open("w") as out:
        out.write("type,value,country\n")
        for n in range(rows):
            if n % 2:
                out.write(f"phone,08{rng.choice('1256789')}{rng.randrange(10**7):07d},TH\n")
            else:
                out.write(f"domain,login-{rng.randrange(10**12)}-verify.com,\n")


def timed(argv: list[str]) -> tuple[float, float, subprocess.CompletedProcess[bytes]]:
    """(wall seconds, peak RSS in MB of this child, the result)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, check=False)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=int(os.environ.get("SCAMSHARE_BENCH_ROWS", "200000")))
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--emit-stix", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scamshare-bench-") as tmp:
        csv_path = Path(tmp) / "mix.csv"
        write_csv(csv_path, args.rows)
        help_s, _, _ = timed([SCAMSHARE, "--help"])
        domain_s, _, _ = timed([SCAMSHARE, "normalize", "domain", "example.com"])
        phone_s, _, _ = timed([SCAMSHARE, "normalize", "phone", "+66812345678"])
        argv = [SCAMSHARE, "publish", str(csv_path), "--producer", "bench", "--dry-run", "--json"]
        argv += ["--workers", str(args.workers)]
        if args.emit_stix:
            argv += ["--emit-stix", str(Path(tmp) / "out.json")]
        wall, rss, done = timed(argv)
        summary = json.loads(done.stdout) if done.stdout else {}
        print(
            json.dumps(
                {
                    "bench": "publish",
                    "rows": args.rows,
                    "workers": args.workers or "auto",
                    "emit_stix": args.emit_stix,
                    "exit_code": done.returncode,
                    "reports": summary.get("reports"),
                    "rejected": summary.get("rejected_total"),
                    "seconds": round(wall, 2),
                    "rows_per_s": round(args.rows / wall),
                    "max_rss_mb": round(rss, 1),
                    "help_s": round(help_s, 3),
                    "normalize_domain_s": round(domain_s, 3),
                    "normalize_phone_s": round(phone_s, 3),
                    "cpus": os.cpu_count(),
                }
            )
        )


if __name__ == "__main__":
    main()
