"""Priority: rank by money at risk, route to owners within capacity, pick the playbook."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnseg.config import PriorityConfig

NO_OWNER = "none"


def priority_score(at_risk: np.ndarray, days_to_renewal: np.ndarray, cfg: PriorityConfig
                   ) -> np.ndarray:
    """Expected ARR (or LTV) at risk, boosted by (1 + renewal_boost) when renewal is near."""
    days = np.asarray(days_to_renewal, dtype=float)
    soon = (days >= 0) & (days <= cfg.renewal_boost_days)
    return np.asarray(at_risk, dtype=float) * np.where(soon, 1.0 + cfg.renewal_boost, 1.0)


def rank_order(score: np.ndarray, account_id: pd.Series, pinned: np.ndarray | None = None
               ) -> np.ndarray:
    """Row positions from highest to lowest score, pinned rows first; ties broken by
    account_id (deterministic)."""
    pin = np.zeros(len(score), dtype=bool) if pinned is None else np.asarray(pinned, dtype=bool)
    frame = pd.DataFrame({"p": ~pin, "s": -np.asarray(score, dtype=float),
                          "id": account_id.to_numpy()})
    return frame.sort_values(["p", "s", "id"], kind="mergesort").index.to_numpy()


def pinned_by_alert(alert: pd.Series, risk: pd.Series, cfg: PriorityConfig) -> np.ndarray:
    """Accounts of a crisis alert that are actionable: they jump the queue (time-critical,
    usually cheap to fix: an outage's failed payments, a broken onboarding step)."""
    if not cfg.pin_alerts:
        return np.zeros(len(alert), dtype=bool)
    return ((alert != "") & risk.isin(cfg.actionable_risk_tiers)).to_numpy()


def route_owners(ranked: pd.DataFrame, cfg: PriorityConfig) -> pd.DataFrame:
    """Owner and routing reason per account, walking the list in priority order.

    Args:
        ranked: rows in priority order with `risk_tier` and `value_tier`.

    Returns:
        Columns owner, routing_reason (same index). Actionable accounts of a queue's value tiers
        go to that CSM queue until its weekly capacity is full, then to automation with the
        reason recorded; other actionable accounts go to automation; the rest are monitored.
    """
    left = {q.name: q.capacity for q in cfg.queues}
    queue_of = {tier: q for q in cfg.queues for tier in q.value_tiers}
    pinned = (ranked["pinned"].to_numpy(dtype=bool) if "pinned" in ranked.columns
              else np.zeros(len(ranked), dtype=bool))
    owners, reasons = [], []
    for risk, value, pin in zip(ranked["risk_tier"], ranked["value_tier"], pinned, strict=True):
        if risk not in cfg.actionable_risk_tiers:
            owners.append(NO_OWNER)
            reasons.append(f"{risk} risk: monitor only")
            continue
        queue = queue_of.get(value)
        if queue is None:
            owners.append(cfg.automated_owner)
            reason = f"{value} value tier: automated campaign"
        elif left[queue.name] > 0:
            left[queue.name] -= 1
            owners.append(queue.name)
            reason = f"{value} value tier: {queue.name} queue"
        else:
            owners.append(cfg.automated_owner)
            reason = f"{queue.name} queue full (capacity {queue.capacity}/week)"
        reasons.append(f"crisis alert, ranked first; {reason}" if pin else reason)
    return pd.DataFrame({"owner": owners, "routing_reason": reasons}, index=ranked.index)


def playbook(driver: pd.Series, owner: pd.Series, cfg: PriorityConfig,
             alert_signal: pd.Series | None = None) -> np.ndarray:
    """Playbook from the primary driver, or from the signal of the crisis alert an account is
    pinned by (an outage's failed payment calls for the payment fix whatever else the account
    shows); accounts nobody owns are monitored."""
    chosen = driver.map(cfg.playbooks).fillna(cfg.playbooks.get("none", "monitor"))
    if alert_signal is not None and cfg.pin_alerts:
        chosen = alert_signal.map(cfg.signal_playbooks).fillna(chosen)
    return np.where(owner == NO_OWNER, cfg.playbooks.get("none", "monitor"), chosen)


def intervention_segment(risk: pd.Series, value: pd.Series, driver: pd.Series) -> np.ndarray:
    """risk tier x value tier x primary driver, e.g. `high risk / large / payments`."""
    return (risk.astype(str) + " risk / " + value.astype(str) + " / " + driver.astype(str)
            ).to_numpy()
