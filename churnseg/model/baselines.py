"""Baselines the churn model must beat on the same test snapshots.

Both are fitted on the training period only:
- `LogisticBaseline`: a regularized logistic regression on the same features (what a careful
  analyst would build in an afternoon);
- `LastPeriodRateBaseline`: "everyone churns at last period's rate", overall or per segment (what
  a dashboard would say).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from pandas.api.types import is_bool_dtype, is_numeric_dtype, is_object_dtype, is_string_dtype
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

log = logging.getLogger(__name__)

MISSING_CATEGORY = "__missing__"


def _check_binary(y: ArrayLike) -> np.ndarray:
    labels = np.asarray(y)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError("labels must be a non-empty one-dimensional array")
    if pd.isna(labels).any():
        raise ValueError("labels contain missing values")
    labels = labels.astype(np.float64)
    if not np.isin(labels, (0.0, 1.0)).all():
        raise ValueError("labels must be 0/1")
    if labels.min() == labels.max():
        raise ValueError(f"labels have one class only ({int(labels[0])}): nothing to learn")
    return labels.astype(np.int64)


def _numeric_to_float(X: pd.DataFrame) -> pd.DataFrame:
    """Numeric/boolean columns as float64 with NaN for missing (nullable dtypes included)."""
    return pd.DataFrame(
        {c: X[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in X.columns}, index=X.index
    )


def _categories_to_text(X: pd.DataFrame) -> pd.DataFrame:
    """Categorical/text columns as plain strings, missing as its own level.

    Mixed category types (ints and strings) break the encoder, and a missing value is often
    informative (no survey answered, no channel recorded), so it is kept as a level rather than
    imputed with the most frequent value.
    """
    out = {}
    for c in X.columns:
        values = X[c].astype(object)
        out[c] = np.where(pd.isna(values), MISSING_CATEGORY, values.astype(str)).astype(object)
    return pd.DataFrame(out, index=X.index)


def _is_categorical(dtype: object) -> bool:
    is_category = isinstance(dtype, pd.CategoricalDtype)
    return is_category or is_object_dtype(dtype) or is_string_dtype(dtype)


def _split_columns(X: pd.DataFrame) -> tuple[list[str], list[str], list[str]]:
    numeric, categorical, ignored = [], [], []
    for c in X.columns:
        dtype = X[c].dtype
        if is_bool_dtype(dtype) or (is_numeric_dtype(dtype) and dtype.kind != "m"):
            numeric.append(c)
        elif _is_categorical(dtype):
            categorical.append(c)
        else:
            ignored.append(c)
    return numeric, categorical, ignored


class LogisticBaseline(ClassifierMixin, BaseEstimator):
    """Logistic regression on the model's feature matrix.

    Numeric columns: median imputation with missing-value indicators, standard scaling.
    Categorical/text columns: missing as its own level, one-hot encoding with rare levels pooled
    and unknown levels ignored at prediction. Classes keep their natural weights so that the
    probabilities stay roughly calibrated. Datetime and other columns are ignored (logged).

    Args:
        C: inverse L2 regularization strength.
        max_iter: iterations of the lbfgs solver.
        min_frequency: levels seen fewer times in training are pooled into one.
        random_state: seed passed to the solver (for reproducibility).

    Attributes:
        numeric_columns_: numeric feature columns used.
        categorical_columns_: categorical feature columns used.
        feature_names_in_: all columns seen in fit.
        classes_: the labels, [0, 1].
        pipeline_: the fitted scikit-learn pipeline.
    """

    def __init__(
        self,
        C: float = 1.0,
        max_iter: int = 1000,
        min_frequency: int = 10,
        random_state: int = 0,
    ) -> None:
        self.C = C
        self.max_iter = max_iter
        self.min_frequency = min_frequency
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: ArrayLike) -> LogisticBaseline:
        """Fit on the training period.

        Args:
            X: feature matrix (pandas, real column names; category dtypes and NaN allowed).
            y: churn labels (0/1), one per row.

        Returns:
            self
        """
        if not isinstance(X, pd.DataFrame):
            raise TypeError("LogisticBaseline needs a pandas DataFrame with column names")
        labels = _check_binary(y)
        if len(labels) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(labels)}")
        numeric, categorical, ignored = _split_columns(X)
        if ignored:
            log.info("logistic baseline ignores non-feature columns: %s", ", ".join(ignored))
        if not numeric and not categorical:
            raise ValueError("no numeric or categorical feature columns to fit on")
        transformers = []
        if numeric:
            transformers.append(
                (
                    "numeric",
                    make_pipeline(
                        FunctionTransformer(_numeric_to_float),
                        SimpleImputer(strategy="median", add_indicator=True),
                        StandardScaler(),
                    ),
                    numeric,
                )
            )
        if categorical:
            transformers.append(
                (
                    "categorical",
                    make_pipeline(
                        FunctionTransformer(_categories_to_text),
                        OneHotEncoder(
                            handle_unknown="infrequent_if_exist",
                            min_frequency=self.min_frequency,
                            sparse_output=False,
                        ),
                    ),
                    categorical,
                )
            )
        pipeline = Pipeline(
            [
                ("features", ColumnTransformer(transformers, remainder="drop")),
                (
                    "model",
                    LogisticRegression(
                        C=self.C, max_iter=self.max_iter, random_state=self.random_state
                    ),
                ),
            ]
        )
        pipeline.fit(X, labels)
        self.numeric_columns_ = numeric
        self.categorical_columns_ = categorical
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.classes_ = np.array([0, 1])
        self.pipeline_ = pipeline
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities of [no churn, churn], shape (n, 2)."""
        missing = [c for c in (*self.numeric_columns_, *self.categorical_columns_) if c not in X]
        if missing:
            raise ValueError(f"columns missing for the logistic baseline: {', '.join(missing)}")
        return self.pipeline_.predict_proba(X)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Churn (1) when the probability is at least 0.5."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)


