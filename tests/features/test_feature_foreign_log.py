"""A foreign event log: own column names, event types never seen, only accounts + events."""

import pandas as pd

from churnseg.config import FeatureConfig, SnapshotConfig
from churnseg.features.build import build_features, feature_columns
from churnseg.features.catalog import lookup
from churnseg.features.snapshots import build_snapshots
from tests.features.world import AS_OF, T

MAPPING = {
    "accounts": {"account_id": "merchant", "created_at": "signup"},
    "events": {"account_id": "merchant", "occurred_at": "ts", "event_type": "kind"},
}


def foreign_frames():
    accounts = pd.DataFrame(
        {
            "merchant": ["M1", "M2", "M3"],
            "signup": ["2023-01-01", "2023-06-01", "2023-02-01"],
            "tier": ["gold", "silver", "gold"],
        }
    )
    events = pd.DataFrame(
        [
            ("M1", "2024-03-15T10:00:00Z", "listing_created"),
            ("M1", "2024-03-29T10:00:00Z", "listing_created"),
            ("M1", "2024-02-20T10:00:00Z", "payout_requested"),
            ("M1", "2024-05-01T10:00:00Z", "payout_requested"),
            ("M2", "2024-03-20T10:00:00Z", "listing_created"),
            ("M3", "2024-01-05T10:00:00Z", "payout_requested"),
        ],
        columns=["merchant", "ts", "kind"],
    )
    return {"accounts": accounts, "events": events}


def test_foreign_log_builds_usage_and_labels(tables_of):
    tables = tables_of(foreign_frames(), columns=MAPPING, required=("accounts", "events"))
    cfg = SnapshotConfig(churn_definition="inactivity", inactivity_days=30, horizon_days=60)
    snaps = build_snapshots(tables, cfg, as_of=[AS_OF], data_end=T("2024-07-01"))
    assert snaps["account_id"].tolist() == ["M1", "M2"]
    assert snaps["churned"].tolist() == [0, 1]
    x = build_features(tables, snaps, FeatureConfig()).set_index("account_id")
    assert x.attrs["event_types"] == ["listing_created", "payout_requested"]
    assert x.loc["M1", "events_listing_created_30d"] == 2
    assert x.loc["M1", "events_payout_requested_90d"] == 1
    assert (
        x.loc["M1", "events_listing_created_trend_30d"]
        != x.loc["M1", "events_listing_created_trend_30d"]
    )  # noqa: E501  (prior 0: NaN)
    assert x.loc["M2", "active_days_30d"] == 1
    assert x["logins_90d"].tolist() == [0, 0]
    assert x.loc["M1", "days_since_last_activity"] == pd.Timedelta(
        "2 days 14 hours"
    ) / pd.Timedelta(days=1)  # noqa: E501
    assert "tenure_days" in x.columns and "arr" not in x.columns
    assert not any(c.startswith("active_users") for c in x.columns)
    assert x["churned"].tolist() == [0, 1]
    for col in feature_columns(x):
        assert lookup(col, strict=True).family in ("usage", "onboarding")
