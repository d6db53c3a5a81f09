"""Value: ARR at risk and the documented LTV formula."""

import numpy as np
import pandas as pd
import pytest

from churnseg.config import ValueConfig
from churnseg.scoring.value import account_value, estimated_ltv, monthly_hazard


def test_monthly_hazard_inverts_the_horizon_probability():
    h = monthly_hazard(np.array([0.271]), horizon_days=90)
    assert 1 - (1 - h[0]) ** 3 == pytest.approx(0.271)


def test_ltv_without_churn_or_discount_is_margin_times_capped_lifetime():
    cfg = ValueConfig(margin=0.5, discount_rate=0.0, max_months=24)
    assert estimated_ltv(np.array([1200.0]), np.array([0.0]), 90, cfg)[0] == pytest.approx(
        0.5 * 100 * 24)


def test_ltv_matches_the_explicit_sum():
    cfg = ValueConfig(margin=0.8, discount_rate=0.1, max_months=60)
    p, arr = 0.2, 6000.0
    h = 1 - (1 - p) ** (30 / 90)
    explicit = sum(0.8 * arr / 12 * (1 - h) ** m / 1.1 ** (m / 12) for m in range(60))
    assert estimated_ltv(np.array([arr]), np.array([p]), 90, cfg)[0] == pytest.approx(explicit)


def test_higher_risk_means_lower_ltv_but_more_at_risk():
    frame = pd.DataFrame({"arr": [1000.0, 1000.0]})
    v = account_value(frame, np.array([0.1, 0.6]), 90, ValueConfig())
    assert v["ltv"].iloc[0] > v["ltv"].iloc[1]
    assert v["expected_arr_at_risk"].tolist() == pytest.approx([100.0, 600.0])


def test_ltv_column_is_used_when_given_and_estimated_when_missing():
    frame = pd.DataFrame({"arr": [1000.0, 1000.0], "ltv_input": [5000.0, np.nan]})
    v = account_value(frame, np.array([0.1, 0.1]), 90, ValueConfig(ltv_column="ltv_input"))
    assert v["ltv"].iloc[0] == 5000.0 and v["ltv_source"].tolist() == ["input", "estimated"]
    assert v["ltv_at_risk"].iloc[0] == pytest.approx(500.0)
