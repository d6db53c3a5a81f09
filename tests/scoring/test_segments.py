"""Segment families on hand-built accounts."""

import numpy as np
import pandas as pd

from churnseg.config import SegmentsConfig, Tiers
from churnseg.scoring.segments import (
    assign_segments,
    fold_small,
    journey_stage,
    renewal_window,
    risk_level,
    tier,
    triggers,
)

CFG = SegmentsConfig(min_segment_size=1)


def features():
    return pd.DataFrame({
        "failed_payments_30d": [0, 1, 3],
        "tickets_30d": [0, 5, 0],
        "tickets_7d": [0, 3, 0],
        "tenure_days": [400, 30, 200],
        "days_since_last_activity": [1, 2, 45],
        "logins_trend_30d": [0.1, -0.2, -1.0],
        "days_to_renewal": [10, 75, np.nan],
        "nps_category": ["promoter", "detractor", None],
        "days_since_last_nps_response": [20, 10, np.nan],
        "arr_change_90d": [0.0, -0.3, 0.0],
        "distinct_features_used_30d": [5, 0, 0],
        "active_days_30d": [20, 3, 0],
        "adopted_feature_multi_currency": [1, 0, 0],
        "adopted_feature_analytics": [1, 1, 0],
        "region": ["EU", "LATAM", "EU"],
    })


def test_tier_bins_and_unknown():
    t = Tiers(thresholds=[10, 20], labels=["a", "b", "c"])
    assert tier([5, 10, 25, np.nan], t).tolist() == ["a", "b", "c", "unknown"]


def test_risk_level_takes_the_worse_of_payments_and_tickets():
    assert risk_level(features(), CFG).tolist() == ["normal", "high", "high"]


def test_journey_stage_with_ltv():
    stage = journey_stage(features(), np.array([0.05, 0.05, 0.05]),
                          np.array([50000.0, 100.0, 100.0]), CFG)
    assert stage.tolist() == ["active/high_ltv", "new/low_ltv", "dormant/low_ltv"]


def test_renewal_window():
    assert renewal_window(features(), CFG).tolist() == ["renews_30d", "renews_90d", "unknown"]


def test_triggers():
    assert triggers(features(), CFG).tolist() == [
        "", "missed_payment; feature_inactivity; detractor_response; downgrade; ticket_surge",
        "missed_payment"]


def test_small_segments_fold_into_other():
    assert fold_small(["a", "a", "b"], 2).tolist() == ["a", "a", "other"]


def test_missing_columns_give_unknown_not_errors():
    seg = assign_segments(pd.DataFrame(index=range(2)), np.array([0.5, 0.01]),
                          np.array([100.0, 1e6]), np.array([1.0, 1.0]), CFG)
    assert seg["risk_tier"].tolist() == ["high", "low"]
    assert seg["value_tier"].tolist() == ["small", "strategic"]
    assert set(seg["segment_region"]) == {"unknown"}
    assert seg["segment_sentiment"].tolist() == ["no_response"] * 2


def test_assign_segments_columns():
    seg = assign_segments(features(), np.array([0.05, 0.3, 0.2]), np.array([1000.0, 20000, 70000]),
                          np.array([1.0, 1.0, 1.0]), CFG)
    assert seg["early_adopter"].tolist() == [True, False, False]
    assert seg["segment_adoption"].tolist() == ["power", "none", "none"]
    assert seg["segment_sentiment"].tolist() == ["promoter", "detractor", "no_response"]
