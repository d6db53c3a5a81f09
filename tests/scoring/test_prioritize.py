"""Priority order, capacity-limited owner routing and playbooks on hand-built accounts."""

import numpy as np
import pandas as pd

from churnseg.config import OwnerQueue, PriorityConfig
from churnseg.scoring.prioritize import (
    intervention_segment,
    pinned_by_alert,
    playbook,
    priority_score,
    rank_order,
    route_owners,
)

CFG = PriorityConfig(queues=[OwnerQueue(name="csm", capacity=1, value_tiers=["large"])])


def test_renewal_boost():
    s = priority_score(np.array([100.0, 100.0, 100.0]), np.array([10, 200, np.nan]), CFG)
    assert s.tolist() == [150.0, 100.0, 100.0]


def test_rank_ties_break_by_account_id():
    order = rank_order(np.array([1.0, 5.0, 5.0]), pd.Series(["c", "b", "a"]))
    assert order.tolist() == [2, 1, 0]


def test_capacity_overflow_goes_to_automation_with_reason():
    ranked = pd.DataFrame({"risk_tier": ["high", "high", "medium", "low"],
                           "value_tier": ["large", "large", "small", "large"]})
    routed = route_owners(ranked, CFG)
    assert routed["owner"].tolist() == ["csm", "automated_campaign", "automated_campaign", "none"]
    assert routed["routing_reason"][1] == "csm queue full (capacity 1/week)"


def test_playbook_follows_driver_and_unowned_accounts_are_monitored():
    driver = pd.Series(["payments", "onboarding", "usage", "payments"])
    owner = pd.Series(["csm", "automated_campaign", "automated_campaign", "none"])
    assert playbook(driver, owner, CFG).tolist() == [
        "payment_fix", "onboarding_session", "adoption_campaign", "monitor"]
    seg = intervention_segment(pd.Series(["high"]), pd.Series(["large"]), pd.Series(["payments"]))
    assert seg.tolist() == ["high risk / large / payments"]


def test_pinned_accounts_rank_first_each_band_by_score():
    order = rank_order(np.array([9.0, 1.0, 5.0, 2.0]), pd.Series(["a", "b", "c", "d"]),
                       pinned=np.array([False, True, False, True]))
    assert order.tolist() == [3, 1, 0, 2]


def test_only_actionable_alert_accounts_are_pinned_and_only_when_configured():
    alert = pd.Series(["outage", "outage", "", "outage"])
    risk = pd.Series(["high", "low", "high", "medium"])
    assert pinned_by_alert(alert, risk, CFG).tolist() == [True, False, False, True]
    off = CFG.model_copy(update={"pin_alerts": False})
    assert not pinned_by_alert(alert, risk, off).any()


def test_pinned_routing_reason_and_signal_playbook():
    ranked = pd.DataFrame({"risk_tier": ["high", "high"], "value_tier": ["large", "small"],
                           "pinned": [True, False]})
    routed = route_owners(ranked, CFG)
    assert routed["routing_reason"].tolist() == [
        "crisis alert, ranked first; large value tier: csm queue",
        "small value tier: automated campaign"]
    driver = pd.Series(["usage", "usage", "usage"])
    owner = pd.Series(["csm", "automated_campaign", "none"])
    signal = pd.Series(["missed_payment", "", "missed_payment"])
    # the outage's failed payment calls for the payment fix whatever else drives the risk
    assert playbook(driver, owner, CFG, signal).tolist() == [
        "payment_fix", "adoption_campaign", "monitor"]
