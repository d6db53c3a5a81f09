"""The trained churn model as one picklable object: booster + calibrator + input schema.

`ChurnModel.predict_proba` returns calibrated churn probabilities; the MLflow pyfunc wrapper in
`churnseg.tracking` delegates to it, so in-process and registry predictions are the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from churnseg.model.calibrate import Calibrator


class FeatureMismatchError(ValueError):
    """The data lacks features the model was trained on."""


@dataclass
class ChurnModel:
    """A fitted churn model and everything needed to use it on new data.

    Attributes:
        booster: the LightGBM booster (best iteration only).
        features: model input columns, in order.
        categories: categorical column -> the category levels seen in training.
        calibrator: maps raw scores to calibrated probabilities.
        event_types: generic event types the feature builder must produce for this model.
        info: capacity, iterations, split dates and other facts for documentation.
    """

    booster: lgb.Booster
    features: list[str]
    categories: dict[str, list[Any]]
    calibrator: Calibrator | None = None
    event_types: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        """Select the model's columns in order, with training category levels (unseen -> NaN).

        Raises:
            FeatureMismatchError: naming the columns the data lacks.
        """
        missing = [c for c in self.features if c not in X.columns]
        if missing:
            raise FeatureMismatchError(
                f"data lacks {len(missing)} feature(s) the model needs: {missing[:20]}"
            )
        out = X.loc[:, self.features]
        casts = {
            col: pd.Categorical(out[col].astype("object"), categories=levels)
            for col, levels in self.categories.items()
        }
        numeric = {
            col: pd.to_numeric(out[col], errors="coerce").astype("float64")
            for col in self.features
            if col not in self.categories and not pd.api.types.is_float_dtype(out[col])
        }
        return out.assign(**casts, **numeric)

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:
        """Log-odds from the booster (uncalibrated)."""
        return self.booster.predict(self.prepare(X), raw_score=True)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probability per row."""
        score = self.raw_score(X)
        if self.calibrator is None:
            return 1.0 / (1.0 + np.exp(-score))
        return self.calibrator.predict(score)

    @property
    def shape(self) -> dict[str, int]:
        """Trees, maximum leaves and maximum depth: what exact TreeSHAP cost scales with."""
        dump = self.booster.dump_model()["tree_info"]
        return {
            "trees": len(dump),
            "max_leaves": max((t["num_leaves"] for t in dump), default=0),
            "max_depth": max((_depth(t["tree_structure"]) for t in dump), default=0),
        }


def _depth(node: dict[str, Any]) -> int:
    if "left_child" not in node:
        return 0
    return 1 + max(_depth(node["left_child"]), _depth(node["right_child"]))


def category_levels(X: pd.DataFrame, columns: Sequence[str]) -> dict[str, list[Any]]:
    """Sorted category levels of each categorical column in the training data."""
    out: dict[str, list[Any]] = {}
    for col in columns:
        s = X[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            levels = [v for v in s.cat.categories if pd.notna(v)]
        else:
            levels = s.dropna().unique().tolist()
        out[col] = sorted(levels, key=str)
    return out
