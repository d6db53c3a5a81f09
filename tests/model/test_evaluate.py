"""Evaluation metrics: exact values on hand-built cases, agreement with scikit-learn, bootstrap."""

import math
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from churnseg.model import evaluate as ev

# 10 accounts, ranked by score from the top: churners at ranks 1, 3, 4 and 8
Y10 = np.array([1, 0, 1, 1, 0, 0, 0, 1, 0, 0])
S10 = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
ARR10 = np.array([100.0, 50, 300, 600, 10, 10, 10, 1000, 10, 10])


def _random_case(n: int, seed: int, decimals: int | None = None):
    rng = np.random.default_rng(seed)
    p = rng.beta(1, 8, n)
    if decimals is not None:
        p = np.round(p, decimals)
    y = (rng.random(n) < p).astype(int)
    arr = rng.lognormal(8, 1, n)
    return y, p, arr


# --------------------------------------------------------------------------------------------
# Calibration error
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", ["quantile", "uniform"])
def test_ece_is_zero_when_every_bin_is_calibrated(strategy):
    p = np.r_[np.full(10, 0.2), np.full(10, 0.8)]
    y = np.r_[[1, 1] + [0] * 8, [1] * 8 + [0, 0]]
    assert ev.expected_calibration_error(y, p, n_bins=10, strategy=strategy) == pytest.approx(0)


@pytest.mark.parametrize("n_bins", [1, 2, 10, 40])
def test_ece_of_a_known_miscalibration(n_bins):
    # bin at 0.1 observes 0.3 (gap 0.2, 10 rows), bin at 0.6 observes 0.6 (gap 0, 30 rows)
    p = np.r_[np.full(10, 0.1), np.full(30, 0.6)]
    y = np.r_[[1] * 3 + [0] * 7, [1] * 18 + [0] * 12]
    expected = (10 * 0.2 + 30 * 0.0) / 40
    if n_bins == 1:  # one bin: |21/40 - (1 + 18)/40|
        expected = abs(21 / 40 - 19 / 40)
    for strategy in ("uniform", "quantile"):
        ece = ev.expected_calibration_error(y, p, n_bins=n_bins, strategy=strategy)
        assert ece == pytest.approx(expected)
    assert ev.classification_metrics(y, p, ece_bins=n_bins)["ece"] == pytest.approx(expected)


def test_ece_matches_the_calibration_table():
    y, p, _ = _random_case(3000, seed=3)
    table = ev.calibration_table(y, p, n_bins=10)
    assert len(table) == 10 and table["count"].sum() == 3000
    assert table["count"].between(299, 301).all()  # equal-count bins
    assert table["mean_predicted"].is_monotonic_increasing
    from_table = (table["observed_rate"] - table["mean_predicted"]).abs() @ table["count"] / 3000
    assert ev.expected_calibration_error(y, p) == pytest.approx(from_table)
    assert ev.classification_metrics(y, p)["ece"] == pytest.approx(from_table)


def test_calibration_table_keeps_ties_in_one_bin():
    p = np.r_[np.full(50, 0.1), np.full(50, 0.3)]
    y = np.r_[[1] * 5 + [0] * 45, [1] * 15 + [0] * 35]
    table = ev.calibration_table(y, p, n_bins=10)
    assert list(table["count"]) == [50, 50]
    assert list(table["observed_rate"]) == pytest.approx([0.1, 0.3])


