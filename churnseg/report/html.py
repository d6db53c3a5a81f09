"""The customer-success priority page: one self-contained HTML file (inline CSS, JS and SVG).

The page opens without a network: headline numbers, owner queues against capacity, the ranked
priority list (search, sort, filters, pagination over the in-memory rows), a per-account
drill-down with a contribution chart, the segment summary with charts, and the model and data
date. Everything from the data is either escaped by Jinja (autoescape on) or embedded as JSON in a
`<script type="application/json">` block with `<`, `>` and `&` escaped, and the page's script
writes it into the document with `textContent` only, so text that looks like HTML or script is
shown literally and never runs.

Rows travel as columns (numbers rounded, repeated text dictionary-encoded), which keeps a
50,000-account page to a few megabytes; the list shows one page of rows at a time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from churnseg.config import PriorityConfig
from churnseg.features import catalog
from churnseg.scoring.prioritize import NO_OWNER

PAGE_SIZE = 100
#: Columns every row carries the same value of: shown once in the page header, not per row.
RUN_COLUMNS = ("as_of", "model_name", "model_version")
#: Columns whose values feed a filter select (always dictionary-encoded).
SELECT_COLUMNS = (
    "owner",
    "playbook",
    "segment_region",
    "segment_renewal",
    "risk_tier",
    "value_tier",
    "segment_onboarding",
    "segment_risk_level",
    "segment_adoption",
    "segment_journey",
    "segment_channel",
    "segment_sentiment",
    "intervention_segment",
    "primary_driver",
    "early_adopter",
    "ltv_source",
)
#: Segment families offered by the list's "segment" filter (region and renewal have their own).
SEGMENT_FILTER_COLUMNS = (
    "risk_tier",
    "value_tier",
    "intervention_segment",
    "primary_driver",
    "segment_onboarding",
    "segment_risk_level",
    "segment_adoption",
    "segment_journey",
    "segment_channel",
    "segment_sentiment",
    "early_adopter",
)
DECIMALS: dict[str, int] = {"probability": 4, "priority_score": 2}
MONEY_DECIMALS = 2
LABELS: dict[str, str] = {
    "priority_rank": "Rank",
    "account_id": "Account",
    "probability": "Churn probability",
    "risk_tier": "Risk tier",
    "arr": "ARR",
    "ltv": "LTV",
    "ltv_source": "LTV source",
    "expected_arr_at_risk": "Expected ARR at risk",
    "ltv_at_risk": "LTV at risk",
    "priority_score": "Priority score",
    "value_tier": "Value tier",
    "intervention_segment": "Intervention segment",
    "playbook": "Playbook",
    "owner": "Owner",
    "routing_reason": "Routing reason",
    "primary_driver": "Primary driver",
    "segment_onboarding": "Onboarding",
    "segment_risk_level": "Risk level",
    "segment_adoption": "Adoption",
    "segment_journey": "Journey stage",
    "segment_region": "Region",
    "segment_channel": "Acquisition channel",
    "segment_sentiment": "Sentiment",
    "segment_renewal": "Renewal window",
    "early_adopter": "Early adopter",
    "triggers": "Triggers",
}
CHART_LABEL_WIDTH = 230
CHART_BAR_WIDTH = 260
CHART_ROW_HEIGHT = 22
CHART_MAX_BARS = 15


def render_report(
    priority: pd.DataFrame,
    summary: pd.DataFrame,
    contributions: pd.DataFrame | None = None,
    priority_cfg: PriorityConfig | None = None,
    page_size: int = PAGE_SIZE,
    alerts: list[str] | None = None,
) -> str:
    """The priority page as one HTML document.

    Args:
        priority: the ranked priority list of one scoring run (`priority.parquet`).
        summary: its segment summary (family, segment, accounts, arr, mean_risk, arr_at_risk).
        contributions: long per-account contributions (account_id, feature, family, value,
            contribution); accounts without rows show "not explained" in the drill-down.
        priority_cfg: owner queues and their capacity (defaults when None).
        page_size: rows per page of the list.
        alerts: crisis alerts of the run (`alerts.csv`), shown above everything else.

    Returns:
        The HTML text; identical for identical inputs (no timestamps, sorted encodings).
    """
    cfg = priority_cfg or PriorityConfig()
    ranked = _ranked(priority)
    env = _environment()
    script = _asset("report.js")
    context = {
        "css": Markup(_asset("report.css")),
        "script": Markup(script),
        # CSP: only this exact script may run, so even an escaping bug could not run injected code
        "script_hash": "sha256-"
        + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode(),
        "meta": run_meta(ranked),
        "headline": headline(ranked),
        "alerts": list(alerts or []),
        "pinned": int(ranked["pinned"].sum()) if "pinned" in ranked.columns else 0,
        "queues": queue_load(ranked, cfg).to_dict("records"),
        "families": summary_charts(summary),
        "page_size": int(page_size),
        "data_json": script_json(rows_payload(ranked)),
        "contrib_json": script_json(contributions_payload(contributions, ranked["account_id"])),
    }
    return env.get_template("report.html.j2").render(**context)


def script_json(obj: Any) -> Markup:
    """`obj` as JSON that is safe inside a `<script>` element.

    `<`, `>` and `&` (and the JS line separators) become `\\uXXXX` escapes, so no value can close
    the script element or open a comment; JSON.parse restores them unchanged.
    """
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False, ensure_ascii=True)
    return Markup(text.translate(_SCRIPT_ESCAPES))


_SCRIPT_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def run_meta(priority: pd.DataFrame) -> dict[str, str]:
    """as_of, model name and model version of the run (`unknown` when absent or mixed)."""
    out = {}
    for col in RUN_COLUMNS:
        if col not in priority.columns or priority.empty:
            out[col] = "unknown"
            continue
        values = priority[col].dropna().unique()
        if col == "as_of":
            values = pd.to_datetime(pd.Series(values)).dt.strftime("%Y-%m-%d").unique()
        out[col] = str(values[0]) if len(values) == 1 else ("mixed" if len(values) else "unknown")
    return out


def headline(priority: pd.DataFrame) -> list[dict[str, str]]:
    """The headline cards: label, value and a note, already formatted."""
    arr = _numeric(priority, "arr")
    at_risk = _numeric(priority, "expected_arr_at_risk")
    total_arr = float(np.nansum(arr)) if "arr" in priority else math.nan
    total_risk = float(np.nansum(at_risk)) if "expected_arr_at_risk" in priority else math.nan
    owned = priority["owner"].astype(str) != NO_OWNER if "owner" in priority else None
    share = total_risk / total_arr if total_arr else math.nan
    cards = [
        {"label": "Accounts scored", "value": _count(len(priority)), "note": ""},
        {"label": "Total ARR", "value": _money(total_arr), "note": ""},
        {
            "label": "Expected ARR at risk",
            "value": _money(total_risk),
            "note": f"{_pct(share)} of ARR",
        },
    ]
    if owned is not None:
        cards.append(
            {
                "label": "Accounts to act on",
                "value": _count(int(owned.sum())),
                "note": f"{_money(float(np.nansum(at_risk[owned])))} expected ARR at risk",
            }
        )
    return cards


def queue_load(priority: pd.DataFrame, cfg: PriorityConfig) -> pd.DataFrame:
    """Accounts and expected ARR at risk per owner, against the queue's weekly capacity.

    Returns:
        owner, kind (`csm` queue, `automated`, `monitor`, or `other` for owners the config does
        not know), accounts, capacity (NaN: no limit), load (accounts / capacity), arr_at_risk,
        bar (0-1, capped fill of the capacity bar). Configured queues come first, in config order,
        even when empty.
    """
    owners = priority["owner"].astype(str) if "owner" in priority else pd.Series(dtype=str)
    risk = _numeric(priority, "expected_arr_at_risk")
    counts = owners.value_counts()
    sums = risk.groupby(owners.to_numpy()).sum() if len(owners) else pd.Series(dtype=float)
    rows = [(q.name, "csm", float(q.capacity)) for q in cfg.queues]
    known = {q.name for q in cfg.queues}
    for name, kind in ((cfg.automated_owner, "automated"), (NO_OWNER, "monitor")):
        if name not in known:
            rows.append((name, kind, math.nan))
            known.add(name)
    rows += [(name, "other", math.nan) for name in sorted(set(counts.index) - known)]
    out = pd.DataFrame(rows, columns=["owner", "kind", "capacity"])
    accounts = out["owner"].map(counts).fillna(0).astype("int64")
    load = accounts / out["capacity"].where(out["capacity"] > 0)
    return out.assign(
        accounts=accounts,
        load=load,
        arr_at_risk=out["owner"].map(sums).fillna(0.0),
        bar=load.clip(upper=1.0).fillna(0.0),
        accounts_text=accounts.map(_count),
        capacity_text=out["capacity"].map(lambda c: "no limit" if math.isnan(c) else _count(c)),
        load_text=load.map(_pct),
        arr_at_risk_text=out["owner"].map(sums).fillna(0.0).map(_money),
        over=load > 1.0,
    )[
        [
            "owner",
            "kind",
            "accounts",
            "capacity",
            "load",
            "arr_at_risk",
            "bar",
            "accounts_text",
            "capacity_text",
            "load_text",
            "arr_at_risk_text",
            "over",
        ]
    ]


def summary_charts(summary: pd.DataFrame) -> list[dict[str, Any]]:
    """One entry per segment family: its table rows and a horizontal bar chart of ARR at risk.

    Rows are ordered by ARR at risk (largest first); the chart shows the top `CHART_MAX_BARS`.
    """
    families = []
    for key in pd.unique(summary["family"].astype(str)):
        part = summary[summary["family"].astype(str) == key]
        part = part.assign(
            arr_at_risk=pd.to_numeric(part["arr_at_risk"], errors="coerce")
        ).sort_values(["arr_at_risk", "segment"], ascending=[False, True], kind="mergesort")
        top = float(part["arr_at_risk"].max()) if len(part) else 0.0
        rows, bars = [], []
        for i, rec in enumerate(part.itertuples(index=False)):
            value = float(rec.arr_at_risk) if pd.notna(rec.arr_at_risk) else 0.0
            label = str(rec.segment)
            rows.append(
                {
                    "segment": label,
                    "accounts": _count(rec.accounts),
                    "arr": _money(rec.arr),
                    "mean_risk": _pct(rec.mean_risk),
                    "arr_at_risk": _money(value),
                }
            )
            if i < CHART_MAX_BARS:
                bars.append(
                    {
                        "label": _truncate(label, 34),
                        "full": label,
                        "y": i * CHART_ROW_HEIGHT,
                        "w": round(CHART_BAR_WIDTH * value / top, 1) if top > 0 else 0.0,
                        "value": _money(value),
                        "risk": _pct(rec.mean_risk),
                    }
                )
        families.append(
            {
                "key": key,
                "label": LABELS.get(key, key.replace("_", " ").capitalize()),
                "rows": rows,
                "bars": bars,
                "hidden_bars": max(len(rows) - CHART_MAX_BARS, 0),
                "label_w": CHART_LABEL_WIDTH,
                "width": CHART_LABEL_WIDTH + CHART_BAR_WIDTH + 150,
                "height": max(len(bars), 1) * CHART_ROW_HEIGHT + 4,
            }
        )
    return families


def rows_payload(priority: pd.DataFrame) -> dict[str, Any]:
    """The list's rows as columns, in rank order, for the page's script.

    Numbers are rounded (money to cents, probability to 4 dp) with NaN as null; text columns
    used by filters, or with many repeats, are dictionary-encoded as sorted `categories` plus
    integer `codes`; other text is sent as `values`.
    """
    ranked = _ranked(priority)
    n = len(ranked)
    columns: dict[str, dict[str, Any]] = {}
    for col in ranked.columns:
        if col in RUN_COLUMNS:
            continue
        s = ranked[col]
        if pd.api.types.is_bool_dtype(s):
            columns[col] = _coded(s.map({True: "yes", False: "no"}).fillna(""))
        elif pd.api.types.is_numeric_dtype(s):
            columns[col] = {"kind": "num", "values": _numbers(s, DECIMALS.get(col, MONEY_DECIMALS))}
        else:
            text = _text(s)
            many_repeats = n > 0 and text.nunique() * 2 <= n
            columns[col] = (
                _coded(text)
                if col in SELECT_COLUMNS or many_repeats
                else {"kind": "text", "values": text.tolist()}
            )
    reasons = sorted(
        (c for c in ranked.columns if c.startswith("reason_") and c[7:].isdigit()),
        key=lambda c: int(c[7:]),
    )
    return {
        "n": n,
        "columns": columns,
        "labels": column_labels(list(columns)),
        "reasons": reasons,
        "segment_filters": [c for c in SEGMENT_FILTER_COLUMNS if c in columns],
    }


def contributions_payload(
    contributions: pd.DataFrame | None, account_ids: pd.Series
) -> dict[str, Any]:
    """Per-account contributions grouped by list row, ordered by |contribution| within a row.

    Args:
        contributions: long table (account_id, feature, family, value, contribution) or None.
        account_ids: the list's account ids in row order (rank order).

    Returns:
        `rows` (list rows that have contributions, ascending) with `counts` (entries per row),
        then parallel arrays over all entries: `feature` (code), `value` (code) and
        `contribution` (log-odds, 3 dp); lookup lists `features`, `families`, `descriptions`
        and `values`. Entries for accounts not in the list are dropped.
    """
    empty: dict[str, Any] = {
        "rows": [],
        "counts": [],
        "feature": [],
        "value": [],
        "contribution": [],
        "features": [],
        "families": [],
        "descriptions": [],
        "values": [],
    }
    if contributions is None or contributions.empty:
        return empty
    position = pd.Series(np.arange(len(account_ids)), index=account_ids.astype(str).to_numpy())
    position = position[~position.index.duplicated()]
    row = contributions["account_id"].astype(str).map(position).to_numpy(dtype=float)
    contribution = pd.to_numeric(contributions["contribution"], errors="coerce").to_numpy(
        dtype=float
    )
    keep = ~np.isnan(row) & np.isfinite(contribution)
    if not keep.any():
        return empty
    feature_codes, features = pd.factorize(_text(contributions["feature"])[keep], sort=True)
    value_codes, values = pd.factorize(_text(contributions["value"])[keep], sort=True)
    row, contribution = row[keep].astype(np.int64), contribution[keep]
    families = (
        _text(contributions["family"])[keep].to_numpy()
        if "family" in contributions
        else np.full(len(row), "")
    )
    # by row, then largest |contribution| first, then feature name: the drill-down's bar order
    order = np.lexsort((feature_codes, -np.abs(contribution), row))
    rows, counts = np.unique(row[order], return_counts=True)
    family_of = dict(zip(feature_codes[::-1], families[::-1], strict=True))  # first seen wins
    return {
        "rows": rows.tolist(),
        "counts": counts.tolist(),
        "feature": feature_codes[order].tolist(),
        "value": value_codes[order].tolist(),
        "contribution": _numbers(pd.Series(contribution[order]), 3),
        "features": [str(f) for f in features],
        "families": [str(family_of[k]) for k in range(len(features))],
        "descriptions": [catalog.lookup(str(f)).description for f in features],
        "values": [str(v) for v in values],
    }


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("churnseg.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(money=_money, pct=_pct, count=_count)
    return env


def _asset(name: str) -> str:
    """A static file's text from the templates folder, unrendered (CSS and JS are not Jinja)."""
    return (resources.files("churnseg.report") / "templates" / name).read_text(encoding="utf-8")


