"""Priority order, capacity-limited owner routing and playbooks on hand-built accounts."""

import numpy as np
import pandas as pd

from churnseg.config import OwnerQueue, PriorityConfig
from churnseg.scoring.prioritize import (
    intervention_segment,
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
