"""The assembled matrix: columns, dtypes, order, attrs, skipped families, scoring alignment."""

import logging

import numpy as np
import pandas as pd
import pytest

from churnseg.config import FeatureConfig, SnapshotConfig
from churnseg.features.build import align_features, build_features, feature_columns
from churnseg.features.snapshots import LABEL_COLUMNS, build_snapshots
from tests.features.world import AS_OF, DATA_END, T

CATEGORIES = {
    "onboarding_stage",
    "gateway",
    "payment_method",
    "nps_category",
    "plan",
    "region",
    "country",
    "acquisition_channel",
    "industry",
}


@pytest.fixture(scope="module")
def matrix(world_tables):
    snaps = build_snapshots(
        world_tables, SnapshotConfig(), as_of=[T("2024-03-01"), AS_OF], data_end=DATA_END
    )
    return snaps, build_features(world_tables, snaps, FeatureConfig())


def test_one_row_per_snapshot_in_order_with_labels(matrix):
    snaps, x = matrix
    assert len(x) == len(snaps)
    pd.testing.assert_frame_equal(x[["account_id", "as_of"]], snaps[["account_id", "as_of"]])
    assert list(x.columns[:2]) == ["account_id", "as_of"]
    assert list(x.columns[-6:]) == [*LABEL_COLUMNS, "label_window_end", "arr_at_as_of"]
    pd.testing.assert_series_equal(x["churned"], snaps["churned"])


def test_dtypes(matrix):
    _, x = matrix
    cols = feature_columns(x)
    assert not set(cols) & {"account_id", "as_of", *LABEL_COLUMNS, "arr_at_as_of"}
    cats = {c for c in cols if isinstance(x[c].dtype, pd.CategoricalDtype)}
    assert cats == CATEGORIES
    for c in set(cols) - cats:
        assert x[c].dtype in (np.int64, np.float64), c
    assert len(cols) == len(set(cols)) > 70


def test_event_types_reproducible_for_scoring(world, tables_of, matrix):
    _, x = matrix
    train_types = x.attrs["event_types"]
    assert train_types[0] == "order"
    # scoring data without any order event still gets the training columns (counting 0)
    world["events"] = world["events"][world["events"]["event_type"] != "order"]
    tables = tables_of(world)
    snaps = pd.DataFrame({"account_id": ["A", "C"], "as_of": [AS_OF, AS_OF]})
    scored = build_features(tables, snaps, FeatureConfig(), event_types=train_types)
    assert scored.attrs["event_types"] == train_types
    assert scored["events_order_90d"].tolist() == [0, 0]
    rediscovered = build_features(tables, snaps, FeatureConfig())
    assert "events_order_90d" not in rediscovered.columns
    aligned = align_features(rediscovered, feature_columns(x))
    assert feature_columns(aligned) == feature_columns(x)
    assert aligned["events_order_90d"].tolist() == [0, 0]
    assert aligned["events_order_trend_30d"].isna().all()


def test_any_subset_of_accounts_gives_the_same_rows(world_tables, matrix):
    snaps, x = matrix
    part = snaps[snaps["account_id"].isin(["C", "B"])].reset_index(drop=True)
    sub = build_features(world_tables, part, FeatureConfig())
    assert sub.attrs["event_types"] == x.attrs["event_types"]  # discovered over every account
    whole = x[x["account_id"].isin(["C", "B"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(sub, whole, check_categorical=False)


def test_absent_tables_skip_families_with_a_notice(world, tables_of, caplog):
    frames = {k: world[k] for k in ("accounts", "subscriptions")}
    snaps = pd.DataFrame({"account_id": ["A", "B"], "as_of": [AS_OF, AS_OF]})
    with caplog.at_level(logging.INFO, logger="churnseg.features"):
        x = build_features(tables_of(frames), snaps, FeatureConfig())
    assert "table 'events' is absent: usage features skipped" in caplog.text
    assert "table 'surveys' is absent" in caplog.text
    assert {"tenure_days", "arr", "plan", "region"} <= set(feature_columns(x))
    assert x.attrs["event_types"] == []


def test_families_and_windows_follow_config(world_tables):
    snaps = pd.DataFrame({"account_id": ["A"], "as_of": [AS_OF]})
    cfg = FeatureConfig(families=["payments"], windows=[14, 60])
    x = build_features(world_tables, snaps, cfg)
    assert feature_columns(x) == [
        "failed_payments_14d",
        "failed_payments_60d",
        "consecutive_failed_payments",
        "days_since_last_failed_payment",
        "payment_failure_rate_60d",
        "in_dunning",
        "gateway",
        "payment_method",
    ]


def test_inputs_are_not_mutated_and_bad_snapshots_fail(world_tables):
    snaps = pd.DataFrame({"account_id": ["B", "A"], "as_of": [AS_OF, AS_OF], "note": [1, 2]})
    before = snaps.copy()
    x = build_features(world_tables, snaps, FeatureConfig(families=["sentiment"]))
    pd.testing.assert_frame_equal(snaps, before)
    assert x["note"].tolist() == [1, 2] and "note" not in feature_columns(x)
    with pytest.raises(ValueError, match="repeat"):
        build_features(world_tables, pd.concat([snaps, snaps]), FeatureConfig())
    with pytest.raises(ValueError, match="named like features"):
        build_features(world_tables, snaps.assign(last_nps=1), FeatureConfig())


def test_empty_snapshots(world_tables):
    x = build_features(world_tables, pd.DataFrame({"account_id": [], "as_of": []}), FeatureConfig())
    assert len(x) == 0 and "logins_30d" in x.columns
