"""Exact per-account explanations: LightGBM's native TreeSHAP, family roll-up, plain reasons.

`pred_contrib=True` gives exact TreeSHAP values whose sum plus the bias equals the raw score.
Exact TreeSHAP costs O(trees x leaves x depth^2) per account, so accounts are explained in chunks
(LightGBM parallelizes each chunk over cores) with progress reported between chunks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from churnseg.features import catalog
from churnseg.model.package import ChurnModel

log = logging.getLogger(__name__)

BIAS = "bias"
NO_DRIVER = "none"


def shap_contributions(
    model: ChurnModel,
    X: pd.DataFrame,
    chunk_size: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Exact TreeSHAP contribution of every feature (log-odds) plus a `bias` column, per row."""
    prepared = model.prepare(X)
    parts = []
    for start in range(0, len(prepared), chunk_size):
        chunk = prepared.iloc[start:start + chunk_size]
        parts.append(model.booster.predict(chunk, pred_contrib=True))
        if progress is not None:
            progress(min(start + chunk_size, len(prepared)), len(prepared))
    values = np.vstack(parts) if parts else np.empty((0, len(model.features) + 1))
    return pd.DataFrame(values, columns=[*model.features, BIAS], index=X.index)


def family_contributions(contrib: pd.DataFrame, families: Mapping[str, str]) -> pd.DataFrame:
    """Contributions summed by feature family (one column per family, bias excluded)."""
    cols = [c for c in contrib.columns if c != BIAS]
    groups = pd.Series({c: families.get(c, "other") for c in cols})
    return contrib[cols].T.groupby(groups).sum().T


def primary_driver(by_family: pd.DataFrame) -> pd.Series:
    """The family that raises each account's risk the most; `none` if no family raises it."""
    if by_family.empty:
        return pd.Series(NO_DRIVER, index=by_family.index, dtype=object)
    top = by_family.idxmax(axis=1)
    return top.where(by_family.max(axis=1) > 0, NO_DRIVER)


def feature_families(features: Sequence[str]) -> dict[str, str]:
    return {f: catalog.lookup(f).family for f in features}


def top_reasons(contrib: pd.DataFrame, values: pd.DataFrame, n: int = 3) -> pd.DataFrame:
    """Up to `n` plain-language reasons per account, for the features that raise its risk most.

    Args:
        contrib: SHAP contributions (features + bias) per account.
        values: the same accounts' feature values (used to fill the reason templates).

    Returns:
        Columns reason_1..reason_n (empty string where fewer features raise risk) and
        reason_feature_1..n.
    """
    cols = [c for c in contrib.columns if c != BIAS]
    matrix = contrib[cols].to_numpy()
    # stable order: by contribution descending, then by feature position
    order = np.argsort(-matrix, axis=1, kind="stable")[:, :n]
    out_reasons = [[""] * len(contrib) for _ in range(n)]
    out_features = [[""] * len(contrib) for _ in range(n)]
    value_rows = values.reindex(contrib.index)
    for i in range(len(contrib)):
        row = value_rows.iloc[i]
        for k in range(min(n, len(cols))):
            j = order[i, k]
            if matrix[i, j] <= 0:
                break
            name = cols[j]
            out_features[k][i] = name
            out_reasons[k][i] = reason_text(name, row)
    data = {f"reason_{k + 1}": out_reasons[k] for k in range(n)}
    data.update({f"reason_feature_{k + 1}": out_features[k] for k in range(n)})
    return pd.DataFrame(data, index=contrib.index)


def reason_text(feature: str, row: pd.Series) -> str:
    """The catalog's sentence for `feature` filled with this account's value."""
    return catalog.lookup(feature).reason(row.get(feature))


def top_contributions(contrib: pd.DataFrame, values: pd.DataFrame, account_id: pd.Series,
                      n: int = 8) -> pd.DataFrame:
    """Long table of each account's `n` largest |contributions|: account_id, feature, family,
    value (as text), contribution; ordered by account then |contribution| descending."""
    cols = [c for c in contrib.columns if c != BIAS]
    if contrib.empty or not cols:
        return pd.DataFrame(columns=["account_id", "feature", "family", "value", "contribution"])
    matrix = contrib[cols].to_numpy()
    k = min(n, len(cols))
    order = np.argsort(-np.abs(matrix), axis=1, kind="stable")[:, :k]
    rows = np.repeat(np.arange(len(contrib)), k)
    feats = np.asarray(cols, dtype=object)[order.ravel()]
    vals = values.reindex(contrib.index)
    text = np.empty(len(rows), dtype=object)
    for j in np.unique(order):
        # one column at a time: format each feature's values once, then pick the needed rows
        hit = order.ravel() == j
        column = vals[cols[j]].to_numpy(dtype=object)
        text[hit] = [_as_text(v) for v in column[rows[hit]]]
    families = feature_families(cols)
    return pd.DataFrame({
        "account_id": account_id.reindex(contrib.index).to_numpy()[rows],
        "feature": feats,
        "family": [families[f] for f in feats],
        "value": text,
        "contribution": matrix[rows, order.ravel()],
    })


def _as_text(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
