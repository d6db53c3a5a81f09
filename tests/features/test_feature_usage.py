"""Usage family: exact windows, trends, active days and users, adoption, generic event types."""

import numpy as np
import pandas as pd
import pytest

from churnseg.config import UsageFeatureConfig
from churnseg.features.usage import event_type_slugs, top_event_types, usage_activity
from tests.features.world import AS_OF, T

CFG = UsageFeatureConfig()
GENERIC = ["order", "feature_analytics"]


@pytest.fixture
def usage(world_tables, keys, indexed):
    return indexed(usage_activity(world_tables, keys(), CFG, (7, 30, 90), 30, GENERIC))


def test_login_windows_and_trend(usage):
    a = usage.loc["A"]
    # 03-31, 03-30, 03-25 | 03-02 00:00 (exactly 30 days: inside) | 03-01, 02-15
    assert (a["logins_7d"], a["logins_30d"], a["logins_90d"]) == (3, 4, 6)
    assert a["logins_trend_30d"] == pytest.approx((4 - 2) / 2)
    assert usage.loc["B", "logins_90d"] == 0 and np.isnan(usage.loc["B", "logins_trend_30d"])


def test_events_active_days_and_users(usage):
    a = usage.loc["A"]
    assert (a["events_7d"], a["events_30d"], a["events_90d"]) == (4, 6, 11)
    assert a["events_trend_30d"] == pytest.approx((6 - 4) / 4)
    assert (a["active_days_7d"], a["active_days_30d"], a["active_days_90d"]) == (4, 6, 11)
    assert (a["active_users_7d"], a["active_users_30d"], a["active_users_90d"]) == (1, 2, 2)
    for col in ("events_90d", "active_days_90d", "active_users_90d"):
        assert usage.loc["B", col] == 0 and usage.loc["C", col] == 0


def test_recency_uses_all_history(usage):
    assert usage.loc["A", "days_since_last_activity"] == pytest.approx(14 / 24)
    assert usage.loc["A", "days_since_last_login"] == pytest.approx(14 / 24)
    # C is silent for longer than the longest window: recency still comes from its history
    assert usage.loc["C", "days_since_last_activity"] == pytest.approx(103)
    assert usage.loc["C", "days_since_last_login"] == pytest.approx(122)
    assert np.isnan(usage.loc["B", "days_since_last_activity"])


def test_feature_adoption_and_breadth(usage):
    a, c = usage.loc["A"], usage.loc["C"]
    assert a["distinct_features_used_90d"] == 2
    assert a["distinct_event_types_90d"] == 4  # login, discounts, analytics, order
    assert a["adopted_feature_discounts"] == 1 and a["adopted_feature_analytics"] == 1
    assert a["adopted_feature_email_campaigns"] == 0  # first used the day after as_of
    assert c["adopted_feature_inventory_sync"] == 1 and c["distinct_features_used_90d"] == 0
    assert {f"adopted_{f}" for f in CFG.key_features} <= set(usage.columns)


def test_generic_event_type_columns(usage):
    a = usage.loc["A"]
    assert (a["events_order_7d"], a["events_order_30d"], a["events_order_90d"]) == (1, 1, 3)
    assert a["events_order_trend_30d"] == pytest.approx((1 - 2) / 2)
    assert a["events_feature_analytics_90d"] == 1
    assert "events_login_30d" not in usage.columns


def test_unknown_event_type_counts_zero(world_tables, keys, indexed):
    u = indexed(usage_activity(world_tables, keys(), CFG, (30,), 30, ["never_seen"]))
    assert u["events_never_seen_30d"].tolist() == [0, 0, 0]
    assert u["events_never_seen_trend_30d"].isna().all()


def test_windows_are_configurable(world_tables, keys, indexed):
    u = indexed(usage_activity(world_tables, keys(), CFG, (3, 120), 10, []))
    assert u.loc["A", "logins_3d"] == 2 and u.loc["A", "logins_120d"] == 6
    assert u.loc["A", "active_days_120d"] == 11
    # last 10 days: 03-31, 03-30, 03-25 logins; prior 10 days: none
    assert np.isnan(u.loc["A", "logins_trend_10d"])
    assert "distinct_features_used_120d" in u.columns


def test_rows_follow_snapshot_order_and_dates(world_tables, indexed):
    snaps = pd.DataFrame({"account_id": ["C", "A", "A"], "as_of": [AS_OF, T("2024-03-01"), AS_OF]})
    u = usage_activity(world_tables, snaps, CFG, (7, 30, 90), 30, [])
    assert u["account_id"].tolist() == ["C", "A", "A"]
    # on 03-01 only the 02-15 login is before as_of (the 03-01 00:00 one is at it)
    assert u["logins_90d"].tolist() == [0, 1, 6]
    assert u["days_since_last_login"].iloc[1] == pytest.approx(14.5)


def test_no_user_column(world, tables_of, keys):
    world["events"] = world["events"].drop(columns="user_id")
    u = usage_activity(tables_of(world), keys(), CFG, (7, 30, 90), 30, [])
    assert not any(c.startswith("active_users") for c in u.columns)


def test_discovered_event_types_match_top_event_types(world_tables, keys):
    u = usage_activity(world_tables, keys(["B"]), CFG, (7, 30, 90), 30)
    # discovery counts every account's events before as_of, not just the snapshot's accounts
    assert u.attrs["event_types"] == top_event_types(world_tables, AS_OF, 20, exclude=["login"])
    assert u.attrs["event_types"] == [
        "order",
        "feature_analytics",
        "feature_discounts",
        "feature_inventory_sync",
    ]
    assert "events_feature_inventory_sync_90d" in u.columns


def test_top_event_types_and_slugs(world_tables):
    assert top_event_types(world_tables, AS_OF, 2, exclude=["login"]) == [
        "order",
        "feature_analytics",
    ]
    assert top_event_types(world_tables, T("2024-01-01"), 5) == [
        "feature_inventory_sync",
        "login",
        "order",
    ]
    assert event_type_slugs(["Page View", "page-view", "2fa", "trend"]) == {
        "Page View": "page_view",
        "page-view": "page_view_2",
        "2fa": "type_2fa",
        "trend": "type_trend",
    }
