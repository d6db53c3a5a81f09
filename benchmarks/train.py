"""Training time and peak memory at 100k and 1M snapshot rows (synthetic feature matrix).

Each size runs in its own process so peak RSS is that run's. Prints one table.
Usage: python -m benchmarks.train [--sizes 100000 1000000]
"""

from __future__ import annotations

import argparse
import json
import time

from benchmarks._common import machine, run_child, synthetic_matrix


def child(n_rows: int) -> None:
    from churnseg.config import CalibrationConfig, Capacity, ModelConfig, SplitConfig
    from churnseg.model.train import calibrate_model, fit_model, split_by_as_of

    matrix = synthetic_matrix(n_rows)
    features = [c for c in matrix.columns if c not in ("account_id", "as_of", "churned")]
    started = time.perf_counter()
    split = split_by_as_of(matrix, SplitConfig(), label_days=30)
    cfg = ModelConfig(capacity_grid=[Capacity(num_leaves=15, max_depth=4, min_data_in_leaf=100)])
    model, table = fit_model(split.train, split.valid, features, cfg)
    fit_s = time.perf_counter() - started
    calibrate_model(model, split.calib, CalibrationConfig())
    total = time.perf_counter() - started
    print(json.dumps({"rows": len(matrix), "train_rows": len(split.train),
                      "features": len(features), "trees": int(table["trees"].iloc[0]),
                      "fit_s": fit_s, "fit_and_calibrate_s": total}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--child", type=int)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    print(f"machine: {machine()}")
    print(f"{'rows':>10} {'train rows':>11} {'feat':>5} {'trees':>6} {'fit s':>8} "
          f"{'fit+cal s':>10} {'wall s':>8} {'peak RSS MiB':>13}")
    for n in args.sizes:
        r = run_child("benchmarks.train", "--child", str(n))
        print(f"{r['rows']:>10,} {r['train_rows']:>11,} {r['features']:>5} {r['trees']:>6} "
              f"{r['fit_s']:>8.1f} {r['fit_and_calibrate_s']:>10.1f} {r['wall_s']:>8.1f} "
              f"{r['peak_rss_mib']:>13,.0f}")


if __name__ == "__main__":
    main()
