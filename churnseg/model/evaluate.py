"""Honest evaluation of churn probabilities: ranking, calibration, value captured, with CIs.

Every metric is computed by one weighted engine: a row's weight is how many times it appears in
the sample (all ones for the full sample, multinomial counts for a bootstrap resample). The data
are sorted once, so a resample costs a few cumulative sums instead of a sort and 200 resamples of
50k rows take about a second. Point estimates therefore equal the bootstrap metric on the full
sample, and ROC-AUC / average precision / Brier / log loss equal scikit-learn's.

Top-k selections (lift, recall, ARR captured) take the first ``ceil(k * n)`` rows ranked by score,
ties broken by position (a stable sort), so they are deterministic but depend on row order when
scores tie.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

log = logging.getLogger(__name__)

BinStrategy = Literal["uniform", "quantile"]

DEFAULT_KS: tuple[float, ...] = (0.05, 0.1, 0.2)
LOG_LOSS_EPS = 1e-15
# Columns of a SHAP contribution frame that are not features (LightGBM / shap naming).
NON_FEATURE_CONTRIB_COLUMNS = frozenset({"bias", "expected_value", "base_value"})
# Cells per chunk of the resample-weight matrix: small chunks stay in cache (measured fastest).
_CHUNK_CELLS = 250_000
_TOPK_METRIC = re.compile(r"^(lift|recall|arr_captured)_at_(\d+(?:_\d+)?)$")


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------
def _as_labels(y_true: ArrayLike) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {y.shape}")
    if y.size == 0:
        raise ValueError("labels are empty: nothing to evaluate")
    if y.dtype.kind not in "biuf":
        raise ValueError(f"labels must be 0/1, got dtype {y.dtype}")
    y = y.astype(np.float64)
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        raise ValueError(
            f"labels must be 0/1; {int(bad.sum())} rows are not (first at position "
            f"{int(np.flatnonzero(bad)[0])})"
        )
    return y


def _as_values(values: ArrayLike, n: int, name: str, unit_interval: bool = False) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.shape != (n,):
        raise ValueError(f"{name} must have one value per label ({n}), got shape {v.shape}")
    bad = ~np.isfinite(v)
    if bad.any():
        raise ValueError(
            f"{name} has {int(bad.sum())} missing or infinite values (first at position "
            f"{int(np.flatnonzero(bad)[0])})"
        )
    if unit_interval and ((v < 0).any() or (v > 1).any()):
        raise ValueError(f"{name} must be probabilities in [0, 1]")
    return v


def _check_k(k: float) -> float:
    if not 0 < k <= 1:
        raise ValueError(f"k is the fraction of accounts targeted and must be in (0, 1], got {k}")
    return float(k)


def _n_top(k: float, n: float) -> int:
    """Rows in the top fraction `k` of `n`: ceil(k n), at least one (rounded: 0.1 * 30 > 3)."""
    return max(1, math.ceil(round(k * n, 9)))


def k_label(k: float) -> str:
    """Metric-name suffix for a top-k fraction: 0.1 -> "10", 0.025 -> "2_5"."""
    return f"{k * 100:g}".replace(".", "_")


# --------------------------------------------------------------------------------------------
# Top-k selections
# --------------------------------------------------------------------------------------------
def _desc_order(score: np.ndarray) -> np.ndarray:
    # stable sort on -score: ties keep their original order, so the selection is deterministic
    return np.argsort(-score, kind="stable")


def top_k_mask(scores: ArrayLike, k: float) -> np.ndarray:
    """Boolean mask of the top fraction `k` of rows by score.

    Args:
        scores: one score per row; higher is riskier / more valuable.
        k: fraction of rows to select, in (0, 1]; ``ceil(k * n)`` rows (at least one) are taken.

    Returns:
        Mask in the original row order; among tied scores the earlier rows are taken first.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"scores must be one-dimensional, got shape {s.shape}")
    s = _as_values(s, s.size, "scores")
    _check_k(k)
    mask = np.zeros(s.shape[0], dtype=bool)
    mask[_desc_order(s)[: _n_top(k, s.shape[0])]] = True
    return mask


