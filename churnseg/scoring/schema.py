"""The output contract of a scoring run, checked with pandera before anything is written.

CRM imports and the HTML page depend on these columns; a run that would break them fails
instead of publishing a malformed list.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

PRIORITY_SCHEMA = pa.DataFrameSchema(
    {
        "priority_rank": pa.Column(int, pa.Check.ge(1), unique=True),
        "account_id": pa.Column(str, unique=True, nullable=False),
        "probability": pa.Column(float, pa.Check.in_range(0.0, 1.0)),
        "arr": pa.Column(float, pa.Check.ge(0.0)),
        "ltv": pa.Column(float, pa.Check.ge(0.0)),
        "expected_arr_at_risk": pa.Column(float, pa.Check.ge(0.0)),
        "priority_score": pa.Column(float, pa.Check.ge(0.0)),
        "risk_tier": pa.Column(str),
        "value_tier": pa.Column(str),
        "owner": pa.Column(str, nullable=False),
        "playbook": pa.Column(str, nullable=False),
        "primary_driver": pa.Column(str, nullable=False),
        "reason_1": pa.Column(str, nullable=False),
    },
    checks=[
        pa.Check(lambda df: df["priority_rank"].is_monotonic_increasing,
                 error="rows are not in priority order"),
        pa.Check(lambda df: _in_priority_order(df),
                 error="priority_score does not decrease with rank (pinned accounts first)"),
    ],
    strict=False,
    coerce=True,
)


def _in_priority_order(df: pd.DataFrame) -> bool:
    """Pinned accounts (crisis alerts) first, each band by decreasing priority_score."""
    pinned = (df["pinned"].astype(bool) if "pinned" in df.columns
              else pd.Series(False, index=df.index))
    return (pinned.astype(int).is_monotonic_decreasing
            and df.loc[pinned, "priority_score"].is_monotonic_decreasing
            and df.loc[~pinned, "priority_score"].is_monotonic_decreasing)


def check_priority(priority: pd.DataFrame) -> pd.DataFrame:
    """Validate the ranked list against `PRIORITY_SCHEMA` (raises pandera's SchemaErrors)."""
    return PRIORITY_SCHEMA.validate(priority, lazy=True)
