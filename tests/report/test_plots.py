"""Evaluation figures: right content, PNG output, no pyplot state left behind."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from churnseg.model import evaluate as ev
from churnseg.report import plots

RNG = np.random.default_rng(0)
P = RNG.beta(1, 8, 400)
Y = (RNG.random(400) < P).astype(int)
ARR = RNG.lognormal(8, 1, 400)


def test_calibration_plot_has_curve_and_diagonal(tmp_path):
    fig = plots.calibration_plot(ev.calibration_table(Y, P, n_bins=8))
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert len(ax.lines) == 2  # perfectly calibrated + model
    assert len(ax.lines[1].get_xdata()) == 8
    out = plots.save_figure(fig, tmp_path / "figs" / "calibration.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in out.parent.iterdir()] == ["calibration.png"]  # no temp file left


def test_gains_chart_draws_model_baselines_and_random():
    model = ev.gains_table(Y, P, ARR, n_bins=10)
    baselines = {
        "logistic": ev.gains_table(Y, P + RNG.normal(0, 0.05, 400), ARR, n_bins=10),
        "last period rate": ev.gains_table(Y, np.full(400, 0.1), ARR, n_bins=10),
    }
    fig = plots.gains_chart(model, baselines)
    assert len(fig.axes) == 2  # churners and churned ARR
    for ax in fig.axes:
        assert len(ax.lines) == 4  # random, model, two baselines
        assert ax.lines[1].get_xdata()[0] == 0.0 and len(ax.lines[1].get_xdata()) == 11
    only_churners = plots.gains_chart(ev.gains_table(Y, P, n_bins=5))
    assert len(only_churners.axes) == 1 and len(only_churners.axes[0].lines) == 2


def test_family_importance_plot_has_one_bar_per_family(tmp_path):
    contrib = pd.DataFrame({"a": [0.3, -0.1], "b": [0.2, 0.2], "c": [0.0, 0.5], "bias": [1, 1]})
    df = ev.family_importance(contrib, {"a": "payments", "b": "usage", "c": "usage"})
    fig = plots.family_importance_plot(df)
    (ax,) = fig.axes
    assert len(ax.patches) == 2
    assert [t.get_text() for t in ax.get_yticklabels()] == ["payments", "usage"]  # largest on top
    assert plots.save_figure(fig, tmp_path / "families.png").stat().st_size > 0


def test_shap_summary_plot_with_categories_and_no_global_state(tmp_path):
    X = pd.DataFrame(
        {
            "failed_payments_30d": RNG.poisson(1, 200).astype(float),
            "logins_30d": RNG.gamma(2, 10, 200),
            "plan": pd.Categorical(RNG.choice(["basic", "pro", None], 200)),
            "region": RNG.choice(["eu", "us"], 200),
        }
    )
    contrib = pd.DataFrame(RNG.normal(0, 1, (200, 4)), columns=X.columns).assign(bias=-2.0)
    figures_before = plt.get_fignums()
    state_before = np.random.get_state()[1].copy()
    fig = plots.shap_summary_plot(contrib, X, max_display=3)
    assert isinstance(fig, Figure)
    assert plt.get_fignums() == figures_before
    assert np.array_equal(np.random.get_state()[1], state_before)
    ax = fig.axes[0]
    assert len(ax.get_yticklabels()) == 3  # two features + "Sum of 2 other features"
    assert len(fig.axes) == 2  # the beeswarm and its colour bar
    assert plots.save_figure(fig, tmp_path / "shap.png").stat().st_size > 0
    with pytest.raises(ValueError, match="rows"):
        plots.shap_summary_plot(contrib.head(5), X)