def lift_at(y: ArrayLike, score: ArrayLike, k: float) -> float:
    """Churn rate among the top fraction `k` by score divided by the overall churn rate.

    Args:
        y: churn labels (0/1).
        score: ranking score, higher first.
        k: fraction of accounts targeted.

    Returns:
        The lift (1 = no better than random); NaN when nobody churned.
    """
    yt = _as_labels(y)
    mask = top_k_mask(_as_values(score, yt.size, "score"), k)
    base = yt.mean()
    return float(yt[mask].mean() / base) if base > 0 else math.nan


def recall_at(y: ArrayLike, score: ArrayLike, k: float) -> float:
    """Share of all churners found in the top fraction `k` by score (NaN when nobody churned)."""
    yt = _as_labels(y)
    mask = top_k_mask(_as_values(score, yt.size, "score"), k)
    total = yt.sum()
    return float(yt[mask].sum() / total) if total > 0 else math.nan


def arr_captured_at(y: ArrayLike, score: ArrayLike, arr: ArrayLike, k: float) -> float:
    """Share of churned ARR held by the top fraction `k` of accounts ranked by `score`.

    Args:
        y: churn labels (0/1).
        score: ranking score: a probability, or probability x ARR to rank by money at risk.
        arr: annual recurring revenue per account.
        k: fraction of accounts targeted.

    Returns:
        Sum of ARR of churners in the top k over the sum of ARR of all churners (NaN if that is 0).
    """
    yt = _as_labels(y)
    a = _as_values(arr, yt.size, "arr")
    mask = top_k_mask(_as_values(score, yt.size, "score"), k)
    total = float((a * yt).sum())
    return float((a * yt)[mask].sum() / total) if total > 0 else math.nan


# --------------------------------------------------------------------------------------------
# The weighted engine
# --------------------------------------------------------------------------------------------
def _bin_bounds(
    p_sorted: np.ndarray, cum_weight: np.ndarray, n_bins: int, strategy: BinStrategy
) -> np.ndarray:
    """Bin boundaries, as positions in ascending-probability order, one row per weight vector.

    Bins are contiguous runs of the sorted rows and never split tied probabilities: bin j holds
    rows with edge_{j-1} < p <= edge_j. Quantile edges are the weighted inverted-CDF quantiles (an
    observed probability), so tied values collapse bins instead of splitting them.

    Args:
        p_sorted: probabilities in ascending order, shape (n,).
        cum_weight: cumulative row weights in that order, shape (B, n).
        n_bins: number of bins.
        strategy: `uniform` (equal-width on [0, 1]) or `quantile` (equal weight).

    Returns:
        Integer array (B, n_bins + 1) of boundaries from 0 to n.
    """
    n_rows, n = cum_weight.shape
    if strategy == "uniform":
        inner = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
        cuts = np.broadcast_to(np.searchsorted(p_sorted, inner, side="right"), (n_rows, n_bins - 1))
    elif strategy == "quantile":
        total = cum_weight[:, -1]
        # first row whose cumulative weight reaches j/n_bins of the total; weights are counts so
        # cum_weight * n_bins >= j * total is exact in floating point
        levels = np.arange(1, n_bins)[None, :] * total[:, None]
        first = _row_searchsorted(cum_weight * n_bins, levels, side="left")
        edges = p_sorted[np.minimum(first, n - 1)]
        cuts = np.searchsorted(p_sorted, edges.ravel(), side="right").reshape(edges.shape)
    else:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")
    zeros = np.zeros((n_rows, 1), dtype=np.int64)
    full = np.full((n_rows, 1), n, dtype=np.int64)
    return np.concatenate([zeros, np.asarray(cuts, dtype=np.int64), full], axis=1)


def _prefix_sums(values: np.ndarray) -> np.ndarray:
    """Exclusive-then-inclusive prefix sums along rows: out[:, j] = values[:, :j].sum(1)."""
    out = np.zeros((values.shape[0], values.shape[1] + 1))
    np.cumsum(values, axis=1, out=out[:, 1:])
    return out


def _row_searchsorted(sorted_rows: np.ndarray, targets: np.ndarray, side: str) -> np.ndarray:
    """`np.searchsorted` of targets (B, m) in each non-decreasing row of `sorted_rows` (B, n)."""
    n_rows, n = sorted_rows.shape
    span = max(float(np.abs(sorted_rows).max(initial=0.0)), float(np.abs(targets).max(initial=0.0)))
    # shift row b by b * (2 span + 1): the flattened array stays sorted, one search does all rows
    offset = (np.arange(n_rows) * (2.0 * span + 1.0))[:, None]
    flat = np.searchsorted((sorted_rows + offset).ravel(), (targets + offset).ravel(), side=side)
    return flat.reshape(targets.shape) - np.arange(n_rows)[:, None] * n


