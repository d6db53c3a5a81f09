"""CRM export: the ranked priority list as a CSV for CRM import, safe to open in spreadsheets.

One row per account in priority order, with stable column names (`CRM_COLUMNS`; renaming one is a
breaking change for every CRM mapping built on it):

| column | type | meaning |
|---|---|---|
| account_id | text | account identifier, as in the input data |
| priority_rank | integer | 1 = work on this first: crisis-alert accounts, then by priority_score |
| churn_probability | number 0-1 | calibrated probability of churning in the label horizon (4 dp) |
| risk_tier | text | low / medium / high, from churn_probability |
| arr | number | annual recurring revenue at as_of |
| ltv | number | lifetime value (input column or estimated from ARR, margin and risk) |
| expected_arr_at_risk | number | churn_probability x arr |
| priority_score | number | the ranking score (expected ARR or LTV at risk x renewal boost) |
| value_tier | text | small / mid / large / strategic, from arr |
| owner | text | CSM queue, automated campaign, or `none` (monitor only) |
| routing_reason | text | why the account went to that owner (tier, queue capacity) |
| playbook | text | intervention to run: from the crisis alert's signal, else the primary driver |
| intervention_segment | text | risk tier / value tier / primary driver |
| primary_driver | text | feature family raising risk most (payments, usage, ...) or `none` |
| reason_1 .. reason_3 | text | top reasons in plain language (empty if not explained) |
| triggers | text | events calling for action now, `; `-separated (may be empty) |
| renewal_window | text | renews_30d / renews_60d / renews_90d / later / unknown |
| region | text | account region (`other` for regions with too few accounts) |
| as_of | date | data date of the scoring run, YYYY-MM-DD |
| model_name | text | registered model that scored the account |
| model_version | text | its version |
| crisis_alert | text | the crisis alert that ranked the account first (empty if none) |

Spreadsheet safety: a text cell beginning with `=`, `+`, `-`, `@`, tab, carriage return or line
feed is prefixed with a single quote (`'`) so spreadsheet software shows it as text instead of
evaluating it as a formula; numeric columns and text that is exactly a plain decimal number (such
as `-12.5`) are left as they are. The output is deterministic: rows in rank order, fixed
rounding, `\\n` line endings, UTF-8 with an optional byte-order mark for Excel.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd

#: CRM column -> source column of the priority list (None: derived, see `crm_frame`).
CRM_SOURCES: dict[str, str | None] = {
    "account_id": "account_id",
    "priority_rank": "priority_rank",
    "churn_probability": "probability",
    "risk_tier": "risk_tier",
    "arr": "arr",
    "ltv": "ltv",
    "expected_arr_at_risk": "expected_arr_at_risk",
    "priority_score": "priority_score",
    "value_tier": "value_tier",
    "owner": "owner",
    "routing_reason": "routing_reason",
    "playbook": "playbook",
    "intervention_segment": "intervention_segment",
    "primary_driver": "primary_driver",
    "reason_1": "reason_1",
    "reason_2": "reason_2",
    "reason_3": "reason_3",
    "triggers": "triggers",
    "renewal_window": "segment_renewal",
    "region": "segment_region",
    "as_of": None,
    "model_name": "model_name",
    "model_version": "model_version",
    "crisis_alert": "alert",
}
CRM_COLUMNS: tuple[str, ...] = tuple(CRM_SOURCES)

NUMERIC_DECIMALS: dict[str, int] = {
    "churn_probability": 4,
    "arr": 2,
    "ltv": 2,
    "expected_arr_at_risk": 2,
    "priority_score": 2,
}
REQUIRED_SOURCES = ("account_id", "priority_rank", "probability")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise_cell(value: object) -> object:
    """`value` with a leading `'` if it is text a spreadsheet would run as a formula.

    Non-text values, and text that is exactly a plain decimal number, are returned unchanged.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_PREFIXES):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` with every text cell passed through `neutralise_cell`.

    Numeric, boolean and datetime columns are left untouched (a negative number is a number).
    """
    out = {}
    for col in frame.columns:
        s = frame[col]
        if (
            pd.api.types.is_numeric_dtype(s)
            or pd.api.types.is_bool_dtype(s)
            or pd.api.types.is_datetime64_any_dtype(s)
        ):
            out[col] = s
        else:
            out[col] = s.astype(object).map(neutralise_cell, na_action="ignore")
    return pd.DataFrame(out, index=frame.index)


def crm_frame(priority: pd.DataFrame) -> pd.DataFrame:
    """The CRM export table: `CRM_COLUMNS`, one row per account in priority order, neutralised.

    Args:
        priority: the scoring run's priority list (`priority.parquet`); optional columns it lacks
            (e.g. a run with fewer reasons or no region) are exported empty.

    Raises:
        ValueError: `priority` lacks account_id, priority_rank or probability.
    """
    missing = [c for c in REQUIRED_SOURCES if c not in priority.columns]
    if missing:
        raise ValueError(f"priority list lacks required column(s) {missing} for the CRM export")
    ranked = priority.sort_values(["priority_rank", "account_id"], kind="mergesort")
    n = len(ranked)
    cols: dict[str, object] = {}
    for name, source in CRM_SOURCES.items():
        if name == "as_of":
            cols[name] = _iso_dates(ranked["as_of"]) if "as_of" in ranked else np.full(n, "")
        elif name == "priority_rank":
            cols[name] = pd.to_numeric(ranked[source]).astype("int64").to_numpy()
        elif name in NUMERIC_DECIMALS:
            values = (
                pd.to_numeric(ranked[source], errors="coerce")
                if source in ranked
                else pd.Series(np.nan, index=ranked.index)
            )
            cols[name] = values.astype("float64").round(NUMERIC_DECIMALS[name]).to_numpy()
        elif source in ranked:
            s = ranked[source]
            cols[name] = s.astype(object).where(s.notna(), "").astype(str).to_numpy(dtype=object)
        else:
            cols[name] = np.full(n, "", dtype=object)
    frame = pd.DataFrame(cols, columns=list(CRM_COLUMNS))
    return neutralise_formulas(frame)


def crm_csv(priority: pd.DataFrame, bom: bool = False) -> bytes:
    """The CRM export as CSV bytes (UTF-8, `\\n` line endings, BOM first when `bom`)."""
    buffer = io.StringIO()
    crm_frame(priority).to_csv(buffer, index=False, lineterminator="\n")
    return ("\ufeff" if bom else "").encode("utf-8") + buffer.getvalue().encode("utf-8")


def _iso_dates(values: pd.Series) -> np.ndarray:
    stamps = pd.to_datetime(values, errors="coerce")
    return np.where(stamps.isna(), "", stamps.dt.strftime("%Y-%m-%d")).astype(object)