# --------------------------------------------------------------------------------------------
# Top-k metrics
# --------------------------------------------------------------------------------------------
def test_lift_recall_and_arr_captured_by_hand():
    # top 20% = ranks 1-2: one churner of 4; top 30% = ranks 1-3: two churners
    assert ev.recall_at(Y10, S10, 0.2) == pytest.approx(1 / 4)
    assert ev.lift_at(Y10, S10, 0.2) == pytest.approx((1 / 2) / (4 / 10))
    assert ev.recall_at(Y10, S10, 0.3) == pytest.approx(2 / 4)
    assert ev.lift_at(Y10, S10, 0.3) == pytest.approx((2 / 3) / 0.4)
    # churned ARR = 100 + 300 + 600 + 1000 = 2000; top 30% holds 100 + 300
    assert ev.arr_captured_at(Y10, S10, ARR10, 0.3) == pytest.approx(400 / 2000)
    # ranked by expected ARR at risk (score x ARR: 90, 40, 210, 360, ...) the 600-ARR churner
    # moves to the top
    assert ev.arr_captured_at(Y10, S10, ARR10, 0.1) == pytest.approx(100 / 2000)
    assert ev.arr_captured_at(Y10, S10 * ARR10, ARR10, 0.1) == pytest.approx(600 / 2000)
    m = ev.classification_metrics(Y10, S10, ARR10, ks=(0.2, 0.3))
    assert m["recall_at_20"] == pytest.approx(1 / 4)
    assert m["lift_at_30"] == pytest.approx((2 / 3) / 0.4)
    assert m["arr_captured_at_30"] == pytest.approx(0.2)
    assert m["base_rate"] == pytest.approx(0.4)


def test_top_k_takes_ceil_and_breaks_ties_by_position():
    scores = np.array([0.5, 0.9, 0.5, 0.5, 0.1])
    assert ev.top_k_mask(scores, 0.4).tolist() == [True, True, False, False, False]
    assert ev.top_k_mask(scores, 0.5).tolist() == [True, True, True, False, False]  # ceil(2.5)
    assert ev.top_k_mask(scores, 0.01).sum() == 1  # at least one row
    assert ev.top_k_mask(np.zeros(10), 0.1 * 3).sum() == 3  # 0.1 * 3 * 10 is 3.0000000000000004
    assert ev.top_k_mask(scores, 1.0).all()
    with pytest.raises(ValueError, match="k is the fraction"):
        ev.top_k_mask(scores, 0)


def test_engine_tie_break_matches_top_k_mask():
    # constant scores: the top k is the first rows, in the engine as in top_k_mask
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 1])
    p = np.full(10, 0.3)
    m = ev.classification_metrics(y, p, ks=(0.2,))
    assert m["recall_at_20"] == pytest.approx(ev.recall_at(y, p, 0.2)) == pytest.approx(2 / 3)


def test_gains_table_agrees_with_the_top_k_metrics():
    table = ev.gains_table(Y10, S10, ARR10, n_bins=10)
    assert list(table["n_targeted"]) == list(range(1, 11))
    row = table.loc[2]  # top 30%
    assert row["share_churners"] == pytest.approx(ev.recall_at(Y10, S10, 0.3))
    assert row["lift"] == pytest.approx(ev.lift_at(Y10, S10, 0.3))
    assert row["share_churned_arr"] == pytest.approx(ev.arr_captured_at(Y10, S10, ARR10, 0.3))
    assert table["share_churners"].iloc[-1] == 1.0 and table["lift"].iloc[-1] == 1.0
    assert "share_churned_arr" not in ev.gains_table(Y10, S10).columns


# --------------------------------------------------------------------------------------------
# Agreement with scikit-learn
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("decimals", [None, 2])  # continuous scores and heavy ties
def test_metrics_equal_sklearn_on_random_data(decimals):
    y, p, _ = _random_case(5000, seed=7, decimals=decimals)
    m = ev.classification_metrics(y, p)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, p), abs=1e-12)
    assert m["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    assert m["log_loss"] == pytest.approx(log_loss(y, p), abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.integers(0, 4)), min_size=2, max_size=40),
)
def test_auc_and_average_precision_equal_sklearn_on_small_tied_samples(rows):
    y = np.array([r[0] for r in rows], dtype=int)
    p = np.array([r[1] / 4 for r in rows])
    m = ev.classification_metrics(y, p, ks=(0.5,))
    if y.min() == y.max():
        assert math.isnan(m["roc_auc"])
        return
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, p), abs=1e-12)