class LastPeriodRateBaseline(BaseEstimator):
    """Predict the churn rate of the last training as_of date, overall or per segment.

    Args:
        group_cols: segment columns (e.g. plan, region); empty for one overall rate.
        min_group_size: segments with fewer snapshots at the last as_of use the overall rate.
        as_of_col: column holding the snapshot date.
        label_col: column holding the churn label (used when `y` is not passed to fit).

    Attributes:
        last_as_of_: the last as_of date in the training data.
        overall_rate_: churn rate over all snapshots at that date.
        n_last_: snapshots at that date.
        group_rates_: per-segment rate and count (segments of at least `min_group_size` only).
    """

    def __init__(
        self,
        group_cols: Sequence[str] = (),
        min_group_size: int = 30,
        as_of_col: str = "as_of",
        label_col: str = "label",
    ) -> None:
        self.group_cols = group_cols
        self.min_group_size = min_group_size
        self.as_of_col = as_of_col
        self.label_col = label_col

    def fit(self, X: pd.DataFrame, y: ArrayLike | None = None) -> LastPeriodRateBaseline:
        """Learn last period's churn rates from the training snapshots.

        Args:
            X: training snapshots with the as_of column, the group columns and (unless `y`
                is given) the label column.
            y: churn labels, one per row; default `X[label_col]`.

        Returns:
            self
        """
        groups = list(self.group_cols)
        needed = [self.as_of_col, *groups] + ([self.label_col] if y is None else [])
        missing = [c for c in needed if c not in X.columns]
        if missing:
            raise ValueError(f"last-period baseline needs columns: {', '.join(missing)}")
        if X.empty:
            raise ValueError("last-period baseline: no training snapshots")
        labels = X[self.label_col] if y is None else y
        labels = np.asarray(labels, dtype=np.float64)
        if len(labels) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(labels)}")
        if np.isnan(labels).any():
            raise ValueError("labels contain missing values")
        as_of = pd.to_datetime(X[self.as_of_col])
        last = as_of.max()
        at_last = (as_of == last).to_numpy()
        frame = X.loc[at_last, groups].astype(object).assign(_label=labels[at_last])
        self.last_as_of_ = last
        self.n_last_ = int(at_last.sum())
        self.overall_rate_ = float(frame["_label"].mean())
        if groups:
            rates = (
                frame.groupby(groups, dropna=True, sort=True)["_label"]
                .agg(rate="mean", count="size")
                .reset_index()
            )
            small = rates["count"] < self.min_group_size
            if small.any():
                log.info(
                    "last-period baseline: %d segments under %d snapshots use the overall rate",
                    int(small.sum()),
                    self.min_group_size,
                )
            self.group_rates_ = rates.loc[~small].reset_index(drop=True)
        else:
            self.group_rates_ = pd.DataFrame({"rate": [], "count": []})
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities of [no churn, churn]: the segment's last-period rate, else the overall."""
        groups = list(self.group_cols)
        missing = [c for c in groups if c not in X.columns]
        if missing:
            raise ValueError(f"last-period baseline needs columns: {', '.join(missing)}")
        rate = np.full(len(X), self.overall_rate_)
        if groups and not self.group_rates_.empty:
            keys = X[groups].astype(object).reset_index(drop=True)
            matched = keys.merge(self.group_rates_, on=groups, how="left", sort=False)["rate"]
            found = matched.notna().to_numpy()
            rate[found] = matched.to_numpy(dtype=np.float64, na_value=np.nan)[found]
        return np.column_stack([1.0 - rate, rate])
