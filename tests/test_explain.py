"""Exact TreeSHAP: native contributions equal shap's TreeExplainer and sum to the raw score."""

import numpy as np
import pandas as pd
import pytest
import shap

from churnseg import explain
from churnseg.config import Capacity, ModelConfig, SplitConfig
from churnseg.model.train import fit_model, split_by_as_of

FEATURES = ["failed_payments_30d", "logins_30d", "noise", "plan"]


@pytest.fixture(scope="module")
def model_and_sample(feature_table):
    split = split_by_as_of(feature_table, SplitConfig(), label_days=30)
    cfg = ModelConfig(capacity_grid=[Capacity(num_leaves=15, max_depth=4, min_data_in_leaf=50)],
                      max_rounds=120)
    model, _ = fit_model(split.train, split.valid, FEATURES, cfg)
    return model, split.test.head(300)


def test_contributions_sum_to_raw_score(model_and_sample):
    model, sample = model_and_sample
    contrib = explain.shap_contributions(model, sample, chunk_size=70)
    np.testing.assert_allclose(contrib.sum(axis=1), model.raw_score(sample), atol=1e-9)


def test_native_treeshap_equals_shap_package(model_and_sample):
    model, sample = model_and_sample
    X = model.prepare(sample)
    native = explain.shap_contributions(model, sample)
    values = shap.TreeExplainer(model.booster).shap_values(X)
    values = values[1] if isinstance(values, list) else values
    np.testing.assert_allclose(native[model.features].to_numpy(), values, atol=1e-6)


def test_chunks_report_progress_and_do_not_change_values(model_and_sample):
    model, sample = model_and_sample
    seen = []
    a = explain.shap_contributions(model, sample, chunk_size=100,
                                   progress=lambda d, t: seen.append((d, t)))
    b = explain.shap_contributions(model, sample, chunk_size=1000)
    assert seen == [(100, 300), (200, 300), (300, 300)]
    pd.testing.assert_frame_equal(a, b)


def test_primary_driver_and_reasons_only_for_risk_raising_factors():
    contrib = pd.DataFrame({"failed_payments_30d": [0.8, -0.1], "logins_30d": [0.3, -0.2],
                            "plan": [-0.5, -0.3], "bias": [-2.0, -2.0]})
    families = {"failed_payments_30d": "payments", "logins_30d": "usage", "plan": "account"}
    by_family = explain.family_contributions(contrib, families)
    assert explain.primary_driver(by_family).tolist() == ["payments", "none"]
    values = pd.DataFrame({"failed_payments_30d": [3.0, 0.0], "logins_30d": [2.0, 30.0],
                           "plan": ["starter", "pro"]})
    reasons = explain.top_reasons(contrib, values, n=3)
    assert reasons.loc[0, "reason_1"] == "3 failed payments in the last 30 days"
    assert reasons.loc[0, "reason_2"] == "2 logins in the last 30 days"
    assert reasons.loc[0, "reason_3"] == ""  # plan lowers risk: not a reason
    assert (reasons.loc[1, ["reason_1", "reason_2", "reason_3"]] == "").all()


def test_top_contributions_long_table():
    contrib = pd.DataFrame({"a": [0.1, -0.9], "b": [-0.5, 0.2], "bias": [-2.0, -2.0]},
                           index=[10, 11])
    values = pd.DataFrame({"a": [1.0, np.nan], "b": ["x", "y"]}, index=[10, 11])
    top = explain.top_contributions(contrib, values, pd.Series(["A1", "A2"], index=[10, 11]), n=2)
    assert top["account_id"].tolist() == ["A1", "A1", "A2", "A2"]
    assert top["feature"].tolist() == ["b", "a", "a", "b"]
    assert top["value"].tolist() == ["x", "1", "", "y"]
    assert top["contribution"].tolist() == [-0.5, 0.1, -0.9, 0.2]
