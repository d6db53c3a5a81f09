"""Shared helpers for benchmarks: peak memory of a child process, a synthetic feature matrix."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}"


def run_child(module: str, *args: str) -> dict:
    """Run `python -m module args` and return its last JSON line plus the child's peak RSS."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                         check=True)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # ru_maxrss of children is the max over all children so far; children run one at a time
    # and the biggest run last in each benchmark, so this is the child's own peak or an upper bound
    result.update(wall_s=wall, peak_rss_mib=max(peak, before) / 1024)
    return result


def synthetic_matrix(n_rows: int, n_dates: int = 12, seed: int = 0) -> pd.DataFrame:
    """A feature matrix with realistic names and a known churn signal (for speed, not quality)."""
    rng = np.random.default_rng(seed)
    n_acc = max(n_rows // n_dates, 1)
    dates = pd.date_range("2024-01-01", periods=n_dates, freq="MS")
    n = n_acc * n_dates
    engagement = rng.normal(size=n)
    failed = rng.poisson(0.3, size=n).astype(float)
    df = pd.DataFrame({
        "account_id": np.tile(np.char.add("A", np.arange(n_acc).astype(str)), n_dates),
        "as_of": np.repeat(dates, n_acc),
        "logins_7d": rng.poisson(np.exp(1 + 0.5 * engagement)),
        "logins_30d": rng.poisson(np.exp(2.5 + 0.5 * engagement)),
        "logins_90d": rng.poisson(np.exp(3.5 + 0.5 * engagement)),
        "active_days_30d": rng.integers(0, 31, size=n),
        "logins_trend_30d": rng.normal(0, 0.4, size=n),
        "days_since_last_activity": rng.exponential(5, size=n),
        "distinct_features_used_30d": rng.integers(0, 7, size=n),
        "failed_payments_30d": failed,
        "failed_payments_90d": failed + rng.poisson(0.3, size=n),
        "consecutive_failed_payments": np.minimum(failed, 3),
        "in_dunning": (failed > 1).astype(float),
        "tickets_7d": rng.poisson(0.1, size=n), "tickets_30d": rng.poisson(0.5, size=n),
        "tickets_90d": rng.poisson(1.2, size=n), "open_tickets": rng.poisson(0.2, size=n),
        "mean_csat_90d": rng.uniform(1, 5, size=n),
        "last_nps": rng.integers(0, 11, size=n).astype(float),
        "days_since_last_nps_response": rng.exponential(60, size=n),
        "milestones_completed": rng.integers(0, 5, size=n), "activated": rng.integers(0, 2, n),
        "tenure_days": rng.integers(1, 900, size=n), "arr": rng.lognormal(8.5, 1.0, size=n),
        "arr_change_90d": rng.normal(0, 0.05, size=n), "seats": rng.integers(1, 50, size=n),
        "days_to_renewal": rng.integers(0, 365, size=n).astype(float),
        "plan": pd.Categorical(rng.choice(["starter", "growth", "pro", "enterprise"], size=n)),
        "region": pd.Categorical(rng.choice(["NA", "EU", "APAC", "LATAM"], size=n)),
        "acquisition_channel": pd.Categorical(rng.choice(["organic", "paid", "partner",
                                                          "sales"], size=n)),
        "gateway": pd.Categorical(rng.choice(["Stripe", "Adyen", "PayFlow"], size=n)),
        "onboarding_stage": pd.Categorical(rng.choice(
            ["completed", "partial_not_activated", "dropped_early"], size=n)),
        "nps_category": pd.Categorical(rng.choice(["promoter", "passive", "detractor"], size=n)),
    })
    logit = -3.0 - 0.8 * engagement + 0.7 * failed + 0.3 * df["tickets_30d"] - 0.002 * df[
        "tenure_days"]
    return df.assign(churned=(rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int))
