"""Snapshots: as_of dates, population and labels (grace period, lead time, maturity, downgrade,
inactivity churn) on the hand-built world."""

import pandas as pd
import pytest

from churnseg.config import SnapshotConfig
from churnseg.features.snapshots import (
    as_of_dates,
    build_snapshots,
    data_horizon,
    labelled_snapshots,
)
from tests.features.world import AS_OF, DATA_END, T, world_frames

CFG = SnapshotConfig(horizon_days=90, grace_days=30, lead_days=0, downgrade_threshold=0.2)


def snap(tables, cfg=CFG, as_of=(AS_OF,), **kw):
    return build_snapshots(tables, cfg, as_of=list(as_of), data_end=DATA_END, **kw)


def test_as_of_dates_from_list_or_range():
    listed = SnapshotConfig(as_of=["2024-03-01", "2024-01-01", "2024-03-01"])
    assert as_of_dates(listed) == [T("2024-01-01"), T("2024-03-01")]
    ranged = SnapshotConfig(start="2024-01-01", end="2024-04-15", frequency="MS")
    assert as_of_dates(ranged) == [
        T("2024-01-01"),
        T("2024-02-01"),
        T("2024-03-01"),
        T("2024-04-01"),
    ]
    with pytest.raises(ValueError, match="as_of"):
        as_of_dates(SnapshotConfig())


def test_population_is_active_subscriptions(world_tables):
    s = snap(world_tables, as_of=[AS_OF, T("2024-05-01"), T("2024-08-01")])
    by_date = s.groupby("as_of")["account_id"].apply(list).to_dict()
    assert by_date[AS_OF] == ["A", "B", "C"]
    assert by_date[T("2024-05-01")] == ["A", "B"]  # C is between two subscriptions
    assert by_date[T("2024-08-01")] == ["B", "C"]  # A has churned
    assert list(s.columns) == [
        "account_id",
        "as_of",
        "churned",
        "label_matured",
        "churned_at",
        "downgraded",
        "label_window_end",
        "arr_at_as_of",
    ]


def test_labels_with_grace_period(world_tables, indexed):
    s = indexed(snap(world_tables))
    assert s["churned"].tolist() == [1, 0, 0]
    assert s.loc["A", "churned_at"] == T("2024-05-10")
    assert s["churned_at"].isna().tolist() == [False, True, True]
    # C ends 2024-04-20 and comes back on 2024-05-05 at 3000 instead of 5000: within the
    # 30-day grace period, so no churn, but a 40% ARR drop.
    assert s["downgraded"].tolist() == [0, 0, 1]
    assert s["label_matured"].all()
    assert s["arr_at_as_of"].tolist() == [2400.0, 600.0, 5000.0]
    assert s.loc["A", "label_window_end"] == T("2024-06-30")
    assert str(s["churned"].dtype) == "Int8"


def test_resignup_after_grace_is_churn(world, tables_of, indexed):
    world["subscriptions"].loc[4, "started_at"] = T("2024-06-01")  # 42 days after the end
    s = indexed(snap(tables_of(world)))
    assert s.loc["C", "churned"] == 1
    assert s.loc["C", "churned_at"] == T("2024-04-20")
    assert s.loc["C", "downgraded"] == 0
    short = SnapshotConfig(grace_days=10)
    s = indexed(snap(tables_of(world_frames_with_gap(15)), cfg=short))
    assert s.loc["C", "churned"] == 1  # a 15-day gap is beyond a 10-day grace period


def world_frames_with_gap(days):
    frames = world_frames()
    frames["subscriptions"].loc[4, "started_at"] = T("2024-04-20") + pd.Timedelta(days=days)
    return frames


def test_lead_time_shifts_the_label_window(world_tables, indexed):
    lead30 = indexed(snap(world_tables, SnapshotConfig(lead_days=30, horizon_days=60)))
    assert lead30.loc["A", "churned"] == 1  # ends 05-10, in (05-01, 06-30]
    lead45 = indexed(snap(world_tables, SnapshotConfig(lead_days=45, horizon_days=60)))
    # ended during the lead time: gone before the window opens, neither positive nor negative
    assert pd.isna(lead45.loc["A", "churned"])
    assert lead45.loc["B", "churned"] == 0
    assert len(labelled_snapshots(lead45)) == 2


def test_horizon_bounds_the_window(world_tables, indexed):
    short = indexed(snap(world_tables, SnapshotConfig(horizon_days=30)))
    assert short.loc["A", "churned"] == 0  # 05-10 is after 05-01


