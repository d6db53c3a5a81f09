"""Segment families: each a column of the priority list, defined by `SegmentsConfig`.

Every rule reads feature columns by name; a column the data does not have gives `unknown`
rather than an error, so foreign data with fewer tables still segments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnseg.config import SegmentsConfig, Tiers

UNKNOWN = "unknown"
OTHER = "other"


def tier(values: pd.Series | np.ndarray, tiers: Tiers) -> np.ndarray:
    """Label of the bin each value falls in (`unknown` for missing values)."""
    v = pd.to_numeric(pd.Series(np.asarray(values)), errors="coerce").to_numpy(dtype=float)
    idx = np.searchsorted(np.asarray(tiers.thresholds, dtype=float), v, side="right")
    labels = np.asarray(tiers.labels, dtype=object)[np.minimum(idx, len(tiers.labels) - 1)]
    return np.where(np.isnan(v), UNKNOWN, labels)


def _col(features: pd.DataFrame, name: str) -> pd.Series:
    """A numeric feature column, or all-NaN when the data does not have it."""
    if name not in features.columns:
        return pd.Series(np.nan, index=features.index)
    return pd.to_numeric(features[name], errors="coerce")


def _text(features: pd.DataFrame, name: str) -> pd.Series:
    if name not in features.columns:
        return pd.Series(UNKNOWN, index=features.index, dtype=object)
    return features[name].astype("object").where(features[name].notna(), UNKNOWN)


def risk_tier(probability: np.ndarray, cfg: SegmentsConfig) -> np.ndarray:
    return tier(probability, cfg.risk_tiers)


def value_tier(arr: np.ndarray, cfg: SegmentsConfig) -> np.ndarray:
    return tier(arr, cfg.value_tiers)


def risk_level(features: pd.DataFrame, cfg: SegmentsConfig) -> np.ndarray:
    """Operational risk from payment failures and ticket volume in the last 30 days (worst wins)."""
    order = {label: i for i, label in enumerate(cfg.risk_level_failed_payments.labels)}
    pay = tier(_col(features, "failed_payments_30d"), cfg.risk_level_failed_payments)
    tick = tier(_col(features, "tickets_30d"), cfg.risk_level_tickets)
    rank = np.maximum([order.get(x, -1) for x in pay], [order.get(x, -1) for x in tick])
    labels = np.asarray(cfg.risk_level_failed_payments.labels, dtype=object)
    return np.where(rank < 0, UNKNOWN, labels[np.maximum(rank, 0)])


def adoption(features: pd.DataFrame, cfg: SegmentsConfig) -> np.ndarray:
    """Feature breadth tier, capped at `light` for accounts active on few days."""
    breadth = tier(_col(features, "distinct_features_used_30d"), cfg.adoption_breadth)
    rare = (_col(features, "active_days_30d") < cfg.adoption_frequency_days).to_numpy()
    capped = np.isin(breadth, cfg.adoption_breadth.labels[2:]) & rare
    return np.where(capped, cfg.adoption_breadth.labels[1], breadth)


def early_adopter(features: pd.DataFrame, cfg: SegmentsConfig) -> np.ndarray:
    """Uses any of the configured new features."""
    cols = [f"adopted_{f}" for f in cfg.early_adopter_features]
    present = [c for c in cols if c in features.columns]
    if not present:
        return np.zeros(len(features), dtype=bool)
    return (features[present].apply(pd.to_numeric, errors="coerce").fillna(0) > 0).any(
        axis=1).to_numpy()


def journey_stage(features: pd.DataFrame, probability: np.ndarray, ltv: np.ndarray,
                  cfg: SegmentsConfig) -> np.ndarray:
    """new / dormant / at_risk / active, crossed with the LTV tier (e.g. `at_risk/high_ltv`)."""
    tenure = _col(features, "tenure_days").to_numpy()
    silent = _col(features, "days_since_last_activity").to_numpy()
    trend = _col(features, "logins_trend_30d").to_numpy()
    high_risk = np.asarray(risk_tier(probability, cfg)) == cfg.risk_tiers.labels[-1]
    stage = np.select(
        [tenure < cfg.new_account_days, silent >= cfg.dormant_days,
         high_risk | (trend <= cfg.at_risk_trend)],
        ["new", "dormant", "at_risk"], default="active",
    )
    return np.char.add(np.char.add(stage.astype(str), "/"),
                       tier(ltv, cfg.ltv_tiers).astype(str)).astype(object)


def sentiment(features: pd.DataFrame) -> np.ndarray:
    """promoter / passive / detractor from the last NPS response, else no_response."""
    if "nps_category" not in features.columns:
        return np.full(len(features), "no_response", dtype=object)
    s = features["nps_category"].astype("object")
    return s.where(s.notna() & (s != UNKNOWN), "no_response").to_numpy()


def renewal_window(features: pd.DataFrame, cfg: SegmentsConfig) -> np.ndarray:
    """`renews_30d` / `renews_60d` / ... by days to renewal; `later` or `unknown` otherwise."""
    days = _col(features, "days_to_renewal").to_numpy()
    out = np.where(np.isnan(days), UNKNOWN, "later").astype(object)
    for limit in sorted(cfg.renewal_windows, reverse=True):
        out = np.where(days <= limit, f"renews_{limit}d", out)
    return out


def trigger_flags(features: pd.DataFrame, cfg: SegmentsConfig) -> pd.DataFrame:
    """One boolean column per trigger: an event that calls for action now."""
    t = cfg.triggers
    used_before = [c for c in features.columns if c.startswith("adopted_")]
    adopted = (features[used_before].apply(pd.to_numeric, errors="coerce").fillna(0).sum(axis=1)
               > 0) if used_before else pd.Series(False, index=features.index)
    fired = {
        "missed_payment": _col(features, "failed_payments_30d") >= t.missed_payment_min,
        "feature_inactivity": adopted & (_col(features, "distinct_features_used_30d") == 0),
        "detractor_response": (_text(features, "nps_category") == "detractor")
        & (_col(features, "days_since_last_nps_response") <= t.detractor_within_days),
        "downgrade": _col(features, "arr_change_90d") <= t.downgrade_change,
        "ticket_surge": _col(features, "tickets_7d") >= t.ticket_surge_7d,
    }
    return pd.DataFrame({name: f.fillna(False).to_numpy(dtype=bool) for name, f in fired.items()},
                        index=features.index)


def triggers(features: pd.DataFrame, cfg: SegmentsConfig) -> np.ndarray:
    """Events that call for action now, joined with '; ' (empty when none fire)."""
    flags = trigger_flags(features, cfg)
    names = np.array(list(flags.columns), dtype=object)
    return np.array(["; ".join(names[row]) for row in flags.to_numpy()], dtype=object)


def fold_small(values: np.ndarray | pd.Series, min_size: int) -> np.ndarray:
    """Segments with fewer than `min_size` accounts become `other`."""
    s = pd.Series(np.asarray(values, dtype=object))
    counts = s.map(s.value_counts())
    return s.where(counts >= min_size, OTHER).to_numpy()


def assign_segments(features: pd.DataFrame, probability: np.ndarray, arr: np.ndarray,
                    ltv: np.ndarray, cfg: SegmentsConfig) -> pd.DataFrame:
    """Every segment family as a column, small segments folded into `other`."""
    raw = {
        "risk_tier": risk_tier(probability, cfg),
        "value_tier": value_tier(arr, cfg),
        "segment_onboarding": _text(features, "onboarding_stage").to_numpy(),
        "segment_risk_level": risk_level(features, cfg),
        "segment_adoption": adoption(features, cfg),
        "segment_journey": journey_stage(features, probability, ltv, cfg),
        "segment_region": _text(features, "region").to_numpy(),
        "segment_channel": _text(features, "acquisition_channel").to_numpy(),
        "segment_sentiment": sentiment(features),
        "segment_renewal": renewal_window(features, cfg),
    }
    # risk and value tiers drive routing and are never folded
    out = {k: (v if k in ("risk_tier", "value_tier") else fold_small(v, cfg.min_segment_size))
           for k, v in raw.items()}
    out["early_adopter"] = early_adopter(features, cfg)
    out["triggers"] = triggers(features, cfg)
    return pd.DataFrame(out, index=features.index)