def test_resample_weights_equal_duplicated_rows():
    # continuous scores: with ties the top-k tie-break follows resample positions instead
    y, p, arr = _random_case(800, seed=11)
    idx = np.random.default_rng(0).integers(0, 800, (3, 800))
    counts = np.stack([np.bincount(row, minlength=800) for row in idx])
    weighted = ev._Engine(y.astype(float), p, arr, ks=(0.05, 0.1)).compute(counts)
    for b, rows in enumerate(idx):
        direct = ev.classification_metrics(y[rows], p[rows], arr[rows], ks=(0.05, 0.1))
        for name, value in direct.items():
            assert weighted[name][b] == pytest.approx(value, abs=1e-10), (b, name)


# --------------------------------------------------------------------------------------------
# Bootstrap
# --------------------------------------------------------------------------------------------
def test_bootstrap_ci_contains_the_estimate_and_narrows_with_more_data():
    small = ev.bootstrap_metrics(*_random_case(1000, seed=1), n_boot=100)
    large = ev.bootstrap_metrics(*_random_case(20000, seed=1), n_boot=100)
    assert list(small.columns) == ["metric", "value", "ci_low", "ci_high"]
    assert "arr_captured_at_10" in set(small["metric"])
    # ECE is biased upwards in resamples, so its percentile interval can sit above the estimate
    unbiased = small["metric"] != "ece"
    inside = (small["ci_low"] <= small["value"]) & (small["value"] <= small["ci_high"])
    assert inside[unbiased].all()
    width = (large["ci_high"] - large["ci_low"]) / (small["ci_high"] - small["ci_low"])
    assert (width < 0.6).all()  # ~ sqrt(1000 / 20000) = 0.22


def test_bootstrap_value_equals_the_point_metrics_and_is_reproducible():
    y, p, arr = _random_case(2000, seed=2)
    a = ev.bootstrap_metrics(y, p, arr, n_boot=50, seed=4)
    b = ev.bootstrap_metrics(y, p, arr, n_boot=50, seed=4)
    pd.testing.assert_frame_equal(a, b)
    point = ev.classification_metrics(y, p, arr)
    assert dict(zip(a["metric"], a["value"], strict=True)) == pytest.approx(point)


def test_bootstrap_skips_one_class_resamples():
    y = np.r_[1, np.zeros(9, dtype=int)]
    p = np.linspace(0.9, 0.0, 10)
    df = ev.bootstrap_metrics(y, p, n_boot=100, seed=0)
    auc = df.set_index("metric").loc["roc_auc"]
    assert auc["value"] == 1.0 and auc["ci_low"] == 1.0


def test_cluster_bootstrap_resamples_accounts_not_rows():
    # every account appears 3 times with the same outcome (overlapping label windows at their
    # most extreme): resampling rows treats that as 3x the evidence, resampling accounts does not
    y, p, arr = _random_case(3000, seed=12)
    rep = lambda v: np.repeat(v, 3)  # noqa: E731
    accounts = rep(np.arange(3000).astype(str))
    unique = ev.bootstrap_metrics(y, p, arr, n_boot=60, seed=3).set_index("metric")
    rows = ev.bootstrap_metrics(rep(y), rep(p), rep(arr), n_boot=60, seed=3).set_index("metric")
    clustered = ev.bootstrap_metrics(rep(y), rep(p), rep(arr), n_boot=60, seed=3,
                                     groups=accounts).set_index("metric")
    for metric in ("roc_auc", "pr_auc", "brier", "log_loss"):
        # the same draws of accounts give the same resampled metrics as the unique rows
        assert clustered.loc[metric].to_numpy() == pytest.approx(unique.loc[metric].to_numpy())
    width = lambda df: df["ci_high"] - df["ci_low"]  # noqa: E731
    ratio = width(rows).loc["roc_auc"] / width(clustered).loc["roc_auc"]
    assert 0.4 < ratio < 0.75  # ~ 1 / sqrt(3) = 0.58
    # one row per group is the plain row bootstrap
    singles = ev.bootstrap_metrics(y, p, arr, n_boot=60, seed=3, groups=np.arange(3000))
    pd.testing.assert_frame_equal(singles, unique.reset_index())
    diff = ev.paired_bootstrap_difference(rep(y), rep(p), rep(np.sqrt(p)), "roc_auc",
                                          n_boot=30, groups=accounts)
    assert diff == (0.0, 0.0, 0.0)  # a monotone transform ranks identically
    with pytest.raises(ValueError, match="groups has 5 values for 3000 rows"):
        ev.bootstrap_metrics(y, p, groups=np.arange(5))


