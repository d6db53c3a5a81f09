"""Onboarding family: milestones, stage, activation and tenure on the hand-built world."""

import numpy as np
import pandas as pd
import pytest

from churnseg.config import OnboardingFeatureConfig
from churnseg.features.onboarding import STAGES, onboarding_progress, tenure
from tests.features.world import T

CFG = OnboardingFeatureConfig()


def test_progress_stage_and_activation(world_tables, keys, indexed):
    o = indexed(onboarding_progress(world_tables, keys(), CFG))
    # B's products_imported is stamped exactly at as_of: not done yet
    assert o["milestones_completed"].tolist() == [4, 1, 1]
    assert o["onboarding_stage"].tolist() == ["completed", "partial_not_activated", "dropped_early"]
    assert o["activated"].tolist() == [1, 0, 0]
    assert o.loc["A", "days_to_activation"] == pytest.approx(19)
    assert np.isnan(o.loc["B", "days_to_activation"])
    assert o.loc["A", "days_since_last_milestone"] == pytest.approx(72)
    assert o.loc["B", "days_since_last_milestone"] == pytest.approx(10.5)
    assert isinstance(o["onboarding_stage"].dtype, pd.CategoricalDtype)
    assert list(o["onboarding_stage"].cat.categories) == list(STAGES)


def test_not_started_and_dropped_without_milestones(world_tables, keys, indexed):
    # at 03-21 00:00 B (created 03-20) has done nothing yet
    o = indexed(onboarding_progress(world_tables, keys(["B"], T("2024-03-21")), CFG))
    assert o.loc["B", "onboarding_stage"] == "not_started"
    # two weeks after creation with nothing done: dropped early
    o = indexed(
        onboarding_progress(
            world_tables, keys(["B"], T("2024-03-21 11:00") + pd.Timedelta(days=0)), CFG
        )
    )
    assert o.loc["B", "onboarding_stage"] == "not_started"
    late = OnboardingFeatureConfig(dropped_early_days=1)
    o = indexed(onboarding_progress(world_tables, keys(["B"], T("2024-03-21 11:00")), late))
    assert o.loc["B", "onboarding_stage"] == "dropped_early"


def test_stage_respects_config(world_tables, keys, indexed):
    cfg = OnboardingFeatureConfig(
        milestones=["store_configured", "products_imported"],
        activation_milestone="products_imported",
    )
    o = indexed(onboarding_progress(world_tables, keys(), cfg))
    assert o["milestones_completed"].tolist() == [2, 1, 1]
    assert o["activated"].tolist() == [1, 0, 0]
    assert o.loc["A", "days_to_activation"] == pytest.approx(4)
    # one of two is not "less than half": partial, even for C
    assert o["onboarding_stage"].tolist() == [
        "completed",
        "partial_not_activated",
        "partial_not_activated",
    ]


def test_tenure(world_tables, keys, indexed):
    t = indexed(tenure(world_tables, keys()))
    assert t["tenure_days"].tolist() == pytest.approx([91, 12, 305])
