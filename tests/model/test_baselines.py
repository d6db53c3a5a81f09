"""Baselines: a logistic regression on the features and last period's churn rate."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from churnseg.model.baselines import LastPeriodRateBaseline, LogisticBaseline


def _features(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    failed = rng.poisson(1.0, n).astype(float)
    logins = rng.gamma(2.0, 10.0, n)
    plan = rng.choice(["basic", "pro", "plus"], n, p=[0.5, 0.3, 0.2])
    logit = -2.0 + 1.2 * failed - 0.08 * logins + np.where(plan == "basic", 1.0, 0.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    failed[rng.random(n) < 0.1] = np.nan  # unknown payment history
    X = pd.DataFrame(
        {
            "failed_payments_30d": failed,
            "logins_30d": logins,
            "plan": pd.Categorical(np.where(rng.random(n) < 0.05, None, plan)),
            "nps": pd.array(rng.integers(0, 11, n), dtype="Int64"),
            "has_app": rng.random(n) < 0.5,
        }
    )
    return X, y


def test_logistic_baseline_learns_a_monotone_signal():
    X, y = _features(4000, seed=0)
    X_test, y_test = _features(2000, seed=1)
    before = X.copy()
    model = LogisticBaseline().fit(X, y)
    pd.testing.assert_frame_equal(X, before)  # input untouched
    proba = model.predict_proba(X_test)
    assert proba.shape == (2000, 2)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert roc_auc_score(y_test, proba[:, 1]) > 0.8
    # more failed payments, all else equal, never lowers risk
    probe = X_test.iloc[[0] * 5].reset_index(drop=True).assign(failed_payments_30d=np.arange(5.0))
    assert np.all(np.diff(model.predict_proba(probe)[:, 1]) > 0)
    assert model.numeric_columns_ == ["failed_payments_30d", "logins_30d", "nps", "has_app"]
    assert model.categorical_columns_ == ["plan"]


def test_logistic_baseline_handles_unseen_levels_and_extra_columns():
    X, y = _features(1000, seed=2)
    model = LogisticBaseline(C=0.5).fit(X.assign(as_of=pd.Timestamp("2024-01-01")), y)
    assert "as_of" not in model.numeric_columns_ + model.categorical_columns_
    unseen = X.head(3).assign(plan=pd.Categorical(["enterprise", None, "pro"]))
    assert np.isfinite(model.predict_proba(unseen)).all()
    with pytest.raises(ValueError, match="logins_30d"):
        model.predict_proba(X.drop(columns="logins_30d"))


def test_logistic_baseline_follows_the_sklearn_contract():
    model = LogisticBaseline(C=0.3, max_iter=50)
    assert model.get_params()["C"] == 0.3 and not hasattr(model, "pipeline_")
    assert clone(model).get_params() == model.get_params()
    X, y = _features(500, seed=3)
    fitted = pickle.loads(pickle.dumps(model.fit(X, y)))
    assert np.allclose(fitted.predict_proba(X), model.predict_proba(X))
    with pytest.raises(ValueError, match="one class"):
        LogisticBaseline().fit(X, np.zeros(len(X)))


SNAPSHOTS = pd.DataFrame(
    {
        "as_of": pd.to_datetime(["2024-01-01"] * 4 + ["2024-02-01"] * 10),
        "plan": ["basic"] * 4 + ["basic"] * 6 + ["pro"] * 3 + ["plus"],
        "label": [1, 1, 1, 1] + [1, 1, 0, 0, 0, 0] + [1, 0, 0] + [1],
    }
)


def test_last_period_rate_uses_only_the_last_as_of():
    model = LastPeriodRateBaseline().fit(SNAPSHOTS)
    assert model.last_as_of_ == pd.Timestamp("2024-02-01")
    assert model.overall_rate_ == pytest.approx(4 / 10)
    proba = model.predict_proba(pd.DataFrame({"plan": ["pro", "x"]}))
    assert proba[:, 1] == pytest.approx([0.4, 0.4])
    assert proba[:, 0] == pytest.approx([0.6, 0.6])


def test_last_period_rate_per_group_with_fallback():
    model = LastPeriodRateBaseline(group_cols=["plan"], min_group_size=2).fit(SNAPSHOTS)
    test = pd.DataFrame({"plan": pd.Categorical(["pro", "basic", "plus", "enterprise", None])})
    # basic 2/6, pro 1/3; plus has one snapshot (< 2) and enterprise/None are unseen: overall 0.4
    assert model.predict_proba(test)[:, 1] == pytest.approx([1 / 3, 2 / 6, 0.4, 0.4, 0.4])
    assert set(model.group_rates_["plan"]) == {"basic", "pro"}


def test_last_period_rate_accepts_labels_separately_and_checks_columns():
    model = LastPeriodRateBaseline(group_cols=("plan",), min_group_size=1)
    model.fit(SNAPSHOTS.drop(columns="label"), SNAPSHOTS["label"])
    assert model.predict_proba(pd.DataFrame({"plan": ["plus"]}))[0, 1] == 1.0
    with pytest.raises(ValueError, match="label"):
        LastPeriodRateBaseline().fit(SNAPSHOTS.drop(columns="label"))
    with pytest.raises(ValueError, match="plan"):
        model.predict_proba(pd.DataFrame({"region": ["eu"]}))