def test_bootstrap_of_50k_rows_is_fast():
    y, p, arr = _random_case(50_000, seed=5, decimals=3)
    start = time.perf_counter()
    ev.bootstrap_metrics(y, p, arr, n_boot=200)
    assert time.perf_counter() - start < 15  # ~1-2 s; generous for loaded CI machines


def test_paired_difference_of_identical_predictors_is_zero():
    y, p, arr = _random_case(3000, seed=8)
    assert ev.paired_bootstrap_difference(y, p, p, "roc_auc", n_boot=50) == (0.0, 0.0, 0.0)
    diff = ev.paired_bootstrap_difference(y, p, p, "arr_captured_at_10", arr=arr, n_boot=50)
    assert diff == (0.0, 0.0, 0.0)


def test_paired_difference_detects_a_better_predictor():
    y, p, _ = _random_case(5000, seed=9)
    noisy = np.clip(p + np.random.default_rng(1).normal(0, 0.15, p.size), 0, 1)
    diff, lo, hi = ev.paired_bootstrap_difference(y, p, noisy, "roc_auc", n_boot=100)
    assert diff == pytest.approx(roc_auc_score(y, p) - roc_auc_score(y, noisy))
    assert 0 < lo <= diff <= hi
    with pytest.raises(ValueError, match="unknown metric"):
        ev.paired_bootstrap_difference(y, p, noisy, "accuracy")


def test_cis_overlap():
    a = pd.DataFrame({"metric": ["roc_auc"], "value": [0.8], "ci_low": [0.78], "ci_high": [0.82]})
    b = a.assign(value=0.75, ci_low=0.73, ci_high=0.77)
    c = a.assign(value=0.77, ci_low=0.75, ci_high=0.79)
    assert not ev.cis_overlap(a, b, "roc_auc")
    assert ev.cis_overlap(a, c, "roc_auc") and ev.cis_overlap(c, a, "roc_auc")
    with pytest.raises(ValueError, match="brier"):
        ev.cis_overlap(a, b, "brier")


# --------------------------------------------------------------------------------------------
# Input checks and family importance
# --------------------------------------------------------------------------------------------
def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="labels must be 0/1"):
        ev.classification_metrics([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="p has 1 missing"):
        ev.classification_metrics([0, 1], [0.1, np.nan])
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        ev.classification_metrics([0, 1], [0.1, 1.2])
    with pytest.raises(ValueError, match="one value per label"):
        ev.classification_metrics([0, 1], [0.1, 0.2], arr=[1.0])


def test_one_class_gives_nan_ranking_metrics():
    m = ev.classification_metrics([0, 0, 0], [0.1, 0.2, 0.3])
    assert math.isnan(m["roc_auc"]) and math.isnan(m["recall_at_10"])
    assert m["brier"] == pytest.approx((0.01 + 0.04 + 0.09) / 3)


def test_family_importance_sums_mean_abs_contributions_by_family():
    contrib = pd.DataFrame(
        {
            "failed_payments_30d": [0.5, -0.5],
            "payment_retries": [0.1, 0.1],
            "logins_30d": [-1.0, 1.0],
            "region": [0.2, 0.0],
            "bias": [-3.0, -3.0],
        }
    )
    families = {
        "failed_payments_30d": "payments",
        "payment_retries": "payments",
        "logins_30d": "usage",
    }
    out = ev.family_importance(contrib, families)
    assert list(out.columns) == ["family", "importance", "share", "n_features"]
    assert list(out["family"]) == ["usage", "payments", "other"]
    assert list(out["importance"]) == pytest.approx([1.0, 0.6, 0.1])
    assert list(out["share"]) == pytest.approx([1 / 1.7, 0.6 / 1.7, 0.1 / 1.7])
    assert list(out["n_features"]) == [1, 2, 1]
    assert contrib.columns[-1] == "bias"  # input untouched
