"""Account family: ARR and its change, seats, plan, renewal, static and extra columns."""

import numpy as np
import pytest

from churnseg.features.account import account_profile, subscription_value
from tests.features.world import T


def test_subscription_value(world_tables, keys, indexed):
    v = indexed(subscription_value(world_tables, keys(), 90))
    assert v["arr"].tolist() == [2400.0, 600.0, 5000.0]
    assert v.loc["A", "arr_change_90d"] == pytest.approx(1.0)  # 1200 on 2024-01-02
    assert np.isnan(v.loc["B", "arr_change_90d"])  # not a customer then
    assert v.loc["C", "arr_change_90d"] == 0.0
    assert v["seats"].tolist() == [5.0, 1.0, 20.0]
    assert v["plan"].tolist() == ["pro", "basic", "enterprise"]
    assert v["days_to_renewal"].tolist() == pytest.approx([320, 353, 61])


def test_past_renewal_date_rolls_forward_a_year(world_tables, keys, indexed):
    v = indexed(subscription_value(world_tables, keys(["C"], T("2024-06-10")), 90))
    # C's active row (since 05-05) renews 2025-05-05
    assert v.loc["C", "days_to_renewal"] == pytest.approx(329)
    v = indexed(subscription_value(world_tables, keys(["C"], T("2024-04-15")), 90))
    assert v.loc["C", "days_to_renewal"] == pytest.approx(47)
    v = indexed(subscription_value(world_tables, keys(["B"], T("2025-04-01")), 90))
    assert v.loc["B", "days_to_renewal"] == pytest.approx(353)  # 2026-03-20


def test_profile_and_extra_columns(world, tables_of, keys, indexed):
    tables = tables_of(world, extra_account_columns=("employees",))
    p = indexed(account_profile(tables, keys()))
    assert p["region"].tolist() == ["EMEA", "LATAM", "North America"]
    assert p["acquisition_channel"].dtype == "category"
    assert p["employees"].tolist() == [10.0, 3.0, 250.0]
    plain = account_profile(tables_of(world), keys())
    assert "employees" not in plain.columns
