"""Training job: snapshots -> features -> time split -> LightGBM -> calibration -> MLflow.

Reads like the recipe it is; every decision lives in `churnseg`.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from churnseg import tracking
from churnseg.config import DataConfig, FeatureTableConfig, TrainConfig
from churnseg.data.contract import required_tables
from churnseg.features import catalog
from churnseg.features.build import build_features, feature_columns
from churnseg.features.snapshots import (
    as_of_dates,
    build_snapshots,
    data_horizon,
    labelled_snapshots,
)
from churnseg.model import evaluate as ev
from churnseg.model.baselines import LastPeriodRateBaseline, LogisticBaseline
from churnseg.model.package import ChurnModel
from churnseg.model.train import (
    Split,
    TrainingDataError,
    calibrate_model,
    check_label,
    fit_model,
    select_features,
    split_by_as_of,
    split_stratified,
)
from churnseg.report import plots
from pipelines.validate import open_validated

log = logging.getLogger(__name__)
LABEL = "churned"
SHAP_SAMPLE = 5000


@dataclass
class TrainResult:
    model: ChurnModel
    split: Split
    metrics: dict[str, float]
    evaluation: pd.DataFrame
    record: tracking.TrainingRecord


def run(data_cfg: DataConfig, cfg: TrainConfig, tune: int = 0, register: bool = True
        ) -> TrainResult:
    uri = tracking.configure(cfg.tracking)
    log.info("tracking to %s (experiment '%s')", uri, cfg.tracking.experiment)
    if cfg.feature_table is not None:
        matrix, label, source = load_feature_table(cfg.feature_table)
    else:
        matrix, source = build_training_matrix(data_cfg, cfg)
        label = LABEL
    if "as_of" in matrix.columns:
        label_days = cfg.snapshots.lead_days + cfg.snapshots.horizon_days
        split = split_by_as_of(matrix, cfg.split, label_days, label=label)
    else:
        log.warning("no as_of column: falling back to a stratified random split; the test "
                    "figures then do not measure performance on a later period")
        split = split_stratified(matrix, label=label, seed=cfg.model.seed)
    log.info("split (%s): %s; embargoed dates %s", split.method, split.sizes(),
             [d.date().isoformat() for d in split.embargoed])
    candidates = [c for c in feature_columns(matrix) if c not in (label, "account_id", "as_of")]
    features = select_features(matrix, candidates, cfg.model)
    model_cfg, trials = cfg.model, None
    if tune:
        from churnseg.model.tune import tune_model_config

        model_cfg, trials = tune_model_config(split.train, split.valid, features, cfg.model,
                                              n_trials=tune, label=label)
    model, candidates = fit_model(split.train, split.valid, features, model_cfg, label=label)
    model = calibrate_model(model, split.calib, cfg.calibration, label=label, seed=cfg.model.seed)
    model.event_types = list(matrix.attrs.get("event_types", []))
    model.info.update(
        shape=model.shape, split={k: [d.date().isoformat() for d in v]
                                  for k, v in split.dates.items()},
        # scoring rebuilds the population and features exactly as in training
        snapshots=cfg.snapshots.model_dump(mode="json"),
        features=cfg.features.model_dump(mode="json"), label=label,
    )
    metrics, evaluation, tables, figures = evaluate_model(model, split, cfg, label, data_cfg)
    tables["selection/capacity_candidates.csv"] = candidates
    if trials is not None:
        tables["selection/tuning_trials.csv"] = trials
    tables["catalog/features.csv"] = catalog.catalog_frame(features)
    record = tracking.log_training_run(
        cfg.tracking, config=cfg.model_dump(mode="json"), model=model, metrics=metrics,
        tables=tables, figures=figures, lineage=lineage(matrix, split, source, label),
        input_example=split.test.head(5), holdout=split.test, tags=run_tags(), register=register,
        trials=trials,
    )
    log.info("logged run %s; model %s version %s", record.run_id, record.registered_name,
             record.version)
    return TrainResult(model, split, metrics, evaluation, record)


def build_training_matrix(data_cfg: DataConfig, cfg: TrainConfig) -> tuple[pd.DataFrame, str]:
    """Matured snapshots with features and labels, from the raw tables."""
    tables, _ = open_validated(data_cfg, required_tables(cfg.snapshots.churn_definition))
    end = data_horizon(tables, data_cfg.horizon)
    snap_cfg = cfg.snapshots
    if snap_cfg.as_of is None and snap_cfg.end is None:
        # until the data runs out; immature dates are dropped below
        snap_cfg = snap_cfg.model_copy(update={"end": end.date()})
    snapshots = build_snapshots(tables, snap_cfg, as_of_dates(snap_cfg), data_end=end)
    matured = labelled_snapshots(snapshots)
    if matured.empty:
        raise TrainingDataError("empty training period: no snapshot has a matured label window")
    log.info("%d matured snapshots over %d as_of dates (%d not matured, kept for scoring)",
             len(matured), matured["as_of"].nunique(), len(snapshots) - len(matured))
    matrix = build_features(tables, matured, cfg.features)
    matrix = matrix.assign(**{LABEL: matrix[LABEL].astype(int)})
    return matrix, str(data_cfg.database or data_cfg.root)


def load_feature_table(cfg: FeatureTableConfig) -> tuple[pd.DataFrame, str, str]:
    """A precomputed feature table: id, label, optional as_of and ARR; everything else features."""
    path = Path(cfg.path)
    if not path.exists():
        raise FileNotFoundError(f"feature table not found: {path}")
    df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    if cfg.id_column not in df.columns:
        raise TrainingDataError(f"feature table {path}: id column '{cfg.id_column}' not found")
    check_label(df, cfg.label_column)
    renames = {cfg.id_column: "account_id"}
    if cfg.as_of_column and cfg.as_of_column in df.columns:
        renames[cfg.as_of_column] = "as_of"
    if cfg.arr_column and cfg.arr_column in df.columns:
        renames[cfg.arr_column] = "arr"
    df = df.rename(columns=renames)
    if "as_of" in df.columns:
        df = df.assign(as_of=pd.to_datetime(df["as_of"]))
    text = [c for c in df.columns if c not in ("account_id", "as_of", cfg.label_column)
            and (pd.api.types.is_object_dtype(df[c]) or pd.api.types.is_string_dtype(df[c]))]
    df = df.assign(**{c: df[c].astype("category") for c in text},
                   **{cfg.label_column: df[cfg.label_column].astype(int)})
    return df, cfg.label_column, str(path)


def evaluate_model(
    model: ChurnModel, split: Split, cfg: TrainConfig, label: str, data_cfg: DataConfig
) -> tuple[dict[str, float], pd.DataFrame, dict[str, pd.DataFrame], dict]:
    """Test metrics with CIs, baselines, oracle (simulated data), plots and importance."""
    test = split.test
    y = test[label].to_numpy().astype(int)
    arr = test["arr"].to_numpy(dtype=float) if "arr" in test.columns else None
    e = cfg.evaluation
    # an account's monthly snapshots share churn events (overlapping label windows): resample
    # accounts, not rows, or the intervals come out too narrow
    boot = {"n_boot": e.bootstrap, "seed": e.seed, "groups": test["account_id"].to_numpy()}
    scores = {"model": model.predict_proba(test)}
    logistic = LogisticBaseline().fit(split.train[model.features], split.train[label])
    scores["logistic_baseline"] = logistic.predict_proba(test[model.features])[:, 1]
    if "as_of" in test.columns:
        last = LastPeriodRateBaseline().fit(split.train.rename(columns={label: "label"}))
        scores["last_period_rate"] = last.predict_proba(test)[:, 1]
    frames = []
    for name, p in scores.items():
        frames.append(ev.bootstrap_metrics(y, p, arr=arr, ks=e.ks, **boot).assign(model=name))
    oracle = oracle_probability(data_cfg, test, cfg)
    if oracle is not None:
        frames.append(ev.bootstrap_metrics(y, oracle, arr=arr, ks=e.ks, **boot)
                      .assign(model="oracle"))
    evaluation = pd.concat(frames, ignore_index=True)
    metrics: dict[str, float] = {}
    for row in evaluation.itertuples():
        prefix = "test" if row.model == "model" else row.model
        metrics[f"{prefix}_{row.metric}"] = row.value
        metrics[f"{prefix}_{row.metric}_ci_low"] = row.ci_low
        metrics[f"{prefix}_{row.metric}_ci_high"] = row.ci_high
    for baseline in ("logistic_baseline", "last_period_rate"):
        for metric in ("roc_auc", "arr_captured_at_10"):
            if baseline in scores and (metric != "arr_captured_at_10" or arr is not None):
                # paired bootstrap: the same resamples for both, the right test of "better"
                diff, lo, hi = ev.paired_bootstrap_difference(
                    y, scores["model"], scores[baseline], metric, arr=arr, **boot)
                metrics.update({f"diff_vs_{baseline}_{metric}": diff,
                                f"diff_vs_{baseline}_{metric}_ci_low": lo,
                                f"diff_vs_{baseline}_{metric}_ci_high": hi})
            if f"{baseline}_{metric}" in metrics and f"test_{metric}" in metrics:
                # 1 when the model's whole CI lies above the baseline's
                metrics[f"beats_{baseline}_{metric}_ci"] = float(
                    metrics[f"test_{metric}_ci_low"] > metrics[f"{baseline}_{metric}_ci_high"])
    if oracle is not None:
        metrics["model_to_oracle_auc"] = metrics["test_roc_auc"] / metrics["oracle_roc_auc"]
    sample = test.sample(min(len(test), SHAP_SAMPLE), random_state=0) if len(test) else test
    X = model.prepare(sample)
    contrib = pd.DataFrame(model.booster.predict(X, pred_contrib=True)[:, :-1],
                           columns=model.features, index=sample.index)
    families = {f: catalog.lookup(f).family for f in model.features}
    importance = ev.family_importance(contrib, families)
    calib_table = ev.calibration_table(y, scores["model"])
    gains = {name: ev.gains_table(y, p, arr=arr) for name, p in scores.items()}
    tables = {
        "evaluation/metrics.csv": evaluation,
        "evaluation/calibration.csv": calib_table,
        "evaluation/gains.csv": gains["model"],
        "evaluation/family_importance.csv": importance,
        "evaluation/feature_importance.csv": contrib.abs().mean().sort_values(ascending=False)
        .rename("mean_abs_shap").rename_axis("feature").reset_index(),
    }
    figures = {
        "plots/calibration.png": plots.calibration_plot(calib_table),
        "plots/gains.png": plots.gains_chart(gains["model"], {k: v for k, v in gains.items()
                                                              if k != "model"}),
        "plots/family_importance.png": plots.family_importance_plot(importance),
        "plots/shap_summary.png": plots.shap_summary_plot(contrib, X),
    }
    for key in ("roc_auc", "pr_auc", "brier", "ece", "lift_at_10"):
        if f"test_{key}" in metrics:
            log.info("test %-10s %.4f [%.4f, %.4f]", key, metrics[f"test_{key}"],
                     metrics[f"test_{key}_ci_low"], metrics[f"test_{key}_ci_high"])
    return metrics, evaluation, tables, figures


def oracle_probability(data_cfg: DataConfig, test: pd.DataFrame, cfg: TrainConfig
                       ) -> np.ndarray | None:
    """The simulator's ground-truth churn probability for the test snapshots, when it exists."""
    truth = Path(data_cfg.root) / "truth"
    if data_cfg.database is not None or not truth.exists() or "as_of" not in test.columns:
        return None
    import duckdb

    from churnseg.data.simulate import oracle_churn_probability

    days = sorted({(pd.Timestamp(d).normalize() - pd.Timedelta(days=1)).date().isoformat()
                   for d in test["as_of"].unique()})
    files = str(truth / "hazard" / "*.parquet")
    # the truth holds every account-day: read only the days the oracle needs
    hazard = duckdb.sql(
        f"SELECT * FROM read_parquet('{files}') WHERE CAST(day AS DATE) IN "
        f"({', '.join(f'DATE {d!r}' for d in days)})").df()
    p = oracle_churn_probability(hazard, test[["account_id", "as_of"]],
                                 lead_days=cfg.snapshots.lead_days,
                                 horizon_days=cfg.snapshots.horizon_days)
    return np.asarray(p, dtype=float)


def lineage(matrix: pd.DataFrame, split: Split, source: str, label: str) -> dict:
    """What the model was trained on: snapshot keys, date range and a content hash."""
    keys = [c for c in ("account_id", "as_of", label) if c in matrix.columns]
    snapshots = matrix[keys]
    digest = hashlib.sha256(pd.util.hash_pandas_object(matrix, index=False).values.tobytes()
                            ).hexdigest()[:16]
    dates = split.dates.get("train") or []
    return {
        "snapshots": snapshots, "source": source, "name": "training_snapshots",
        "target": label, "digest": digest, "rows": len(matrix),
        "train_from": dates[0].date() if dates else "", "train_to": dates[-1].date() if dates
        else "",
        "test_dates": ",".join(d.date().isoformat() for d in split.dates.get("test", [])),
    }


def run_tags() -> dict[str, str]:
    """Git SHA and package versions, so a run can be reproduced."""
    from importlib.metadata import version

    tags = {f"version.{p}": version(p) for p in
            ("churnseg", "lightgbm", "pandas", "duckdb", "scikit-learn", "mlflow")}
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    tags["git_sha"] = sha or "unknown"
    return tags