def test_immature_labels_are_kept_but_null(world_tables, indexed):
    s = snap(world_tables, as_of=[T("2024-08-01")])
    assert not s["label_matured"].any()
    assert s["churned"].isna().all() and s["downgraded"].isna().all()
    assert len(labelled_snapshots(s)) == 0
    # maturity needs the window plus the grace period: 06-30 + 30 days = 07-30
    edge = build_snapshots(world_tables, CFG, as_of=[AS_OF], data_end=T("2024-07-29"))
    assert not edge["label_matured"].any()
    edge = build_snapshots(world_tables, CFG, as_of=[AS_OF], data_end=T("2024-07-30"))
    assert edge["label_matured"].all()


def test_subscription_ending_exactly_at_as_of(world, tables_of, indexed):
    # active at as_of (ended_at >= as_of) but gone at that instant: not a label-window churn
    world["subscriptions"].loc[1, "ended_at"] = AS_OF
    s = indexed(snap(tables_of(world)))
    assert "A" in s.index and pd.isna(s.loc["A", "churned"])


def test_labels_use_only_the_window_after_as_of(world, tables_of, indexed):
    before = indexed(snap(tables_of(world)))
    # change everything before as_of that does not decide membership: labels do not move
    world["events"] = world["events"].iloc[:0]
    world["tickets"] = world["tickets"].iloc[:0]
    after = indexed(snap(tables_of(world)))
    pd.testing.assert_frame_equal(before, after)


def test_min_tenure_and_account_subset(world_tables):
    s = snap(world_tables, SnapshotConfig(min_tenure_days=30))
    assert s["account_id"].tolist() == ["A", "C"]  # B is 12 days old
    s = snap(world_tables, accounts=["C", "B"])
    assert s["account_id"].tolist() == ["B", "C"]


def test_data_horizon_is_latest_timestamp(world_tables):
    # renews_at is a plan, not an observation: it does not extend the data
    assert data_horizon(world_tables) == T("2024-05-10")
    assert data_horizon(world_tables, "2024-06-01") == T("2024-06-01")


# --------------------------------------------------------------------------------------------
# Inactivity churn
# --------------------------------------------------------------------------------------------
def inactivity_world():
    accounts = pd.DataFrame({"account_id": ["M1", "M2", "M3"], "created_at": [T("2023-01-01")] * 3})
    events = pd.DataFrame(
        [
            ("M1", "2024-03-15", "listing_created"),
            ("M1", "2024-05-01", "payout"),
            ("M2", "2024-03-20", "listing_created"),
            ("M2", "2024-04-01", "payout"),  # exactly at as_of: neither feature nor label
            ("M3", "2024-02-01", "payout"),  # 60 days before: not in the population
            ("M3", "2024-04-01", "payout"),  # at as_of: does not make M3 active
            ("M3", "2024-04-10", "payout"),
        ],
        columns=["account_id", "occurred_at", "event_type"],
    ).assign(occurred_at=lambda d: pd.to_datetime(d["occurred_at"]))
    return {"accounts": accounts, "events": events}


INACTIVE = SnapshotConfig(churn_definition="inactivity", inactivity_days=30, horizon_days=60)


def test_inactivity_population_and_label(tables_of, indexed):
    tables = tables_of(inactivity_world(), required=("accounts", "events"))
    s = indexed(build_snapshots(tables, INACTIVE, as_of=[AS_OF], data_end=T("2024-07-01")))
    assert s.index.tolist() == ["M1", "M2"]
    assert s["churned"].tolist() == [0, 1]
    assert s.loc["M2", "churned_at"] == T("2024-04-01")  # last activity before the window
    assert s["downgraded"].isna().all() and s["arr_at_as_of"].isna().all()
    immature = build_snapshots(tables, INACTIVE, as_of=[AS_OF], data_end=T("2024-05-30"))
    assert immature["churned"].isna().all()


def test_inactivity_label_window_after_lead(tables_of, indexed):
    tables = tables_of(inactivity_world(), required=("accounts", "events"))
    cfg = SnapshotConfig(
        churn_definition="inactivity", inactivity_days=30, lead_days=31, horizon_days=30
    )
    s = indexed(build_snapshots(tables, cfg, as_of=[AS_OF], data_end=T("2024-07-01")))
    assert s.loc["M1", "churned"] == 1  # its only later event (05-01) is in the lead time


def test_missing_table_for_definition(tables_of):
    tables = tables_of(inactivity_world(), required=("accounts", "events"))
    with pytest.raises(ValueError, match="subscriptions"):
        build_snapshots(tables, SnapshotConfig(), as_of=[AS_OF])