def _ranked(priority: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in ("priority_rank", "account_id") if c in priority.columns]
    ranked = priority.sort_values(keys, kind="mergesort") if keys else priority
    return ranked.reset_index(drop=True)


def _numeric(frame: pd.DataFrame, col: str) -> pd.Series:
    """A column as float (all-NaN when the frame does not have it)."""
    if col not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype="float64")
    return pd.to_numeric(frame[col], errors="coerce").astype("float64")


def _text(s: pd.Series) -> pd.Series:
    """Text of every value; missing values become the empty string."""
    obj = s.astype(object)
    return obj.where(obj.notna(), "").map(str)


def _coded(text: pd.Series) -> dict[str, Any]:
    codes, categories = pd.factorize(text.astype(object), sort=True)
    return {"kind": "code", "codes": codes.tolist(), "categories": [str(c) for c in categories]}


def _numbers(s: pd.Series, decimals: int) -> list[float | int | None]:
    values = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
    if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
        return values.astype(np.int64).tolist()
    out = np.round(values, decimals).astype(object)
    out[~np.isfinite(values)] = None
    return out.tolist()


def _money(value: object) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    return "–" if math.isnan(number) else f"{number:,.0f}"


def _pct(value: object) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    return "–" if math.isnan(number) or math.isinf(number) else f"{number:.1%}"


def _count(value: object) -> str:
    try:
        return f"{int(value):,}"  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return "–"


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def column_labels(columns: Sequence[str]) -> Mapping[str, str]:
    """Display label of each column (the column name, humanised, when it has no fixed label)."""
    return {c: LABELS.get(c, c.replace("_", " ").capitalize()) for c in columns}
