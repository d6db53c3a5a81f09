"""Time-based split and LightGBM fitting with capacity chosen on a later validation period."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from churnseg.config import CalibrationConfig, Capacity, ModelConfig, SplitConfig
from churnseg.model.calibrate import Calibrator
from churnseg.model.package import ChurnModel, category_levels

log = logging.getLogger(__name__)

BLOCKS = ("train", "valid", "calib", "test")


class TrainingDataError(ValueError):
    """Training input cannot produce a model (no label, one class, empty period, bad feature)."""


@dataclass
class Split:
    """Rows per block; `dates` lists each block's as_of dates (empty for a stratified split)."""

    train: pd.DataFrame
    valid: pd.DataFrame
    calib: pd.DataFrame
    test: pd.DataFrame
    dates: dict[str, list[pd.Timestamp]] = field(default_factory=dict)
    embargoed: list[pd.Timestamp] = field(default_factory=list)
    method: str = "time"

    def sizes(self) -> dict[str, int]:
        return {b: len(getattr(self, b)) for b in BLOCKS}


def split_by_as_of(
    matrix: pd.DataFrame, cfg: SplitConfig, label_days: int, label: str = "churned"
) -> Split:
    """Split matured snapshots by as_of, newest first: test, calib, valid, then train (oldest).

    Never a random row split. With `cfg.embargo`, the blocks named in `cfg.embargo_before` are
    preceded by a gap: earlier dates whose label window (as_of, as_of + `label_days`] reaches
    past the block's first as_of are left out, so no churn event is a label on both sides.

    Raises:
        TrainingDataError: too few matured as_of dates for the blocks and gaps.
    """
    check_label(matrix, label)
    dates = sorted(pd.to_datetime(matrix["as_of"].unique()))
    window = pd.Timedelta(days=label_days)
    sizes = {"test": cfg.test_periods, "calib": cfg.calib_periods, "valid": cfg.valid_periods}
    blocks: dict[str, list[pd.Timestamp]] = {}
    embargoed: list[pd.Timestamp] = []
    remaining = list(dates)
    for name in ("test", "calib", "valid"):
        if cfg.embargo and name != "test" and _later(name) in cfg.embargo_before:
            boundary = blocks[_later(name)][0]
            while remaining and remaining[-1] + window > boundary:
                embargoed.append(remaining.pop())
        blocks[name] = remaining[-sizes[name]:] if len(remaining) >= sizes[name] else []
        remaining = remaining[:-sizes[name]] if blocks[name] else []
    if cfg.embargo and "valid" in cfg.embargo_before and blocks["valid"]:
        while remaining and remaining[-1] + window > blocks["valid"][0]:
            embargoed.append(remaining.pop())
    blocks["train"] = remaining
    for name in BLOCKS:
        if not blocks.get(name):
            label_name = "training" if name == "train" else name
            raise TrainingDataError(
                f"empty {label_name} period: {len(dates)} matured as_of date(s) "
                f"({dates[0].date() if dates else '-'} .. {dates[-1].date() if dates else '-'}) "
                f"are too few for {sizes} periods plus label-window gaps of {label_days} days; "
                "use more dates, fewer periods or `split.embargo: false`"
            )
    blocks = {name: blocks[name] for name in BLOCKS}
    as_of = pd.to_datetime(matrix["as_of"])
    parts = {name: matrix.loc[as_of.isin(d)] for name, d in blocks.items()}
    for name, part in parts.items():
        if part[label].nunique() < 2:
            raise TrainingDataError(f"the {name} period has a single label class: cannot fit")
    return Split(**parts, dates=blocks, embargoed=sorted(embargoed), method="time")


def _later(block: str) -> str:
    """The block that follows `block` in time."""
    return BLOCKS[BLOCKS.index(block) + 1]


def split_stratified(matrix: pd.DataFrame, label: str = "churned", seed: int = 0) -> Split:
    """Fallback for feature tables without as_of: a stratified 60/15/10/15 split by row."""
    check_label(matrix, label)
    y = matrix[label]
    rest, test = train_test_split(matrix, test_size=0.15, stratify=y, random_state=seed)
    rest, calib = train_test_split(rest, test_size=0.10 / 0.85, stratify=rest[label],
                                   random_state=seed)
    train, valid = train_test_split(rest, test_size=0.15 / 0.75, stratify=rest[label],
                                    random_state=seed)
    return Split(train, valid, calib, test, method="stratified")


def check_label(matrix: pd.DataFrame, label: str) -> None:
    """Raise a one-line error when the label is missing, not binary or has a single class."""
    if label not in matrix.columns:
        raise TrainingDataError(f"label column '{label}' not found; columns: "
                                f"{list(matrix.columns)[:15]}")
    if matrix.empty:
        raise TrainingDataError("no matured snapshots to train on (empty training data)")
    values = set(pd.unique(matrix[label].dropna()))
    if not values <= {0, 1}:  # True/False compare equal to 1/0
        raise TrainingDataError(f"label column '{label}' must be 0/1, found {sorted(values)[:5]}")
    if len(values) < 2:
        raise TrainingDataError(f"label column '{label}' has a single class ({values.pop()}): "
                                "nothing to learn")


def select_features(matrix: pd.DataFrame, candidates: Sequence[str], cfg: ModelConfig) -> list[str]:
    """Model inputs: `cfg.include` if set (each must exist), else candidates minus `cfg.exclude`.

    Raises:
        TrainingDataError: the config names a feature the data does not have.
    """
    named = list(cfg.include or []) + list(cfg.exclude)
    missing = [f for f in named if f not in matrix.columns]
    if missing:
        raise TrainingDataError(f"config names feature(s) not in the data: {missing}")
    chosen = list(cfg.include) if cfg.include else [c for c in candidates if c not in cfg.exclude]
    if not chosen:
        raise TrainingDataError("no features left to train on")
    return chosen


