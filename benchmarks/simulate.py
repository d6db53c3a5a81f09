"""Time and peak memory of `churnseg simulate` for 10k and 100k accounts x 24 months.

Each size runs in its own subprocess so that peak RSS (`ru_maxrss`) belongs to that size alone;
output goes to a temporary folder that is deleted afterwards.

    python benchmarks/simulate.py                 # 10,000 and 100,000 accounts
    python benchmarks/simulate.py --sizes 2000    # a quick check
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(accounts: int, months: int, chunk: int) -> dict:
    """Run one simulation in this process; return timings, peak RSS, rows and bytes written."""
    from churnseg.config import SimulateConfig
    from pipelines import simulate

    cfg = SimulateConfig(accounts=accounts, months=months, chunk_accounts=chunk)
    with tempfile.TemporaryDirectory(prefix="churnseg-bench-") as tmp:
        started = time.perf_counter()
        summary = simulate.run(cfg, Path(tmp) / "sim")
        elapsed = time.perf_counter() - started
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "accounts": accounts,
        "months": months,
        "chunk_accounts": chunk,
        "seconds": round(elapsed, 1),
        "peak_rss_mib": round(peak_kib / 1024),
        "disk_mib": round(size / 2**20),
        "chunks": summary.chunks,
        "rows": summary.rows,
        "truth_rows": summary.truth_rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--chunk", type=int, default=10_000, help="accounts per chunk")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.sizes[0], args.months, args.chunk)))
        return
    results = []
    for size in args.sizes:
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                "--sizes",
                str(size),
                "--months",
                str(args.months),
                "--chunk",
                str(args.chunk),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(
            f"{r['accounts']:>8,} accounts x {r['months']} months: {r['seconds']:>7.1f} s, "
            f"peak RSS {r['peak_rss_mib']:>6,} MiB, {r['disk_mib']:>6,} MiB on disk, "
            f"{r['chunks']} chunk(s) of {r['chunk_accounts']:,}",
            flush=True,
        )
    tables = list(results[0]["rows"]) + [f"truth/{t}" for t in results[0]["truth_rows"]]
    print()
    print(f"{'rows':<24}" + "".join(f"{r['accounts']:>16,}" for r in results))
    for table in tables:
        key, group = (table[6:], "truth_rows") if table.startswith("truth/") else (table, "rows")
        print(f"{table:<24}" + "".join(f"{r[group][key]:>16,}" for r in results))
    events_per_account_year = [
        r["rows"]["events"] / r["accounts"] / (r["months"] / 12) for r in results
    ]
    print(f"{'events/account/year':<24}" + "".join(f"{v:>16,.0f}" for v in events_per_account_year))


if __name__ == "__main__":
    main()