def _segment_sums(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Sums of each row of `values` (B, n) between consecutive `bounds` (B, m + 1), 0 if empty."""
    n_rows, n = values.shape
    starts = (bounds[:, :-1] + (np.arange(n_rows) * n)[:, None]).ravel()
    # reduceat sums values[start_i:start_{i+1}] in one pass over the flattened rows without a
    # prefix array. Starts at the very end (empty trailing bins of the last row) are out of range:
    # they are a suffix of the sorted starts, so leave them out and keep their sums at zero.
    valid = starts < values.size
    sums = np.zeros(starts.size)
    sums[valid] = np.add.reduceat(values.ravel(), starts[valid])
    sums = sums.reshape(n_rows, -1)
    return np.where(np.diff(bounds, axis=1) > 0, sums, 0.0)


def _gather(prefix: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.take_along_axis(prefix, idx, axis=1)


class _Engine:
    """All metrics of one probability vector under arbitrary row-count weights.

    Rows are sorted once by (p ascending, position descending), so the reversed order is the
    top-k ranking (p descending, ties by position). For a weight matrix every metric is then a
    handful of prefix sums in that order, gathered at tie-group ends, bin edges or top-k cutoffs.
    """

    def __init__(
        self,
        y: np.ndarray,
        p: np.ndarray,
        arr: np.ndarray | None,
        ks: Sequence[float],
        ece_bins: int = 10,
        ece_strategy: BinStrategy = "quantile",
    ) -> None:
        self.n = y.size
        self.ks = tuple(_check_k(k) for k in ks)
        self.ece_bins = ece_bins
        self.ece_strategy = ece_strategy
        self.has_arr = arr is not None
        self.asc = np.lexsort((-np.arange(self.n), p))
        self.p_asc, self.y_asc = p[self.asc], y[self.asc]
        self.arr_churn_asc = None if arr is None else (arr * y)[self.asc]
        # prefix indices bounding each group of tied probabilities (0, ..., n)
        self.group_bounds = np.r_[0, np.flatnonzero(self.p_asc[1:] != self.p_asc[:-1]) + 1, self.n]
        self.sq_err = (p - y) ** 2
        pc = np.clip(p, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
        self.neg_ll = -(y * np.log(pc) + (1 - y) * np.log1p(-pc))

    def names(self) -> list[str]:
        out = ["roc_auc", "pr_auc", "brier", "log_loss", "ece", "base_rate"]
        for k in self.ks:
            out += [f"lift_at_{k_label(k)}", f"recall_at_{k_label(k)}"]
            if self.has_arr:
                out.append(f"arr_captured_at_{k_label(k)}")
        return out

    def compute(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Every metric for each row of `weights` (B, n) of per-row counts; NaN where undefined."""
        w = np.asarray(weights, dtype=np.float64)
        out: dict[str, np.ndarray] = {}
        with np.errstate(divide="ignore", invalid="ignore"):
            w_asc = np.take(w, self.asc, axis=1)
            cw = _prefix_sums(w_asc)
            cy = _prefix_sums(w_asc * self.y_asc)
            total, n_pos = cw[:, -1], cy[:, -1]
            n_neg = total - n_pos
            # tie groups in ascending probability; prefix sums at their boundaries give every
            # count the two ranking metrics need without another pass over the rows
            if self.group_bounds.size == self.n + 1:
                at_w, at_y = cw, cy
            else:
                bounds = np.broadcast_to(self.group_bounds, (w.shape[0], self.group_bounds.size))
                at_w, at_y = _gather(cw, bounds), _gather(cy, bounds)
            g_all, g_pos = np.diff(at_w, axis=1), np.diff(at_y, axis=1)
            g_neg = g_all - g_pos
            # ROC-AUC (Mann-Whitney): each churner beats the non-churners below it, ties count 1/2
            neg_below = at_w[:, :-1] - at_y[:, :-1]
            out["roc_auc"] = (g_pos * (neg_below + 0.5 * g_neg)).sum(axis=1) / (n_pos * n_neg)
            # average precision: each threshold's recall step x precision at that threshold
            flagged = total[:, None] - at_w[:, :-1]
            tp = n_pos[:, None] - at_y[:, :-1]
            precision = tp / np.where(flagged > 0, flagged, 1.0)
            out["pr_auc"] = (g_pos * precision).sum(axis=1) / n_pos
            out["brier"] = (w @ self.sq_err) / total
            out["log_loss"] = (w @ self.neg_ll) / total
            bounds = _bin_bounds(self.p_asc, cw[:, 1:], self.ece_bins, self.ece_strategy)
            gap = np.diff(_gather(cy, bounds), axis=1) - _segment_sums(w_asc * self.p_asc, bounds)
            out["ece"] = np.abs(gap).sum(axis=1) / total
            out["base_rate"] = n_pos / total
            ca = None if self.arr_churn_asc is None else _prefix_sums(w_asc * self.arr_churn_asc)
            for k in self.ks:
                self._top_k(k, cw, cy, ca, total, n_pos, out)
        return out

    def _top_k(
        self,
        k: float,
        cw: np.ndarray,
        cy: np.ndarray,
        ca: np.ndarray | None,
        total: np.ndarray,
        n_pos: np.ndarray,
        out: dict[str, np.ndarray],
    ) -> None:
        """Lift, recall and ARR captured in the top `k`: the last ceil(k total) weight units."""
        m = np.array([_n_top(k, t) for t in total], dtype=np.float64)
        rest = (total - m)[:, None]
        # first row (ascending) whose inclusive prefix exceeds the untargeted weight: it is only
        # partly targeted (a resampled row drawn several times), everything after it fully
        cut = _row_searchsorted(cw[:, 1:], rest, side="right")
        part = _gather(cw, cut + 1) - rest
        caught = (cy[:, -1:] - _gather(cy, cut + 1) + part * self.y_asc[cut])[:, 0]
        label = k_label(k)
        out[f"lift_at_{label}"] = (caught / m) / (n_pos / total)
        out[f"recall_at_{label}"] = caught / n_pos
        if ca is not None:
            held = ca[:, -1:] - _gather(ca, cut + 1) + part * self.arr_churn_asc[cut]
            out[f"arr_captured_at_{label}"] = held[:, 0] / ca[:, -1]


def _prepare(
    y_true: ArrayLike, p: ArrayLike, arr: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    y = _as_labels(y_true)
    pv = _as_values(p, y.size, "p", unit_interval=True)
    a = None if arr is None else _as_values(arr, y.size, "arr")
    return y, pv, a


def _resample_counts(
    rng: np.random.Generator, n: int, n_boot: int, clusters: np.ndarray | None = None
) -> Iterator[np.ndarray]:
    """Yield chunks of bootstrap count matrices: row b counts how often each row was drawn.

    With `clusters` (a cluster code 0..g-1 per row), whole clusters are drawn: every row of a
    cluster drawn c times gets count c.
    """
    g = n if clusters is None else int(clusters.max()) + 1
    chunk = max(1, _CHUNK_CELLS // n)
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        idx = rng.integers(0, g, size=(b, g)) + (np.arange(b) * g)[:, None]
        counts = np.bincount(idx.ravel(), minlength=b * g).reshape(b, g)
        yield counts if clusters is None else counts[:, clusters]


def _cluster_codes(groups: ArrayLike | None, n: int) -> np.ndarray | None:
    """Dense codes 0..g-1 of the resampling unit of each row (None: every row its own unit)."""
    if groups is None:
        return None
    values = pd.Series(np.asarray(groups, dtype=object))
    if len(values) != n:
        raise ValueError(f"groups has {len(values)} values for {n} rows")
    if values.isna().any():
        raise ValueError("groups contain missing values")
    return pd.factorize(values, sort=False)[0].astype(np.int64)


def _ks_for(metric: str) -> tuple[float, ...]:
    match = _TOPK_METRIC.match(metric)
    return (float(match.group(2).replace("_", ".")) / 100,) if match else ()


# --------------------------------------------------------------------------------------------
# Public metrics
# --------------------------------------------------------------------------------------------
def expected_calibration_error(
    y_true: ArrayLike, p: ArrayLike, n_bins: int = 10, strategy: BinStrategy = "quantile"
) -> float:
    """Expected calibration error: mean |observed churn rate - mean probability| over bins.

    Bins are weighted by their share of rows; tied probabilities always share a bin, so fewer
    than `n_bins` bins may be used.

    Args:
        y_true: churn labels (0/1).
        p: predicted churn probabilities.
        n_bins: number of bins.
        strategy: `quantile` (equal-count bins, the default: churn probabilities crowd near 0)
            or `uniform` (equal-width bins on [0, 1]).

    Returns:
        The ECE, in probability units.
    """
    y, pv, _ = _prepare(y_true, p, None)
    table = calibration_table(y, pv, n_bins=n_bins, strategy=strategy)
    gap = (table["observed_rate"] - table["mean_predicted"]).abs()
    return float((gap * table["count"]).sum() / y.size)


def classification_metrics(
    y_true: ArrayLike,
    p: ArrayLike,
    arr: ArrayLike | None = None,
    ks: Sequence[float] = DEFAULT_KS,
    *,
    ece_bins: int = 10,
) -> dict[str, float]:
    """Ranking, calibration and value metrics of churn probabilities on one sample.

    Args:
        y_true: churn labels (0/1).
        p: predicted churn probabilities in [0, 1].
        arr: ARR per account; adds `arr_captured_at_<k>` (accounts ranked by `p`).
        ks: fractions of accounts targeted for lift, recall and ARR captured.
        ece_bins: quantile bins of the expected calibration error.

    Returns:
        roc_auc, pr_auc (average precision), brier, log_loss (p clipped to [1e-15, 1 - 1e-15]),
        ece, base_rate and, per k (as a percentage, e.g. `lift_at_10`), lift_at, recall_at and
        arr_captured_at. Metrics that need both classes are NaN when only one is present.
    """
    y, pv, a = _prepare(y_true, p, arr)
    engine = _Engine(y, pv, a, ks, ece_bins=ece_bins)
    values = engine.compute(np.ones((1, y.size)))
    if y.min() == y.max():
        log.warning("only one class in the labels: ranking metrics are undefined (NaN)")
    return {name: float(values[name][0]) for name in engine.names()}


def bootstrap_metrics(
    y_true: ArrayLike,
    p: ArrayLike,
    arr: ArrayLike | None = None,
    n_boot: int = 200,
    seed: int = 0,
    ks: Sequence[float] = DEFAULT_KS,
    *,
    groups: ArrayLike | None = None,
    ece_bins: int = 10,
    level: float = 0.95,
) -> pd.DataFrame:
    """Metrics with percentile-bootstrap confidence intervals.

    Rows are resampled with replacement (multinomial counts); resamples with a single class are
    skipped (and counted in the log). With `groups`, whole groups are resampled instead (a
    cluster bootstrap): monthly snapshots of one account share churn events through their
    overlapping label windows, so resampling them as independent rows would make the intervals
    too narrow.

    Args:
        y_true: churn labels (0/1).
        p: predicted churn probabilities in [0, 1].
        arr: ARR per account, for ARR captured.
        n_boot: number of resamples.
        seed: seed of the resampling; the same seed gives the same resamples for any predictor
            of the same length.
        ks: fractions of accounts targeted.
        groups: the resampling unit of each row (e.g. account_id); default each row alone.
        ece_bins: quantile bins of the expected calibration error.
        level: coverage of the interval (0.95 -> 2.5th and 97.5th percentiles).

    Returns:
        One row per metric (names as in `classification_metrics`): metric, value (full sample),
        ci_low, ci_high.
    """
    y, pv, a = _prepare(y_true, p, arr)
    engine = _Engine(y, pv, a, ks, ece_bins=ece_bins)
    point = engine.compute(np.ones((1, y.size)))
    draws = _bootstrap_draws([engine], y, n_boot, seed, groups)[0]
    lo_q, hi_q = 50 * (1 - level), 50 * (1 + level)
    rows = []
    for name in engine.names():
        lo, hi = _percentiles(draws[name], lo_q, hi_q)
        rows.append({"metric": name, "value": float(point[name][0]), "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows, columns=["metric", "value", "ci_low", "ci_high"])


def _percentiles(values: np.ndarray, lo_q: float, hi_q: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return math.nan, math.nan
    lo, hi = np.percentile(finite, [lo_q, hi_q])
    return float(lo), float(hi)


def _bootstrap_draws(
    engines: Sequence[_Engine],
    y: np.ndarray,
    n_boot: int,
    seed: int,
    groups: ArrayLike | None = None,
) -> list[dict[str, np.ndarray]]:
    """Metric values over the same resamples for each engine, one-class resamples dropped."""
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    rng = np.random.default_rng(seed)
    parts: list[list[dict[str, np.ndarray]]] = [[] for _ in engines]
    skipped = 0
    for counts in _resample_counts(rng, y.size, n_boot, _cluster_codes(groups, y.size)):
        n_pos = counts @ y
        keep = (n_pos > 0) & (n_pos < y.size)
        skipped += int((~keep).sum())
        if not keep.any():
            continue
        for part, engine in zip(parts, engines, strict=True):
            part.append(engine.compute(counts[keep]))
    if skipped:
        log.info("bootstrap: skipped %d of %d resamples with a single class", skipped, n_boot)
    return [
        {
            name: np.concatenate([chunk[name] for chunk in part]) if part else np.array([])
            for name in engine.names()
        }
        for part, engine in zip(parts, engines, strict=True)
    ]


def paired_bootstrap_difference(
    y: ArrayLike,
    p_a: ArrayLike,
    p_b: ArrayLike,
    metric: str,
    arr: ArrayLike | None = None,
    n_boot: int = 200,
    seed: int = 0,
    *,
    groups: ArrayLike | None = None,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """Difference of a metric between two predictors (a - b) with a paired bootstrap interval.

    Both predictors are scored on the same resamples, so the interval reflects the difference
    itself rather than two independent noises: use it to compare a challenger with the champion.

    Args:
        y: churn labels (0/1).
        p_a: probabilities of predictor a.
        p_b: probabilities of predictor b, same rows.
        metric: a name from `classification_metrics` (e.g. `roc_auc`, `arr_captured_at_10`).
        arr: ARR per account (needed for `arr_captured_at_*`).
        n_boot: number of resamples.
        seed: seed of the resampling.
        groups: the resampling unit of each row (see `bootstrap_metrics`).
        level: coverage of the interval.

    Returns:
        (difference on the full sample, ci_low, ci_high).
    """
    yv, pa, av = _prepare(y, p_a, arr)
    _, pb, _ = _prepare(yv, p_b, None)
    ks = _ks_for(metric)
    engines = [_Engine(yv, pa, av, ks), _Engine(yv, pb, av, ks)]
    if metric not in engines[0].names():
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(engines[0].names())}")
    ones = np.ones((1, yv.size))
    diff = float(engines[0].compute(ones)[metric][0] - engines[1].compute(ones)[metric][0])
    draws_a, draws_b = _bootstrap_draws(engines, yv, n_boot, seed, groups)
    lo, hi = _percentiles(draws_a[metric] - draws_b[metric], 50 * (1 - level), 50 * (1 + level))
    return diff, lo, hi


def cis_overlap(df_a: pd.DataFrame, df_b: pd.DataFrame, metric: str) -> bool:
    """Whether the confidence intervals of `metric` in two `bootstrap_metrics` frames overlap."""
    rows = []
    for name, df in (("first", df_a), ("second", df_b)):
        match = df.loc[df["metric"] == metric]
        if match.empty:
            raise ValueError(f"metric {metric!r} is not in the {name} bootstrap frame")
        rows.append(match.iloc[0])
    a, b = rows
    return bool(a["ci_low"] <= b["ci_high"] and b["ci_low"] <= a["ci_high"])


# --------------------------------------------------------------------------------------------
# Tables behind the plots
# --------------------------------------------------------------------------------------------
def calibration_table(
    y: ArrayLike, p: ArrayLike, n_bins: int = 10, strategy: BinStrategy = "quantile"
) -> pd.DataFrame:
    """Observed churn rate against mean predicted probability per bin (the reliability curve).

    Args:
        y: churn labels (0/1).
        p: predicted churn probabilities.
        n_bins: number of bins (tied probabilities share a bin, empty bins are dropped).
        strategy: `quantile` (equal-count) or `uniform` (equal-width) bins.

    Returns:
        Columns bin (0-based, ascending probability), mean_predicted, observed_rate, count.
    """
    yv, pv, _ = _prepare(y, p, None)
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    order = np.argsort(pv, kind="stable")
    p_asc, y_asc = pv[order][None, :], yv[order][None, :]
    bounds = _bin_bounds(p_asc[0], np.cumsum(np.ones_like(p_asc), axis=1), n_bins, strategy)
    count = np.diff(bounds, axis=1)[0]
    sum_y = np.diff(_gather(_prefix_sums(y_asc), bounds), axis=1)[0]
    sum_p = np.diff(_gather(_prefix_sums(p_asc), bounds), axis=1)[0]
    keep = count > 0
    return pd.DataFrame(
        {
            "bin": np.arange(int(keep.sum())),
            "mean_predicted": sum_p[keep] / count[keep],
            "observed_rate": sum_y[keep] / count[keep],
            "count": count[keep].astype(np.int64),
        }
    )


def gains_table(
    y: ArrayLike, score: ArrayLike, arr: ArrayLike | None = None, n_bins: int = 20
) -> pd.DataFrame:
    """Cumulative gains: what targeting the top fraction of accounts by `score` catches.

    Args:
        y: churn labels (0/1).
        score: ranking score, higher first (probability or probability x ARR).
        arr: ARR per account; adds the cumulative share of churned ARR.
        n_bins: number of fractions (1/n_bins, 2/n_bins, ..., 1).

    Returns:
        One row per fraction: fraction (targeted, nominal), n_targeted (ceil(fraction x n)),
        share_churners (cumulative recall), lift, and share_churned_arr when `arr` is given.
        Same selection rule as `top_k_mask`, so rows agree with `recall_at`, `lift_at` and
        `arr_captured_at`.
    """
    yv = _as_labels(y)
    s = _as_values(score, yv.size, "score")
    a = None if arr is None else _as_values(arr, yv.size, "arr")
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    order = _desc_order(s)
    fractions = np.arange(1, n_bins + 1) / n_bins
    n_targeted = np.array([_n_top(f, yv.size) for f in fractions])
    caught = np.cumsum(yv[order])[n_targeted - 1]
    total = yv.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        share = caught / total if total > 0 else np.full(n_bins, np.nan)
        out = pd.DataFrame(
            {
                "fraction": fractions,
                "n_targeted": n_targeted.astype(np.int64),
                "share_churners": share,
                "lift": share / (n_targeted / yv.size),
            }
        )
        if a is not None:
            churned_arr = (a * yv)[order]
            total_arr = churned_arr.sum()
            cum = np.cumsum(churned_arr)[n_targeted - 1]
            out["share_churned_arr"] = cum / total_arr if total_arr > 0 else np.nan
    return out


def family_importance(contrib: pd.DataFrame, families: Mapping[str, str]) -> pd.DataFrame:
    """Global importance per feature family: mean |SHAP contribution| per feature, summed.

    Args:
        contrib: per-account contributions, one column per feature (a trailing `bias` /
            `expected_value` column is ignored).
        families: feature name -> family; features not listed count as family `other`.

    Returns:
        Columns family, importance, share (of the total), n_features; sorted by importance,
        largest first (ties by family name).
    """
    features = [c for c in contrib.columns if str(c) not in NON_FEATURE_CONTRIB_COLUMNS]
    if not features:
        raise ValueError("contributions have no feature columns")
    unmapped = [f for f in features if f not in families]
    if unmapped:
        log.warning(
            "%d features have no family and count as 'other': %s",
            len(unmapped),
            ", ".join(map(str, unmapped[:10])),
        )
    per_feature = contrib[features].abs().mean(axis=0)
    frame = pd.DataFrame(
        {
            "family": [families.get(f, "other") for f in features],
            "importance": per_feature.to_numpy(dtype=np.float64),
        }
    )
    out = (
        frame.groupby("family", sort=True)
        .agg(importance=("importance", "sum"), n_features=("importance", "size"))
        .reset_index()
    )
    total = out["importance"].sum()
    out = out.assign(share=out["importance"] / total if total > 0 else np.nan)
    out = out.sort_values(["importance", "family"], ascending=[False, True], kind="stable")
    return out[["family", "importance", "share", "n_features"]].reset_index(drop=True)
