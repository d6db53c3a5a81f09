"""Sentiment family: latest NPS, change, category, recency; deterministic ties."""

import numpy as np
import pytest

from churnseg.features.sentiment import NPS_CATEGORIES, nps_sentiment


def test_nps_features(world_tables, keys, indexed):
    s = indexed(nps_sentiment(world_tables, keys()))
    assert s.loc["A", "last_nps"] == 6 and s.loc["A", "nps_change"] == -3
    assert s.loc["A", "nps_category"] == "detractor"
    assert s.loc["A", "days_since_last_nps_response"] == pytest.approx(22)
    assert np.isnan(s.loc["B", "last_nps"]) and np.isnan(s.loc["B", "nps_category"])
    # two responses at the same instant: the lower one is taken as the latest
    assert (s.loc["C", "last_nps"], s.loc["C", "nps_change"]) == (8, -2)
    assert s.loc["C", "nps_category"] == "passive"
    assert s.loc["C", "days_since_last_nps_response"] == pytest.approx(213)
    assert list(s["nps_category"].cat.categories) == list(NPS_CATEGORIES)
