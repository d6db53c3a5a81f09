"""Behavioural checks on a model trained on the simulator (all else equal)."""

import numpy as np
import pandas as pd
import pytest

from churnseg.config import (
    CalibrationConfig,
    Capacity,
    DataConfig,
    FeatureConfig,
    ModelConfig,
    SimulateConfig,
    SnapshotConfig,
    SplitConfig,
)
from churnseg.data.contract import validate
from churnseg.data.io import open_tables
from churnseg.features.build import build_features, feature_columns
from churnseg.features.snapshots import as_of_dates, build_snapshots, labelled_snapshots
from churnseg.model.train import calibrate_model, fit_model, split_by_as_of
from pipelines import simulate as sim_job

pytestmark = pytest.mark.slow
NOISE = 0.02  # largest drop in probability we accept from a change that should raise risk


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    data = tmp_path_factory.mktemp("behaviour")
    sim_job.run(SimulateConfig(accounts=5000, seed=3), data)
    tables = open_tables(DataConfig(root=data))
    validate(tables)
    snaps = labelled_snapshots(build_snapshots(
        tables, SnapshotConfig(), as_of_dates(SnapshotConfig(start="2024-04-01",
                                                             end="2025-09-01"))))
    matrix = build_features(tables, snaps, FeatureConfig())
    matrix = matrix.assign(churned=matrix["churned"].astype(int))
    features = [c for c in feature_columns(matrix) if c not in ("account_id", "as_of")]
    split = split_by_as_of(matrix, SplitConfig(), label_days=90)
    model, _ = fit_model(split.train, split.valid, features, ModelConfig(
        capacity_grid=[Capacity(num_leaves=15, max_depth=4, min_data_in_leaf=100)]))
    model = calibrate_model(model, split.calib, CalibrationConfig())
    return model, split.test.reset_index(drop=True)


def _with(frame: pd.DataFrame, **changes) -> pd.DataFrame:
    return frame.assign(**{k: v for k, v in changes.items() if k in frame.columns})


def test_more_failed_payments_never_lower_risk(trained):
    model, test = trained
    base = model.predict_proba(test)
    # two more failed attempts in the last few days, as the payments family would record them
    rate = test.get("payment_failure_rate_30d", pd.Series(0.0, index=test.index)).fillna(0)
    worse = _with(test, failed_payments_30d=test["failed_payments_30d"] + 2,
                  failed_payments_90d=test["failed_payments_90d"] + 2,
                  consecutive_failed_payments=test["consecutive_failed_payments"] + 2,
                  in_dunning=1, payment_failure_rate_30d=np.maximum(rate, 2 / 3),
                  payment_failure_rate_90d=np.maximum(
                      test.get("payment_failure_rate_90d", rate).fillna(0), 2 / 5),
                  days_since_last_failed_payment=np.fmin(
                      test["days_since_last_failed_payment"], 3))
    diff = model.predict_proba(worse) - base
    assert diff.min() > -NOISE and diff.mean() > 0


def test_fewer_logins_never_lower_risk(trained):
    model, test = trained
    base = model.predict_proba(test)
    cols = [c for c in test.columns if c.startswith("logins_") and not c.startswith(
        "logins_trend")]
    fewer = _with(test, **{c: np.floor(test[c] * 0.2) for c in cols})
    diff = model.predict_proba(fewer) - base
    assert diff.min() > -NOISE and diff.mean() > 0


def test_account_silent_for_60_days_scores_above_the_median(trained):
    model, test = trained
    median = np.median(model.predict_proba(test))
    silent_cols = [c for c in test.columns if c.startswith(("logins_", "active_days_",
                                                            "events_", "active_users_",
                                                            "distinct_"))
                   and "trend" not in c]
    silent = _with(test, **{c: 0 for c in silent_cols}, days_since_last_activity=60,
                   days_since_last_login=60, logins_trend_30d=np.nan, events_trend_30d=np.nan)
    p = model.predict_proba(silent)
    assert np.mean(p > median) > 0.95
