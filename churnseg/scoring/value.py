"""What an account is worth and how much of it is at risk.

LTV, when not given as an input column, is the discounted expected margin over the account's
remaining lifetime, with a constant monthly churn hazard derived from the calibrated probability:

    h   = 1 - (1 - p) ** (30 / horizon_days)          monthly hazard from P(churn in horizon)
    q   = (1 - h) / (1 + discount_rate) ** (1 / 12)   survival x discount per month
    LTV = margin * ARR / 12 * (1 - q ** max_months) / (1 - q)

i.e. margin x monthly revenue summed over months m = 0 .. max_months-1, weighted by the chance the
account is still a customer ((1-h)^m) and discounted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnseg.config import ValueConfig


def monthly_hazard(probability: np.ndarray | pd.Series, horizon_days: int) -> np.ndarray:
    """Constant monthly churn hazard implied by P(churn within `horizon_days`)."""
    p = np.clip(np.asarray(probability, dtype=float), 0.0, 1.0 - 1e-12)
    return 1.0 - (1.0 - p) ** (30.0 / horizon_days)


def estimated_ltv(arr: np.ndarray | pd.Series, probability: np.ndarray | pd.Series,
                  horizon_days: int, cfg: ValueConfig) -> np.ndarray:
    """Discounted expected margin over the remaining lifetime (module docstring formula)."""
    h = monthly_hazard(probability, horizon_days)
    q = (1.0 - h) / (1.0 + cfg.discount_rate) ** (1.0 / 12.0)
    months = np.where(np.isclose(q, 1.0), cfg.max_months,
                      (1.0 - q ** cfg.max_months) / np.where(np.isclose(q, 1.0), 1.0, 1.0 - q))
    return cfg.margin * np.asarray(arr, dtype=float) / 12.0 * months


def account_value(frame: pd.DataFrame, probability: np.ndarray, horizon_days: int,
                  cfg: ValueConfig) -> pd.DataFrame:
    """ARR, LTV (input column or estimate), expected ARR at risk and LTV at risk per account.

    Args:
        frame: one row per account with an `arr` column (missing ARR counts as 0).
        probability: calibrated churn probability within the label horizon, per row.
    """
    arr = pd.to_numeric(frame["arr"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    p = np.asarray(probability, dtype=float)
    estimate = estimated_ltv(arr, p, horizon_days, cfg)
    if cfg.ltv_column and cfg.ltv_column in frame.columns:
        given = pd.to_numeric(frame[cfg.ltv_column], errors="coerce").to_numpy(dtype=float)
        ltv, source = np.where(np.isnan(given), estimate, given), np.where(
            np.isnan(given), "estimated", "input")
    else:
        ltv, source = estimate, np.full(len(arr), "estimated")
    return pd.DataFrame({
        "arr": arr,
        "ltv": ltv,
        "ltv_source": source,
        "expected_arr_at_risk": p * arr,
        "ltv_at_risk": p * ltv,
    }, index=frame.index)
