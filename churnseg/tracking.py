"""The only module that talks to MLflow: runs, metrics, artifacts, the pyfunc model, the registry.

Nothing happens at import: the tracking URI is set by `configure`, called by the pipelines.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from churnseg.config import TrackingConfig
from churnseg.model.package import ChurnModel

log = logging.getLogger(__name__)

_SAFE_KEY = re.compile(r"[\w.\- /:]+")
MODEL_ARTIFACT = "churn_model.joblib"
HOLDOUT_ARTIFACT = "holdout/test_features.parquet"
DEFAULT_URI = "sqlite:///mlflow.db"


class ModelNotFoundError(LookupError):
    """A model URI that the tracking server does not know."""


def resolve_uri(cfg: TrackingConfig) -> str:
    """Config URI, else `MLFLOW_TRACKING_URI`, else a SQLite file in the working directory."""
    if cfg.uri:
        return cfg.uri
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def configure(cfg: TrackingConfig) -> str:
    """Point MLflow at the configured store; returns the URI in use."""
    uri = resolve_uri(cfg)
    mlflow.set_tracking_uri(uri)
    return uri


def set_experiment(name: str) -> None:
    """Use experiment `name`; a new one on a SQLite store keeps its artifacts beside the
    database file (not in whatever folder the process happens to run in)."""
    uri = mlflow.get_tracking_uri()
    if uri.startswith("sqlite:///") and mlflow.get_experiment_by_name(name) is None:
        db = Path(uri[len("sqlite:///"):])
        mlflow.create_experiment(name, artifact_location=(db.parent / "mlartifacts").as_uri())
    mlflow.set_experiment(name)


class ChurnPyfunc(mlflow.pyfunc.PythonModel):
    """MLflow pyfunc whose `predict` returns calibrated churn probabilities (not class labels)."""

    def load_context(self, context: Any) -> None:
        self.model: ChurnModel = joblib.load(context.artifacts["churn_model"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        return self.model.predict_proba(model_input)


@dataclass(frozen=True)
class TrainingRecord:
    run_id: str
    experiment_id: str
    model_uri: str
    registered_name: str | None
    version: str | None


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config -> {"model.learning_rate": "0.05", ...} (MLflow params are flat strings)."""
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and all(_SAFE_KEY.fullmatch(str(k)) for k in value):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, Mapping):
            # keys that are patterns (e.g. monotone constraints) are not valid param names
            out[name] = json.dumps(value, sort_keys=True)
        else:
            out[name] = json.dumps(value, default=str) if isinstance(value, list) else str(value)
    return out


def log_training_run(
    cfg: TrackingConfig,
    *,
    config: Mapping[str, Any],
    model: ChurnModel,
    metrics: Mapping[str, float],
    tables: Mapping[str, pd.DataFrame],
    figures: Mapping[str, Any],
    lineage: Mapping[str, Any],
    input_example: pd.DataFrame,
    holdout: pd.DataFrame,
    tags: Mapping[str, str],
    register: bool = True,
    trials: pd.DataFrame | None = None,
) -> TrainingRecord:
    """Log one training run: params, metrics, tables, plots, lineage, the pyfunc model.

    Args:
        config: the full training config (flattened into params).
        metrics: name -> value (test metrics, CIs, baselines, oracle).
        tables: artifact name (e.g. "evaluation/metrics.csv") -> frame.
        figures: artifact name (e.g. "plots/calibration.png") -> matplotlib Figure.
        lineage: snapshots (frame of account_id/as_of/label), source, digest, date range.
        input_example: a few rows of model input (for the signature and the example).
        holdout: test-period features + label, stored so promotion compares models on the
            same snapshots.
        tags: git SHA, package versions, ...
        trials: one row per tuning trial; each becomes a nested run with its params and
            validation metrics.
    """
    set_experiment(cfg.experiment)
    with mlflow.start_run() as run, tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        params = flatten(config)
        # MLflow caps params per batch; log in chunks
        items = list(params.items())
        for i in range(0, len(items), 90):
            mlflow.log_params(dict(items[i:i + 90]))
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
        mlflow.set_tags(dict(tags))
        for name, df in tables.items():
            path = tmpdir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            df.to_csv(path, index=False)
            mlflow.log_artifact(str(path), artifact_path=str(Path(name).parent) or None)
        for name, fig in figures.items():
            path = tmpdir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(path, dpi=110, bbox_inches="tight")
            mlflow.log_artifact(str(path), artifact_path=str(Path(name).parent) or None)
        hold = tmpdir / HOLDOUT_ARTIFACT
        hold.parent.mkdir(parents=True, exist_ok=True)
        holdout.to_parquet(hold, index=False)
        mlflow.log_artifact(str(hold), artifact_path=str(Path(HOLDOUT_ARTIFACT).parent))
        snapshots = lineage["snapshots"]
        dataset = mlflow.data.from_pandas(
            snapshots, source=str(lineage["source"]), name=str(lineage["name"]),
            targets=lineage.get("target"), digest=str(lineage["digest"]),
        )
        mlflow.log_input(dataset, context="training")
        mlflow.set_tags({f"lineage.{k}": str(v) for k, v in lineage.items()
                         if k not in ("snapshots",)})

        model_file = tmpdir / MODEL_ARTIFACT
        joblib.dump(model, model_file)
        example = model_input(model, input_example)
        signature = infer_signature(example, model.predict_proba(example))
        info = mlflow.pyfunc.log_model(
            name="model", python_model=ChurnPyfunc(), artifacts={"churn_model": str(model_file)},
            signature=signature, input_example=example,
            registered_model_name=cfg.registered_model if register else None,
            pip_requirements=_requirements(),
        )
        for trial in (trials.to_dict("records") if trials is not None else []):
            with mlflow.start_run(run_name=f"trial-{trial['trial']}", nested=True):
                mlflow.log_params({k: v for k, v in trial.items() if not k.startswith("valid")
                                   and k not in ("trees", "shap_cost")})
                mlflow.log_metrics({k: float(trial[k]) for k in
                                    ("valid_auc", "valid_logloss", "trees", "shap_cost")})
        version = getattr(info, "registered_model_version", None)
        if register and version is not None:
            MlflowClient().set_registered_model_alias(cfg.registered_model, "challenger",
                                                      str(version))
        return TrainingRecord(
            run_id=run.info.run_id, experiment_id=run.info.experiment_id,
            model_uri=info.model_uri, registered_name=cfg.registered_model if register else None,
            version=str(version) if version is not None else None,
        )


