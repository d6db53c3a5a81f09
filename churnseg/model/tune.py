"""Optional hyperparameter search with Optuna, scored on the validation period only."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import optuna
import pandas as pd

from churnseg.config import Capacity, ModelConfig
from churnseg.model.train import fit_model

log = logging.getLogger(__name__)


def tune_model_config(
    train: pd.DataFrame, valid: pd.DataFrame, features: Sequence[str], cfg: ModelConfig,
    n_trials: int, label: str = "churned",
) -> tuple[ModelConfig, pd.DataFrame]:
    """Search LightGBM settings by validation AUC; the test period is never looked at.

    Returns:
        The config of the best trial (a single-capacity grid) and one row per trial (params,
        validation AUC/log loss, trees, SHAP cost) for logging as nested runs.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows: list[dict] = []

    def objective(trial: optuna.Trial) -> float:
        trial_cfg = _trial_config(trial, cfg)
        _, table = fit_model(train, valid, features, trial_cfg, label=label)
        result = table.iloc[0].to_dict()
        rows.append({"trial": trial.number, **trial.params, **{
            k: result[k] for k in ("trees", "valid_auc", "valid_logloss", "shap_cost")}})
        return float(result["valid_auc"])

    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=cfg.seed))
    study.optimize(objective, n_trials=n_trials)
    best = _trial_config(optuna.trial.FixedTrial(study.best_params), cfg)
    log.info("tuning: best of %d trials has validation AUC %.4f: %s", n_trials,
             study.best_value, study.best_params)
    return best, pd.DataFrame(rows)


def _trial_config(trial: optuna.Trial, cfg: ModelConfig) -> ModelConfig:
    capacity = Capacity(
        num_leaves=trial.suggest_int("num_leaves", 4, 63, log=True),
        max_depth=trial.suggest_int("max_depth", 2, 8),
        min_data_in_leaf=trial.suggest_int("min_data_in_leaf", 20, 500, log=True),
    )
    return cfg.model_copy(update={
        "capacity_grid": [capacity],
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
    })
