"""Outputs for people: the priority page, CSV export, segment summary and evaluation figures.

The readers below give notebooks the same data the HTML page and the CRM export show, typed:

    from churnseg.report import priority_frame
    priority = priority_frame("scores", "2024-06-01")
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

PRIORITY_FILE = "priority.parquet"
SUMMARY_FILE = "segments_summary.csv"
CONTRIBUTIONS_FILE = "contributions.parquet"

NUMERIC_COLUMNS = (
    "probability",
    "arr",
    "ltv",
    "expected_arr_at_risk",
    "ltv_at_risk",
    "priority_score",
)
LABEL_COLUMNS = (
    "risk_tier",
    "ltv_source",
    "value_tier",
    "intervention_segment",
    "playbook",
    "owner",
    "primary_driver",
    "segment_onboarding",
    "segment_risk_level",
    "segment_adoption",
    "segment_journey",
    "segment_region",
    "segment_channel",
    "segment_sentiment",
    "segment_renewal",
    "model_name",
    "model_version",
)
SUMMARY_COLUMNS = ("family", "segment", "accounts", "arr", "mean_risk", "arr_at_risk")
CONTRIBUTION_COLUMNS = ("account_id", "feature", "family", "value", "contribution")


def as_of_dir(scores_dir: str | Path, as_of: str | dt.date | pd.Timestamp) -> Path:
    """The folder a scoring run wrote for `as_of`: `<scores_dir>/<YYYY-MM-DD>`."""
    return Path(scores_dir) / pd.Timestamp(as_of).date().isoformat()


def priority_frame(scores_dir: str | Path, as_of: str | dt.date | pd.Timestamp) -> pd.DataFrame:
    """The ranked priority list of one scoring run, typed for analysis.

    Args:
        scores_dir: the scoring output root (`churnseg score --out`).
        as_of: the run's data date (`"2024-06-01"`, a date or a Timestamp).

    Returns:
        One row per account in priority order: `priority_rank` int64, money and probability
        columns float64, `as_of` datetime64, segment/owner/playbook columns categorical, free
        text (account_id, reasons, routing_reason, triggers) as strings; `early_adopter` bool.

    Raises:
        FileNotFoundError: no priority list for that as_of, naming the path looked at.
    """
    path = as_of_dir(scores_dir, as_of) / PRIORITY_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"no priority list for as_of {pd.Timestamp(as_of).date()}: "
            f"{path} does not exist (run `churnseg score` first)"
        )
    raw = pd.read_parquet(path)
    typed: dict[str, pd.Series] = {}
    for col in raw.columns:
        s = raw[col]
        if col == "priority_rank":
            typed[col] = pd.to_numeric(s).astype("int64")
        elif col in NUMERIC_COLUMNS:
            typed[col] = pd.to_numeric(s, errors="coerce").astype("float64")
        elif col == "as_of":
            typed[col] = pd.to_datetime(s)
        elif col == "early_adopter":
            typed[col] = s.astype(bool)
        elif col in LABEL_COLUMNS:
            typed[col] = s.astype("category")
        else:
            typed[col] = s
    out = pd.DataFrame(typed, index=raw.index)
    if "priority_rank" in out.columns:
        out = out.sort_values("priority_rank", kind="mergesort").reset_index(drop=True)
    return out


def summary_frame(scores_dir: str | Path, as_of: str | dt.date | pd.Timestamp) -> pd.DataFrame:
    """The segment summary of one run (family, segment, accounts, arr, mean_risk, arr_at_risk).

    Segment labels are read as text, so a region called `NA` stays `NA` rather than missing.

    Raises:
        FileNotFoundError: no summary for that as_of, naming the path looked at.
    """
    path = as_of_dir(scores_dir, as_of) / SUMMARY_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"no segment summary for as_of {pd.Timestamp(as_of).date()}: {path} does not exist"
        )
    raw = pd.read_csv(path, dtype={"family": str, "segment": str}, keep_default_na=False)
    return raw.assign(
        **{
            c: pd.to_numeric(raw[c], errors="coerce")
            for c in ("accounts", "arr", "mean_risk", "arr_at_risk")
            if c in raw
        }
    )


def contributions_frame(
    scores_dir: str | Path, as_of: str | dt.date | pd.Timestamp
) -> pd.DataFrame:
    """Per-account top feature contributions (log-odds SHAP) of one run, long format.

    Returns:
        account_id, feature, family, value (text), contribution; empty (same columns) when the run
        wrote no contributions. Accounts that were not explained have no rows.
    """
    path = as_of_dir(scores_dir, as_of) / CONTRIBUTIONS_FILE
    if not path.is_file():
        return pd.DataFrame(
            {
                c: pd.Series(dtype="float64" if c == "contribution" else object)
                for c in CONTRIBUTION_COLUMNS
            }
        )
    raw = pd.read_parquet(path)
    return raw.assign(contribution=pd.to_numeric(raw["contribution"], errors="coerce"))
