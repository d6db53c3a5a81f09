"""Point-in-time correctness: nothing stamped at or after as_of can change a feature."""

import pandas as pd
import pytest

from churnseg.config import FeatureConfig, SnapshotConfig
from churnseg.features.build import build_features, feature_columns
from churnseg.features.snapshots import build_snapshots
from tests.features.world import AS_OF, DATA_END, T

DATES = [T("2024-03-01"), AS_OF, T("2024-05-01")]
CFG = FeatureConfig()


def features_at(tables, snapshots, as_of):
    rows = snapshots[snapshots["as_of"] == as_of].reset_index(drop=True)
    built = build_features(tables, rows[["account_id", "as_of"]], CFG)
    return built[["account_id", "as_of", *feature_columns(built)]]


@pytest.mark.parametrize("as_of", DATES)
def test_deleting_later_rows_changes_nothing(world, tables_of, censor, as_of):
    full = tables_of(world)
    snaps = build_snapshots(full, SnapshotConfig(), as_of=DATES, data_end=DATA_END)
    expected = features_at(full, snaps, as_of)
    assert len(expected) >= 2
    got = features_at(tables_of(censor(world, as_of)), snaps, as_of)
    pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize("as_of", DATES)
def test_scrambling_later_rows_changes_nothing(world, tables_of, scramble, as_of):
    full = tables_of(world)
    snaps = build_snapshots(full, SnapshotConfig(), as_of=DATES, data_end=DATA_END)
    expected = features_at(full, snaps, as_of)
    for seed in (1, 2):
        got = features_at(tables_of(scramble(world, as_of, seed)), snaps, as_of)
        pd.testing.assert_frame_equal(got, expected)


def test_rows_stamped_at_as_of_are_excluded_but_one_microsecond_earlier_count(
    world, tables_of, keys
):
    snaps = keys()
    base = build_features(tables_of(world), snaps, CFG)
    earlier = {name: df.copy() for name, df in world.items()}
    tick = pd.Timedelta(microseconds=1)
    for name, col in [
        ("events", "occurred_at"),
        ("tickets", "opened_at"),
        ("payments", "attempted_at"),
        ("surveys", "responded_at"),
        ("onboarding", "completed_at"),
    ]:
        df = earlier[name]
        df.loc[df[col] == AS_OF, col] = AS_OF - tick
    moved = build_features(tables_of(earlier), snaps, CFG).set_index("account_id")
    base = base.set_index("account_id")
    # each at-as_of row becomes visible once it is a microsecond older
    assert (base.loc["A", "logins_7d"], moved.loc["A", "logins_7d"]) == (3, 4)
    assert (base.loc["A", "tickets_7d"], moved.loc["A", "tickets_7d"]) == (1, 2)
    assert (
        base.loc["A", "consecutive_failed_payments"],
        moved.loc["A", "consecutive_failed_payments"],
    ) == (2, 0)
    assert pd.isna(base.loc["B", "last_nps"]) and moved.loc["B", "last_nps"] == 0
    assert (base.loc["B", "milestones_completed"], moved.loc["B", "milestones_completed"]) == (1, 2)
