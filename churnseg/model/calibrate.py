"""Probability calibration: isotonic or Platt, chosen and fitted on a later period than training.

Probabilities are multiplied by money downstream, so they must mean what they say.
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

log = logging.getLogger(__name__)

_EPS = 1e-6


class Calibrator(BaseEstimator):
    """Map raw model scores (log-odds) to calibrated churn probabilities.

    Args:
        method: `isotonic`, `platt` or `auto` (pick the one with the lower out-of-fold Brier
            score on the calibration data, then refit it on all of it).
        folds: folds for the `auto` comparison.
        random_state: seed of the fold assignment.

    Attributes:
        method_: the method in use after `fit`.
        scores_: out-of-fold Brier score per method (only with `auto`).
        model_: the fitted isotonic regression or logistic regression.
    """

    def __init__(self, method: str = "auto", folds: int = 5, random_state: int = 0) -> None:
        self.method = method
        self.folds = folds
        self.random_state = random_state

    def fit(self, score: np.ndarray, y: np.ndarray) -> Calibrator:
        score = np.asarray(score, dtype=float)
        y = np.asarray(y, dtype=int)
        if len(np.unique(y)) < 2:
            raise ValueError("calibration period has a single class: cannot calibrate")
        if self.method == "auto":
            self.scores_ = {m: self._oof_brier(m, score, y) for m in ("isotonic", "platt")}
            self.method_ = min(self.scores_, key=self.scores_.get)
            log.info("calibration: out-of-fold Brier %s -> %s",
                     {k: round(v, 5) for k, v in self.scores_.items()}, self.method_)
        elif self.method in ("isotonic", "platt"):
            self.method_ = self.method
        else:
            raise ValueError(f"unknown calibration method {self.method!r}")
        self.model_ = _fit(self.method_, score, y)
        return self

    def predict(self, score: np.ndarray) -> np.ndarray:
        """Calibrated probability for each raw score."""
        return _predict(self.method_, self.model_, np.asarray(score, dtype=float))

    def _oof_brier(self, method: str, score: np.ndarray, y: np.ndarray) -> float:
        folds = StratifiedKFold(self.folds, shuffle=True, random_state=self.random_state)
        pred = np.empty_like(score)
        for fit_idx, held_idx in folds.split(score.reshape(-1, 1), y):
            model = _fit(method, score[fit_idx], y[fit_idx])
            pred[held_idx] = _predict(method, model, score[held_idx])
        return float(np.mean((pred - y) ** 2))


def _fit(method: str, score: np.ndarray, y: np.ndarray) -> IsotonicRegression | LogisticRegression:
    if method == "isotonic":
        return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(score, y)
    return LogisticRegression(C=1e6, max_iter=1000).fit(score.reshape(-1, 1), y)


def _predict(method: str, model: IsotonicRegression | LogisticRegression,
             score: np.ndarray) -> np.ndarray:
    if method == "isotonic":
        p = model.predict(score)
    else:
        p = model.predict_proba(score.reshape(-1, 1))[:, 1]
    # never exactly 0 or 1: downstream log loss and LTV formulas divide by these
    return np.clip(p, _EPS, 1 - _EPS)
