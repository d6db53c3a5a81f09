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


def rank_order(score: np.ndarray, account_id: pd.Series) -> np.ndarray:
    """Row positions from highest to lowest score; ties broken by account_id (deterministic)."""
    frame = pd.DataFrame({"s": -np.asarray(score, dtype=float), "id": account_id.to_numpy()})
    return frame.sort_values(["s", "id"], kind="mergesort").index.to_numpy()


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
    owners, reasons = [], []
    for risk, value in zip(ranked["risk_tier"], ranked["value_tier"], strict=True):
        if risk not in cfg.actionable_risk_tiers:
            owners.append(NO_OWNER)
            reasons.append(f"{risk} risk: monitor only")
            continue
        queue = queue_of.get(value)
        if queue is None:
            owners.append(cfg.automated_owner)
            reasons.append(f"{value} value tier: automated campaign")
        elif left[queue.name] > 0:
            left[queue.name] -= 1
            owners.append(queue.name)
            reasons.append(f"{value} value tier: {queue.name} queue")
        else:
            owners.append(cfg.automated_owner)
            reasons.append(f"{queue.name} queue full (capacity {queue.capacity}/week)")
    return pd.DataFrame({"owner": owners, "routing_reason": reasons}, index=ranked.index)


def playbook(driver: pd.Series, owner: pd.Series, cfg: PriorityConfig) -> np.ndarray:
    """Playbook from the primary driver; accounts nobody owns are monitored."""
    chosen = driver.map(cfg.playbooks).fillna(cfg.playbooks.get("none", "monitor"))
    return np.where(owner == NO_OWNER, cfg.playbooks.get("none", "monitor"), chosen)


def intervention_segment(risk: pd.Series, value: pd.Series, driver: pd.Series) -> np.ndarray:
    """risk tier x value tier x primary driver, e.g. `high risk / large / payments`."""
    return (risk.astype(str) + " risk / " + value.astype(str) + " / " + driver.astype(str)
            ).to_numpy()