def model_input(model: ChurnModel, X: pd.DataFrame) -> pd.DataFrame:
    """The model's columns in the pyfunc's input schema: numbers as float64, categories as text."""
    prepared = model.prepare(X)
    converted = {
        col: prepared[col].astype("object").where(prepared[col].notna(), None)
        for col in model.categories
    }
    return prepared.assign(**converted)


def _requirements() -> list[str]:
    from importlib.metadata import version

    pkgs = ["lightgbm", "pandas", "numpy", "scikit-learn", "joblib"]
    return [f"{p}=={version(p)}" for p in pkgs] + ["churnseg"]


def load_pyfunc(model_uri: str) -> Any:
    """Load a registered or logged model as pyfunc (e.g. `models:/name@champion`)."""
    try:
        return mlflow.pyfunc.load_model(model_uri)
    except (MlflowException, OSError) as exc:
        raise ModelNotFoundError(f"model not found: {model_uri} ({_first_line(exc)})") from None


def load_churn_model(model_uri: str) -> ChurnModel:
    """The underlying ChurnModel of a logged pyfunc (for native SHAP and in-process scoring)."""
    return load_pyfunc(model_uri).unwrap_python_model().model


def model_version(name: str, alias: str) -> Any | None:
    """The model version holding `alias`, or None."""
    try:
        return MlflowClient().get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def latest_version(name: str) -> Any | None:
    try:
        versions = MlflowClient().search_model_versions(f"name = '{name}'")
    except MlflowException:
        return None
    return max(versions, key=lambda v: int(v.version), default=None)


def get_version(name: str, version: str) -> Any:
    try:
        return MlflowClient().get_model_version(name, str(version))
    except MlflowException as exc:
        raise ModelNotFoundError(f"{name} version {version} not found ({_first_line(exc)})"
                                 ) from None


def set_alias(name: str, alias: str, version: str) -> None:
    MlflowClient().set_registered_model_alias(name, alias, str(version))


def load_holdout(run_id: str) -> pd.DataFrame:
    """The test-period features + label stored with a training run."""
    path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=HOLDOUT_ARTIFACT)
    return pd.read_parquet(path)


def log_promotion(run_id: str, decision: Mapping[str, Any]) -> None:
    """Record a promotion decision on the candidate's run."""
    client = MlflowClient()
    for key, value in decision.items():
        client.set_tag(run_id, f"promotion.{key}", str(value))


def run_data(run_id: str) -> Any:
    return MlflowClient().get_run(run_id).data


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__


@dataclass(frozen=True)
class ModelRef:
    """Which model a URI resolved to."""

    uri: str
    name: str
    version: str
    run_id: str | None


def resolve_model(model_uri: str) -> ModelRef:
    """Name, version and training run of `models:/name@alias`, `models:/name/version`, or a run
    URI (name = the URI, version = "run")."""
    if model_uri.startswith("models:/"):
        ref = model_uri[len("models:/"):]
        client = MlflowClient()
        try:
            if "@" in ref:
                name, alias = ref.split("@", 1)
                mv = client.get_model_version_by_alias(name, alias)
            elif "/" not in ref:
                # MLflow 3 logged-model id (models:/m-...): not a registry entry
                load_pyfunc(model_uri)
                return ModelRef(model_uri, ref, "logged", None)
            else:
                name, version = ref.rsplit("/", 1)
                mv = client.get_model_version(name, version)
        except (MlflowException, ValueError) as exc:
            raise ModelNotFoundError(f"model not found: {model_uri} ({_first_line(exc)})"
                                     ) from None
        return ModelRef(model_uri, mv.name, str(mv.version), mv.run_id)
    return ModelRef(model_uri, model_uri, "run", None)


def log_scoring_run(
    cfg: TrackingConfig,
    *,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    artifacts: Mapping[str, Path],
    tags: Mapping[str, str],
) -> str:
    """Log one scoring run (inputs, model version, counts, score distribution, outputs)."""
    set_experiment(f"{cfg.experiment}-scoring")
    with mlflow.start_run() as run:
        mlflow.log_params({k: str(v) for k, v in params.items()})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
        mlflow.set_tags(dict(tags))
        for folder, path in artifacts.items():
            mlflow.log_artifact(str(path), artifact_path=folder or None)
        return run.info.run_id