def monotone_constraints(features: Sequence[str], patterns: dict[str, int]) -> list[int]:
    """LightGBM monotone constraint per feature from `name pattern -> direction` (0 = free)."""
    compiled = [(re.compile(p), d) for p, d in patterns.items()]
    return [next((d for rx, d in compiled if rx.fullmatch(f)), 0) for f in features]


def _params(cfg: ModelConfig, cap: Capacity, y: pd.Series) -> dict:
    pos = float(y.sum())
    neg = float(len(y) - pos)
    weight = {"none": 1.0, "sqrt": np.sqrt(neg / max(pos, 1.0)),
              "balanced": neg / max(pos, 1.0)}[cfg.class_balance]
    return {
        # early stopping on AUC: with class weights the unweighted log loss would stop too early
        "objective": "binary", "metric": ["auc", "binary_logloss"],
        "learning_rate": cfg.learning_rate,
        "num_leaves": cap.num_leaves, "max_depth": cap.max_depth,
        "min_data_in_leaf": cap.min_data_in_leaf, "feature_fraction": cfg.feature_fraction,
        "bagging_fraction": cfg.bagging_fraction, "bagging_freq": 1, "lambda_l2": cfg.lambda_l2,
        "scale_pos_weight": weight, "seed": cfg.seed, "deterministic": True,
        "force_row_wise": True, "num_threads": cfg.threads, "verbose": -1,
        "cat_smooth": 10, "min_data_per_group": 50,
    }


def fit_model(
    train: pd.DataFrame, valid: pd.DataFrame, features: Sequence[str], cfg: ModelConfig,
    label: str = "churned",
) -> tuple[ChurnModel, pd.DataFrame]:
    """Fit one booster per capacity in `cfg.capacity_grid` with early stopping on `valid`.

    The best validation AUC wins; within `cfg.tie_tolerance` of it, the cheapest model
    (trees x leaves x depth^2, the cost of exact TreeSHAP) wins.

    Returns:
        The chosen (uncalibrated) model and one row per candidate with its validation figures.
    """
    features = list(features)
    cat_cols = [c for c in features if isinstance(train[c].dtype, pd.CategoricalDtype)
                or pd.api.types.is_object_dtype(train[c]) or pd.api.types.is_string_dtype(train[c])]
    levels = category_levels(train, cat_cols)
    template = ChurnModel(booster=None, features=features, categories=levels)  # type: ignore[arg-type]
    X_train, X_valid = template.prepare(train), template.prepare(valid)
    y_train, y_valid = train[label].astype(int), valid[label].astype(int)
    rows, boosters = [], []
    for cap in cfg.capacity_grid:
        params = _params(cfg, cap, y_train)
        constraints = monotone_constraints(features, cfg.monotone)
        if any(constraints):
            params.update(monotone_constraints=constraints,
                          monotone_constraints_method="advanced")
        d_train = lgb.Dataset(X_train, y_train, categorical_feature=cat_cols or "auto",
                              free_raw_data=True)
        d_valid = lgb.Dataset(X_valid, y_valid, reference=d_train)
        booster = lgb.train(
            params, d_train, num_boost_round=cfg.max_rounds, valid_sets=[d_valid],
            callbacks=[lgb.early_stopping(cfg.early_stopping_rounds, first_metric_only=True,
                                          verbose=False)],
        )
        p = booster.predict(X_valid, num_iteration=booster.best_iteration, raw_score=True)
        trees = booster.best_iteration or booster.current_iteration()
        rows.append({
            "num_leaves": cap.num_leaves, "max_depth": cap.max_depth,
            "min_data_in_leaf": cap.min_data_in_leaf, "trees": trees,
            "valid_auc": float(roc_auc_score(y_valid, p)),
            "valid_logloss": float(booster.best_score["valid_0"]["binary_logloss"]),
            "shap_cost": trees * cap.num_leaves * cap.max_depth ** 2,
        })
        boosters.append(booster)
        log.info("capacity leaves=%d depth=%d min_leaf=%d: %d trees, valid AUC %.4f",
                 cap.num_leaves, cap.max_depth, cap.min_data_in_leaf, trees, rows[-1]["valid_auc"])
    table = pd.DataFrame(rows)
    best = table["valid_auc"].max()
    tied = table[table["valid_auc"] >= best - cfg.tie_tolerance]
    chosen = int(tied.sort_values(["shap_cost", "valid_auc"], ascending=[True, False]).index[0])
    table = table.assign(chosen=table.index == chosen)
    booster = boosters[chosen]
    # keep only the trees early stopping chose, so every later call uses exactly those
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration))
    info = {k: (v.item() if hasattr(v, "item") else v) for k, v in table.loc[chosen].items()}
    model = ChurnModel(booster=booster, features=features, categories=levels, info=info)
    return model, table


def calibrate_model(
    model: ChurnModel, calib: pd.DataFrame, cfg: CalibrationConfig, label: str = "churned",
    seed: int = 0,
) -> ChurnModel:
    """Fit the calibrator on the calibration period (later than training); returns a new model."""
    calibrator = Calibrator(cfg.method, cfg.folds, random_state=seed).fit(
        model.raw_score(calib), calib[label].astype(int).to_numpy())
    return ChurnModel(booster=model.booster, features=model.features,
                      categories=model.categories, calibrator=calibrator,
                      event_types=model.event_types,
                      info={**model.info, "calibration": calibrator.method_})
