"""Crisis detection: cohorts whose warning signals jumped against their own recent past.

A regional payment-gateway outage shows up as "missed payments in region X went from 2 % to
20 % of accounts"; an onboarding breakage as "stalled onboarding among partner signups tripled".
`cohort_alerts` finds such jumps without knowing the cause in advance: for every cohort (each
value of a dimension such as region, channel, plan or tenure band, and their pairs) and every
signal (a trigger, high risk, stalled onboarding), it compares the share of accounts showing the
signal now with its share at a few earlier as_of dates, and reports the cohorts where the share
is both much larger (ratio) and clearly not noise (two-proportion z).

Everything here is a pure function of frames; `pipelines/score.py` builds the earlier snapshots
(point in time, like every feature) and pins alerted accounts to the top of the priority list.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from churnseg.config import MonitorConfig, SegmentsConfig
from churnseg.scoring.segments import risk_tier, trigger_flags

TENURE = "tenure"
HIGH_RISK = "high_risk"
STALLED_ONBOARDING = "stalled_onboarding"
ALERT_COLUMNS = ["alert", "signal", "cohort", "accounts", "with_signal", "rate", "rate_before",
                 "ratio", "z"]
"""What `cohort_alerts` reports (it also returns `members`: the (dimension, value) pairs)."""


def cohort_frame(features: pd.DataFrame, probability: np.ndarray, segments: SegmentsConfig,
                 cfg: MonitorConfig) -> pd.DataFrame:
    """Dimensions (text) and signals (bool) of each account, the input of `cohort_alerts`.

    Args:
        features: the feature matrix (dimension columns are read by name; missing ones skipped).
        probability: calibrated churn probability per row (for the `high_risk` signal).
        segments: trigger rules and risk tiers.
        cfg: which dimensions and signals to watch.
    """
    out: dict[str, np.ndarray] = {}
    high_risk = np.asarray(risk_tier(probability, segments)) == segments.risk_tiers.labels[-1]
    tenure = pd.to_numeric(features.get("tenure_days", pd.Series(np.nan, index=features.index)),
                           errors="coerce").to_numpy(dtype=float)
    for dim in cfg.dimensions:
        if dim == TENURE:
            band = np.where(tenure < segments.new_account_days, "new", "established")
            out[dim] = pd.Categorical(np.where(np.isnan(tenure), "unknown", band))
        elif dim in features.columns:
            col = features[dim].astype("object")
            out[dim] = pd.Categorical(col.where(col.notna(), "unknown").astype(str))
    fired = trigger_flags(features, segments)
    for signal in cfg.signals:
        if signal == HIGH_RISK:
            out[signal] = high_risk
        elif signal == STALLED_ONBOARDING:
            activated = pd.to_numeric(features.get("activated", pd.Series(np.nan,
                                                                          index=features.index)),
                                      errors="coerce").to_numpy(dtype=float)
            out[signal] = ((activated == 0) & (tenure >= cfg.stalled_after_days)
                           & (tenure < segments.new_account_days))
        elif signal in fired.columns:
            out[signal] = fired[signal].to_numpy()
        else:
            known = [HIGH_RISK, STALLED_ONBOARDING, *fired.columns]
            raise ValueError(f"unknown monitor signal {signal!r} (known: {', '.join(known)})")
    return pd.DataFrame(out, index=features.index)


def cohort_alerts(now: pd.DataFrame, before: pd.DataFrame, n_before_dates: int,
                  cfg: MonitorConfig) -> pd.DataFrame:
    """Cohorts whose share of accounts with a signal jumped, strongest first.

    Args:
        now: `cohort_frame` at as_of.
        before: `cohort_frame` rows of the earlier as_of dates, stacked.
        n_before_dates: how many earlier dates `before` stacks (counts are averaged per date, so
            the same accounts seen on several dates do not inflate the evidence).
        cfg: thresholds (min accounts with the signal now, min ratio, min z).

    Returns:
        One row per alert (`ALERT_COLUMNS`): a label, the signal, the cohort (`dim=value`
        joined by ' & '), accounts in the cohort now, how many show the signal, the share now
        and before, their ratio and the two-proportion z. A pair cohort (e.g. region & tenure)
        is kept only when it sharpens its alerted one-dimension parents by `min_refinement`.
    """
    dims = [d for d in cfg.dimensions if d in now.columns and d in before.columns]
    signals = [s for s in cfg.signals if s in now.columns and s in before.columns]
    if not dims or not signals or now.empty or before.empty:
        return pd.DataFrame(columns=[*ALERT_COLUMNS, "members"])
    parts = []
    for size in range(1, min(cfg.max_combination, len(dims)) + 1):
        for group in combinations(dims, size):
            keys = list(group)
            x_now = now.groupby(keys, observed=True)[signals].sum()
            n_now = now.groupby(keys, observed=True).size()
            x_before = (before.groupby(keys, observed=True)[signals].sum()
                        .reindex(x_now.index).fillna(0.0) / n_before_dates)
            n_before = (before.groupby(keys, observed=True).size()
                        .reindex(x_now.index).fillna(0.0) / n_before_dates)
            members = [tuple(zip(group, k if isinstance(k, tuple) else (k,), strict=True))
                       for k in x_now.index]
            cohorts = [" & ".join(f"{d}={v}" for d, v in m) for m in members]
            for signal in signals:
                parts.append(pd.DataFrame({
                    "signal": signal, "cohort": cohorts, "members": members, "size": size,
                    "accounts": n_now.to_numpy(dtype=float),
                    "with_signal": x_now[signal].to_numpy(dtype=float),
                    "n_before": n_before.to_numpy(dtype=float),
                    "x_before": x_before[signal].to_numpy(dtype=float)}))
    table = pd.concat(parts, ignore_index=True)
    table = pd.concat([table, _compare(table["with_signal"], table["accounts"],
                                       table["x_before"], table["n_before"])], axis=1)
    hit = table[_passes(table, cfg)]
    kept = _explain_away(_sharpest(hit, now, before, n_before_dates, cfg), now, before,
                         n_before_dates, cfg)
    kept = kept.assign(alert=[
        f"{s} in {c}: {r:.0%} of accounts vs {b:.0%} before (x{q:.1f})"
        for s, c, r, b, q in zip(kept["signal"], kept["cohort"], kept["rate"],
                                 kept["rate_before"], kept["ratio"], strict=True)])
    return kept[[*ALERT_COLUMNS, "members"]].reset_index(drop=True)


def _compare(x1: pd.Series, n1: pd.Series, x0: pd.Series, n0: pd.Series) -> pd.DataFrame:
    """Share now vs before, their ratio and the two-proportion z (pooled variance)."""
    rate = x1 / n1.clip(lower=1)
    # a cohort absent before (a new channel) is compared with a half-account prior
    rate_before = (x0 + 0.5) / (n0 + 1.0)
    pooled = (x1 + x0) / (n1 + n0).clip(lower=1)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1.clip(lower=1) + 1 / n0.clip(lower=1)))
    z = np.where(se > 0, (rate - rate_before) / se.where(se > 0, 1), 0.0)
    return pd.DataFrame({"rate": rate, "rate_before": rate_before, "ratio": rate / rate_before,
                         "z": z}, index=x1.index)


def _passes(table: pd.DataFrame, cfg: MonitorConfig) -> pd.Series:
    return ((table["with_signal"] >= cfg.min_accounts) & (table["ratio"] >= cfg.min_ratio)
            & (table["z"] >= cfg.min_z))


def _member_mask(frame: pd.DataFrame, members: tuple[tuple[str, str], ...]) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for dim, value in members:
        mask &= (frame[dim] == value).to_numpy()
    return mask


def _residual_passes(signal: str, now_mask: np.ndarray, before_mask: np.ndarray,
                     now: pd.DataFrame, before: pd.DataFrame, n_dates: int,
                     cfg: MonitorConfig) -> bool:
    """Whether the accounts in the masks alone still make an alert on `signal`."""
    s_now, s_before = now[signal].to_numpy(dtype=bool), before[signal].to_numpy(dtype=bool)
    counts = pd.DataFrame({
        "with_signal": [float(s_now[now_mask].sum())], "accounts": [float(now_mask.sum())],
        "x_before": [s_before[before_mask].sum() / n_dates],
        "n_before": [before_mask.sum() / n_dates]})
    table = pd.concat([counts, _compare(counts["with_signal"], counts["accounts"],
                                        counts["x_before"], counts["n_before"])], axis=1)
    return bool(_passes(table, cfg).iloc[0])


def _sharpest(hit: pd.DataFrame, now: pd.DataFrame, before: pd.DataFrame, n_dates: int,
              cfg: MonitorConfig) -> pd.DataFrame:
    """Replace a one-dimension alert by a pair inside it when the pair is sharper (ratio at
    least `min_refinement` times the parent's) and explains it (the rest of the parent no
    longer alerts): "LATAM & partner signups" rather than "LATAM". Pairs whose parents do not
    alert on their own stay candidates; pairs that only restate a parent are dropped."""
    singles = hit[hit["size"] == 1]
    pairs = hit[hit["size"] > 1]
    parent_of = {(s, m[0]): i for i, s, m in zip(singles.index, singles["signal"],
                                                  singles["members"], strict=True)}
    keep = set(singles.index)
    for i, signal, members, ratio in zip(pairs.index, pairs["signal"], pairs["members"],
                                         pairs["ratio"], strict=True):
        parents = [parent_of[(signal, m)] for m in members if (signal, m) in parent_of]
        if not parents:
            keep.add(i)
            continue
        for j in parents:
            parent = hit.loc[j]
            sharper = ratio >= cfg.min_refinement * parent["ratio"]
            rest_now = _member_mask(now, parent["members"]) & ~_member_mask(now, members)
            rest_before = (_member_mask(before, parent["members"])
                           & ~_member_mask(before, members))
            if sharper and not _residual_passes(signal, rest_now, rest_before, now, before,
                                                n_dates, cfg):
                keep.discard(j)
                keep.add(i)
    return hit.loc[sorted(keep)]


def _explain_away(candidates: pd.DataFrame, now: pd.DataFrame, before: pd.DataFrame,
                  n_dates: int, cfg: MonitorConfig) -> pd.DataFrame:
    """Strongest first; a later alert is kept only if it still alerts without the accounts of
    the alerts already kept on the same signal (a LATAM outage also lifts the national rate of
    every plan and channel: those echoes are not new cohorts)."""
    ordered = candidates.sort_values(["z", "signal", "cohort"], ascending=[False, True, True])
    covered_now: dict[str, np.ndarray] = {}
    covered_before: dict[str, np.ndarray] = {}
    keep = []
    for i, signal, members in zip(ordered.index, ordered["signal"], ordered["members"],
                                  strict=True):
        in_now, in_before = _member_mask(now, members), _member_mask(before, members)
        seen_now = covered_now.get(signal, np.zeros(len(now), dtype=bool))
        seen_before = covered_before.get(signal, np.zeros(len(before), dtype=bool))
        if not _residual_passes(signal, in_now & ~seen_now, in_before & ~seen_before, now,
                                before, n_dates, cfg):
            continue
        keep.append(i)
        covered_now[signal] = seen_now | in_now
        covered_before[signal] = seen_before | in_before
    return ordered.loc[keep]


def alert_of_account(cohorts: pd.DataFrame, alerts: pd.DataFrame) -> pd.DataFrame:
    """Per account, the strongest alert it belongs to *and* shows the signal of.

    Returns:
        Columns alert (label, '' when none) and alert_signal (same index as `cohorts`).
    """
    label = pd.Series("", index=cohorts.index, dtype=object)
    signal = pd.Series("", index=cohorts.index, dtype=object)
    for text, sig, members in zip(alerts["alert"], alerts["signal"], alerts["members"],
                                  strict=True):
        member = cohorts[sig].to_numpy(dtype=bool) & (label == "").to_numpy()
        for dim, value in members:
            member &= (cohorts[dim] == value).to_numpy()
        label[member] = text
        signal[member] = sig
    return pd.DataFrame({"alert": label, "alert_signal": signal})
