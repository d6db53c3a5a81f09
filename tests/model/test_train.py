"""Time split, capacity choice, calibration and one-line errors for bad training input."""

import numpy as np
import pandas as pd
import pytest

from churnseg.config import CalibrationConfig, Capacity, ModelConfig, SplitConfig
from churnseg.model.calibrate import Calibrator
from churnseg.model.package import FeatureMismatchError
from churnseg.model.train import (
    TrainingDataError,
    calibrate_model,
    fit_model,
    select_features,
    split_by_as_of,
    split_stratified,
)

FEATURES = ["failed_payments_30d", "logins_30d", "noise", "plan"]
SMALL = ModelConfig(
    capacity_grid=[
        Capacity(num_leaves=4, max_depth=2, min_data_in_leaf=50),
        Capacity(num_leaves=15, max_depth=4, min_data_in_leaf=50),
    ],
    max_rounds=200,
)


def test_split_is_by_date_with_embargo(feature_table):
    split = split_by_as_of(feature_table, SplitConfig(), label_days=60)
    dates = {k: [d.month for d in v] for k, v in split.dates.items()}
    # 12 monthly dates, newest first: test = Nov-Dec; a 60-day window from Oct 1 reaches past
    # Nov 1: Oct is the gap; calib = Aug-Sep, valid = Jun-Jul; gap May; train = Jan-Apr
    assert dates == {"train": [1, 2, 3, 4], "valid": [6, 7], "calib": [8, 9], "test": [11, 12]}
    assert split.train["as_of"].max() < split.valid["as_of"].min()
    assert split.calib["as_of"].max() < split.test["as_of"].min()
    assert [d.month for d in split.embargoed] == [5, 10]


def test_split_without_embargo_uses_every_date(feature_table):
    split = split_by_as_of(feature_table, SplitConfig(embargo=False), label_days=60)
    assert sum(split.sizes().values()) == len(feature_table)


def test_too_few_dates_is_an_empty_training_period(feature_table):
    few = feature_table[feature_table["as_of"] < "2024-06-01"]
    with pytest.raises(TrainingDataError, match="empty training period"):
        split_by_as_of(few, SplitConfig(), label_days=30)


def test_missing_label_and_single_class_are_one_line_errors(feature_table):
    with pytest.raises(TrainingDataError, match="label column 'churned' not found"):
        split_by_as_of(feature_table.drop(columns="churned"), SplitConfig(), label_days=30)
    with pytest.raises(TrainingDataError, match="single class"):
        split_stratified(feature_table.assign(churned=0))


def test_config_naming_a_missing_feature():
    with pytest.raises(TrainingDataError, match=r"\['tenure_days'\]"):
        select_features(pd.DataFrame({"a": [1]}), ["a"], ModelConfig(include=["tenure_days"]))


def test_fit_prefers_the_smaller_model_on_a_tie(feature_table):
    split = split_by_as_of(feature_table, SplitConfig(), label_days=30)
    cfg = SMALL.model_copy(update={"tie_tolerance": 1.0})  # every candidate ties
    model, table = fit_model(split.train, split.valid, FEATURES, cfg)
    assert table["chosen"].tolist() == [True, False]
    assert model.shape["max_leaves"] <= 4 and model.shape["max_depth"] <= 2


def test_model_learns_signal_and_calibrates(feature_table):
    split = split_by_as_of(feature_table, SplitConfig(), label_days=30)
    model, table = fit_model(split.train, split.valid, FEATURES, SMALL)
    assert table["valid_auc"].max() > 0.70
    model = calibrate_model(model, split.calib, CalibrationConfig())
    p = model.predict_proba(split.test)
    assert ((p > 0) & (p < 1)).all()
    # calibrated: mean prediction close to the observed rate on a later period
    assert abs(p.mean() - split.test["churned"].mean()) < 0.02


def test_training_is_reproducible(feature_table):
    split = split_by_as_of(feature_table, SplitConfig(), label_days=30)
    a, _ = fit_model(split.train, split.valid, FEATURES, SMALL)
    b, _ = fit_model(split.train, split.valid, FEATURES, SMALL)
    np.testing.assert_array_equal(a.raw_score(split.test), b.raw_score(split.test))


def test_predict_names_missing_features(feature_table):
    split = split_by_as_of(feature_table, SplitConfig(), label_days=30)
    model, _ = fit_model(split.train, split.valid, FEATURES, SMALL)
    with pytest.raises(FeatureMismatchError, match="logins_30d"):
        model.predict_proba(split.test.drop(columns="logins_30d"))


def test_unseen_category_does_not_fail(feature_table):
    split = split_by_as_of(feature_table, SplitConfig(), label_days=30)
    model, _ = fit_model(split.train, split.valid, FEATURES, SMALL)
    odd = split.test.head(3).assign(plan=["enterprise", "starter", None])
    assert np.isfinite(model.raw_score(odd)).all()


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_calibrator_fixes_a_known_distortion(method):
    rng = np.random.default_rng(1)
    true_p = rng.uniform(0.01, 0.5, size=20000)
    y = (rng.random(true_p.size) < true_p).astype(int)
    score = np.log(true_p / (1 - true_p)) * 0.5 + 1.0  # monotone but miscalibrated
    cal = Calibrator(method).fit(score, y)
    p = cal.predict(score)
    bins = np.digitize(p, np.quantile(p, np.linspace(0, 1, 11)[1:-1]))
    gap = max(abs(p[bins == b].mean() - y[bins == b].mean()) for b in range(10))
    assert gap < 0.03


def test_auto_calibration_picks_a_method():
    rng = np.random.default_rng(2)
    score = rng.normal(size=5000)
    y = (rng.random(5000) < 1 / (1 + np.exp(-(score * 2 - 2)))).astype(int)
    cal = Calibrator("auto").fit(score, y)
    assert cal.method_ in ("isotonic", "platt") and set(cal.scores_) == {"isotonic", "platt"}
