"""Evaluation figures: calibration, cumulative gains, family importance, SHAP summary.

Every function builds a `matplotlib.figure.Figure` directly (no pyplot, no backend switch, no
global state): the caller saves it with `save_figure`, which renders with the Agg canvas.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from churnseg.data.io import atomic_path
from churnseg.model.evaluate import NON_FEATURE_CONTRIB_COLUMNS

DPI = 110
MODEL_COLOR = "#1f4e79"
REFERENCE_STYLE = {"color": "#999999", "linestyle": "--", "linewidth": 1.0}


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def calibration_plot(table: pd.DataFrame, title: str = "Calibration") -> Figure:
    """Reliability curve: observed churn rate against mean predicted probability per bin.

    Args:
        table: output of `churnseg.model.evaluate.calibration_table`.
        title: axes title.

    Returns:
        A figure with the model curve and the diagonal of perfect calibration.
    """
    fig = _new_figure(5.5, 5.0)
    ax = fig.add_subplot()
    top = float(max(table["mean_predicted"].max(), table["observed_rate"].max(), 0.0))
    limit = min(1.0, top * 1.1) if top > 0 else 1.0
    ax.plot([0, limit], [0, limit], label="perfectly calibrated", **REFERENCE_STYLE)
    ax.plot(
        table["mean_predicted"],
        table["observed_rate"],
        marker="o",
        color=MODEL_COLOR,
        label="model",
    )
    ax.set_xlim(0, limit)
    ax.set_ylim(0, limit)
    ax.set_xlabel("mean predicted churn probability")
    ax.set_ylabel("observed churn rate")
    ax.set_title(title)
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return fig


def gains_chart(
    table: pd.DataFrame,
    baselines: Mapping[str, pd.DataFrame] | None = None,
    title: str = "Cumulative gains",
) -> Figure:
    """Share of churners (and of churned ARR) captured against the fraction of accounts targeted.

    Args:
        table: the model's `churnseg.model.evaluate.gains_table`.
        baselines: name -> gains table of a baseline on the same test set.
        title: figure title.

    Returns:
        A figure with one panel for churners and, when the tables have `share_churned_arr`, one for
        churned ARR; each panel has the model, every baseline and the random-targeting diagonal.
    """
    baselines = dict(baselines or {})
    panels = [("share_churners", "share of churners captured")]
    if "share_churned_arr" in table.columns:
        panels.append(("share_churned_arr", "share of churned ARR captured"))
    fig = _new_figure(5.5 * len(panels), 5.0)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (column, label) in zip(axes, panels, strict=True):
        ax.plot([0, 1], [0, 1], label="random", **REFERENCE_STYLE)
        _gains_line(ax, table, column, "model", color=MODEL_COLOR, linewidth=2.0)
        for name, base in baselines.items():
            if column in base.columns:
                _gains_line(ax, base, column, name, linewidth=1.2)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_xlabel("fraction of accounts targeted")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    fig.suptitle(title)
    return fig


def _gains_line(ax: Axes, table: pd.DataFrame, column: str, label: str, **style: object) -> None:
    # every curve starts at the origin: targeting nobody captures nothing
    x = np.r_[0.0, table["fraction"].to_numpy(dtype=np.float64)]
    y = np.r_[0.0, table[column].to_numpy(dtype=np.float64)]
    ax.plot(x, y, label=label, **style)


def family_importance_plot(df: pd.DataFrame, title: str = "Importance by feature family") -> Figure:
    """Horizontal bars of mean |SHAP| per feature family, largest on top.

    Args:
        df: output of `churnseg.model.evaluate.family_importance`.
        title: axes title.

    Returns:
        A figure with one bar per family, labelled with its share of the total.
    """
    ordered = df.sort_values("importance", ascending=True, kind="stable")
    fig = _new_figure(6.5, 1.0 + 0.45 * max(len(ordered), 1))
    ax = fig.add_subplot()
    bars = ax.barh(ordered["family"].astype(str), ordered["importance"], color=MODEL_COLOR)
    if "share" in ordered.columns:
        ax.bar_label(bars, labels=[f"{s:.0%}" for s in ordered["share"]], padding=3, fontsize=9)
    ax.set_xlabel("mean |SHAP contribution| (log-odds), summed over the family's features")
    ax.set_title(title)
    ax.margins(x=0.15)
    return fig


def shap_summary_plot(
    contrib: pd.DataFrame,
    X: pd.DataFrame,
    max_display: int = 20,
    title: str = "SHAP summary",
    seed: int = 0,
) -> Figure:
    """SHAP beeswarm: each account's contribution per feature, coloured by the feature value.

    Args:
        contrib: per-account contributions, one column per feature (a trailing `bias` /
            `expected_value` column is ignored); rows aligned with `X`.
        X: the feature values of the same accounts; categorical columns are shown by their codes.
        max_display: number of features shown (the rest are summed in one row).
        title: axes title.
        seed: seed of the beeswarm's vertical jitter (the figure is reproducible).

    Returns:
        The figure drawn by `shap.plots.beeswarm`.
    """
    with warnings.catch_warnings():
        # shap's colour maps use matplotlib calls that newer versions deprecate: not ours to fix
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap  # heavy import, only needed here

    features = [c for c in contrib.columns if str(c) not in NON_FEATURE_CONTRIB_COLUMNS]
    missing = [c for c in features if c not in X.columns]
    if missing:
        raise ValueError(f"feature values missing for SHAP columns: {', '.join(map(str, missing))}")
    if len(contrib) != len(X):
        raise ValueError(f"contributions have {len(contrib)} rows but X has {len(X)}")
    values = _numeric_view(X[features])
    explanation = shap.Explanation(
        values=contrib[features].to_numpy(dtype=np.float64),
        data=values.to_numpy(dtype=np.float64),
        feature_names=[str(c) for c in features],
    )
    fig = _new_figure(8.0, 0.4 * min(max_display, len(features)) + 1.5)
    ax = fig.add_subplot()
    # the beeswarm jitters with numpy's global generator: seed it for a reproducible figure and
    # put the caller's state back afterwards
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        shap.plots.beeswarm(explanation, max_display=max_display, ax=ax, show=False, plot_size=None)
    finally:
        np.random.set_state(state)
    ax.set_title(title)
    return fig


def _numeric_view(X: pd.DataFrame) -> pd.DataFrame:
    """Feature values as floats for the colour scale: categories by code, missing as NaN."""
    out = {}
    for c in X.columns:
        col = X[c]
        if isinstance(col.dtype, pd.CategoricalDtype):
            codes = col.cat.codes.to_numpy(dtype=np.float64)
            out[c] = np.where(codes < 0, np.nan, codes)
        elif pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
            out[c] = col.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            codes = pd.Categorical(col).codes.astype(np.float64)
            out[c] = np.where(codes < 0, np.nan, codes)
    return pd.DataFrame(out, index=X.index)


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write `fig` as a PNG atomically (temporary file, then rename).

    Args:
        fig: the figure.
        path: destination; parent folders are created.

    Returns:
        The path written.
    """
    target = Path(path)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    return target
