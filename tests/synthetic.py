"""Synthetic inputs with a known signal, shared by tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_feature_table(n_accounts: int = 1500, n_dates: int = 12, seed: int = 0) -> pd.DataFrame:
    """account_id/as_of/features/churned/arr where churn risk rises with failed payments and
    falls with logins; a categorical plan changes the base rate."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2024-01-01", periods=n_dates, freq="MS")
    n = n_accounts * n_dates
    plan = rng.choice(["starter", "growth", "pro"], size=n, p=[0.5, 0.3, 0.2])
    failed = rng.poisson(0.4, size=n).astype(float)
    logins = rng.gamma(2.0, 10.0, size=n)
    noise = rng.normal(size=n)
    starter = np.where(plan == "starter", 0.6, 0.0)
    logit = -3.2 + 0.9 * failed - 0.06 * logins + starter + noise * 0.3
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({
        "account_id": np.tile([f"A{i:05d}" for i in range(n_accounts)], n_dates),
        "as_of": np.repeat(dates, n_accounts),
        "failed_payments_30d": failed,
        "logins_30d": logins,
        "noise": noise,
        "plan": pd.Categorical(plan),
        "arr": rng.lognormal(8, 1, size=n),
        "churned": churned,
    })
