"""Scoring stages at 1M accounts: probability, value, segments, ranking + routing, the crisis
monitor, explanations.

Feature building is measured separately (benchmarks/features.py); here the feature matrix is
synthetic with the real column names. Explanations are reported as accounts/s for LightGBM's
native TreeSHAP and the shap package's TreeExplainer on the same sample (their ratio), for
`actionable` (accounts routed to an owner) and `all`.
Usage: python -m benchmarks.score [--accounts 1000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from benchmarks._common import machine, run_child, synthetic_matrix


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(n_accounts: int, explain_sample: int) -> None:
    import shap

    from churnseg import explain, monitor
    from churnseg.config import Capacity, ModelConfig, ScoreConfig, SplitConfig
    from churnseg.model.train import calibrate_model, fit_model, split_by_as_of
    from churnseg.scoring import prioritize as pr
    from churnseg.scoring.segments import assign_segments
    from churnseg.scoring.value import account_value

    train = synthetic_matrix(240_000, seed=1)
    features = [c for c in train.columns if c not in ("account_id", "as_of", "churned")]
    split = split_by_as_of(train, SplitConfig(), label_days=30)
    cfg_m = ModelConfig(capacity_grid=[Capacity(num_leaves=31, max_depth=6, min_data_in_leaf=50)],
                        early_stopping_rounds=300, max_rounds=300, learning_rate=0.02)
    model, _ = fit_model(split.train, split.valid, features, cfg_m)
    from churnseg.config import CalibrationConfig

    model = calibrate_model(model, split.calib, CalibrationConfig())
    X = synthetic_matrix(n_accounts, n_dates=1, seed=2)
    cfg = ScoreConfig()
    times: dict[str, float] = {}
    mem: dict[str, float] = {}

    def stage(name, fn):
        t = time.perf_counter()
        out = fn()
        times[name] = time.perf_counter() - t
        mem[name] = _rss_mib()
        return out

    p = stage("probability", lambda: model.predict_proba(X))
    value = stage("value", lambda: account_value(X, p, 90, cfg.value))
    seg = stage("segments", lambda: assign_segments(X, p, value["arr"].to_numpy(),
                                                    value["ltv"].to_numpy(), cfg.segments))

    def ranking():
        score = pr.priority_score(value["expected_arr_at_risk"].to_numpy(),
                                  X["days_to_renewal"].to_numpy(), cfg.priority)
        order = pr.rank_order(score, X["account_id"])
        ranked = seg.iloc[order]
        return ranked.assign(**pr.route_owners(ranked, cfg.priority))

    ranked = stage("ranking_routing", ranking)
    before = synthetic_matrix(3 * n_accounts, n_dates=3, seed=3)  # three earlier as_of dates

    def crisis_monitor():
        now = monitor.cohort_frame(X, p, cfg.segments, cfg.monitor)
        then = monitor.cohort_frame(before, model.predict_proba(before), cfg.segments,
                                    cfg.monitor)
        return monitor.cohort_alerts(now, then, 3, cfg.monitor)

    alerts = stage("crisis_monitor", crisis_monitor)
    actionable = int((ranked["owner"] != pr.NO_OWNER).sum())
    sample = X.sample(explain_sample, random_state=0)
    t = time.perf_counter()
    explain.shap_contributions(model, sample, chunk_size=2000)
    native_rate = explain_sample / (time.perf_counter() - t)
    mem["explain_native"] = _rss_mib()
    small = sample.head(max(explain_sample // 10, 200))
    t = time.perf_counter()
    shap.TreeExplainer(model.booster).shap_values(model.prepare(small))
    shap_rate = len(small) / (time.perf_counter() - t)
    print(json.dumps({
        "accounts": n_accounts, "shape": model.shape, "times": times, "mem": mem,
        "core_total_s": sum(v for k, v in times.items() if k != "crisis_monitor"),
        "actionable": actionable, "alerts": len(alerts),
        "native_rate": native_rate, "shap_rate": shap_rate,
    }))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--explain-sample", type=int, default=20_000)
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args.accounts, args.explain_sample)
        return
    r = run_child("benchmarks.score", "--child", "--accounts", str(args.accounts),
                  "--explain-sample", str(args.explain_sample))
    s = r["shape"]
    print(f"machine: {machine()}")
    print(f"model: {s['trees']} trees, max {s['max_leaves']} leaves, max depth {s['max_depth']}")
    print(f"{'stage':<18} {'seconds':>8} {'peak RSS MiB':>13}")
    for name, secs in r["times"].items():
        print(f"{name:<18} {secs:>8.1f} {r['mem'][name]:>13,.0f}")
    print(f"{'core total':<18} {r['core_total_s']:>8.1f}   (probability..ranking; target < 120 s "
          f"for {r['accounts']:,} accounts)")
    print(f"crisis monitor: {r['accounts']:,} accounts now vs 3 x {r['accounts']:,} before "
          f"(cohort frames incl. their probabilities, alerts): "
          f"{r['times']['crisis_monitor']:.1f} s, {r['alerts']} alerts on unchanged data")
    nat, shp = r["native_rate"], r["shap_rate"]
    print(f"explanations: native TreeSHAP {nat:,.0f} accounts/s, shap TreeExplainer {shp:,.0f} "
          f"accounts/s (native/shap = {nat / shp:.2f}x)")
    for label, n in (("actionable", r["actionable"]), ("all", r["accounts"])):
        print(f"  explain={label:<10} {n:>9,} accounts -> native {n / nat:>7.1f} s, "
              f"shap {n / shp:>7.1f} s")
    print(f"child peak RSS {r['peak_rss_mib']:,.0f} MiB, wall {r['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
