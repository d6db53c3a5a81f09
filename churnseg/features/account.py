"""Account and value features: ARR and its change, seats, plan, renewal, static attributes."""

from __future__ import annotations

import logging

import pandas as pd

from churnseg.data.io import Tables
from churnseg.features.catalog import is_known
from churnseg.features.snapshots import (
    SNAPSHOT_COLUMNS,
    as_category,
    days_between,
    normalize_keys,
    snapshot_keys,
    snapshot_relation,
)

log = logging.getLogger(__name__)

PROFILE_COLUMNS = ("region", "country", "acquisition_channel", "industry")


def subscription_value(
    tables: Tables, snapshots: pd.DataFrame, arr_change_days: int = 90
) -> pd.DataFrame:
    """The subscriptions active at as_of (started before it, not ended before it) and their value.

    Columns: arr (sum over active rows; null without an active subscription), arr_change_{n}d
    (arr vs the ARR active n = `arr_change_days` days earlier, fraction; null when that was 0),
    and when the columns exist: seats (sum), plan (category: of the active row with the highest
    ARR, then the latest start), renewal_term_months (the contract's billing term: the longest
    start-to-renewal gap, in 1/3/6/12 months, among the account's rows so far), days_to_renewal
    (days from as_of to that row's renews_at, or, when renews_at has already passed, to the
    first renewal after as_of stepping by the term: a renewal date not kept up to date recurs).
    """
    keys = snapshot_keys(snapshots)
    cols = set(tables.columns("subscriptions"))
    main = "ORDER BY sub.arr DESC, sub.started_at DESC"
    parts = ["sum(sub.arr) AS arr"]
    if "seats" in cols:
        parts.append("sum(sub.seats) AS seats")
    if "plan" in cols:
        parts.append(f"first(sub.plan {main}) AS plan")
    if "renews_at" in cols:
        parts.append(f"first(sub.renews_at {main}) AS renews_at")
    n = int(arr_change_days)
    with snapshot_relation(tables.con, keys) as snap:
        df = tables.con.execute(f"""
            WITH now AS (
                SELECT s.row, {", ".join(parts)}
                FROM "{snap}" s JOIN subscriptions sub ON sub.account_id = s.account_id
                 AND sub.started_at < s.as_of AND (sub.ended_at IS NULL OR sub.ended_at >= s.as_of)
                GROUP BY s.row
            ),
            {_terms_cte(snap) if "renews_at" in cols else ""}
            back AS (
                SELECT s.row, sum(sub.arr) AS arr_then
                FROM "{snap}" s JOIN subscriptions sub ON sub.account_id = s.account_id
                 AND sub.started_at < s.as_of - INTERVAL ({n}) DAY
                 AND (sub.ended_at IS NULL OR sub.ended_at >= s.as_of - INTERVAL ({n}) DAY)
                GROUP BY s.row
            )
            SELECT s.row, now.* EXCLUDE (row {", renews_at" if "renews_at" in cols else ""}),
                   {"terms.renewal_term_months," if "renews_at" in cols else ""}
                   CASE WHEN back.arr_then > 0
                        THEN (coalesce(now.arr, 0) - back.arr_then) / back.arr_then
                        END AS arr_change_{n}d
                   {
            ", "
            + days_between(
                _next_renewal("now.renews_at", "s.as_of", "terms.renewal_term_months"), "s.as_of"
            )
            + " AS days_to_renewal"
            if "renews_at" in cols
            else ""
        }
            FROM "{snap}" s LEFT JOIN now USING (row) LEFT JOIN back USING (row)
            {"LEFT JOIN terms USING (row)" if "renews_at" in cols else ""}
        """).df()
    out = keys.join(df.set_index("row"), how="left")
    order = ["account_id", "as_of", "arr", f"arr_change_{n}d"]
    out = out.assign(
        arr=out["arr"].astype(float), **{f"arr_change_{n}d": out[f"arr_change_{n}d"].astype(float)}
    )
    if "seats" in cols:
        out = out.assign(seats=out["seats"].astype(float))
        order.append("seats")
    else:
        log.info("subscriptions have no 'seats' column: feature 'seats' skipped")
    if "plan" in cols:
        out = out.assign(plan=as_category(out["plan"]))
        order.append("plan")
    if "renews_at" in cols:
        out = out.assign(
            days_to_renewal=out["days_to_renewal"].astype(float),
            renewal_term_months=out["renewal_term_months"].astype(float),
        )
        order += ["days_to_renewal", "renewal_term_months"]
    return normalize_keys(out[order])


def _terms_cte(snap: str) -> str:
    """SQL CTE `terms`: the account's billing term in months at as_of.

    A row's start-to-renewal gap gives its term only when the row starts at a renewal: an
    amendment row (a plan change or seat add mid-term) starts between two renewals, so its gap
    is a fraction of the term, while a row never overstates it. So the account's term is the
    longest among its rows started before as_of. (A switch from annual to monthly billing keeps
    reading as annual: rarer than upgrades to annual and than amendments, which this gets right.)
    """
    return f"""terms AS (
                SELECT s.row,
                       max({_term_months('sub.started_at', 'sub.renews_at')})
                           AS renewal_term_months
                FROM "{snap}" s JOIN subscriptions sub ON sub.account_id = s.account_id
                 AND sub.started_at < s.as_of AND sub.renews_at IS NOT NULL
                GROUP BY s.row
            ),"""


def _term_months(started_at: str, renews_at: str) -> str:
    """SQL: the billing term in months (1, 3, 6 or 12) from a row's start and renewal dates."""
    gap = f"date_diff('day', {started_at}, {renews_at})"
    return (
        f"(CASE WHEN {gap} <= 45 THEN 1 WHEN {gap} <= 135 THEN 3 WHEN {gap} <= 270 THEN 6 "
        "ELSE 12 END)"
    )


def _next_renewal(renews_at: str, as_of: str, term_months: str) -> str:
    """SQL: `renews_at`, or, when it lies before `as_of`, the first renewal on or after `as_of`
    stepping by the billing term (a renewal date that is not kept up to date recurs)."""
    steps = (
        f"CAST(ceil(date_diff('month', {renews_at}, {as_of}) / {term_months}) AS INTEGER)"
        f" * {term_months}"
    )
    rolled = f"({renews_at} + to_months({steps}))"
    return (
        f"(CASE WHEN {renews_at} >= {as_of} THEN {renews_at} WHEN {rolled} >= {as_of} "
        f"THEN {rolled} ELSE {rolled} + to_months({term_months}) END)"
    )


def account_profile(tables: Tables, snapshots: pd.DataFrame) -> pd.DataFrame:
    """Static account attributes: region, country, acquisition_channel, industry (categories)
    and the extra account columns declared in config (numbers stay numeric, text becomes a
    category; an extra column named like a feature gets an `account_` prefix)."""
    keys = snapshot_keys(snapshots)
    present = [c for c in PROFILE_COLUMNS if c in tables.columns("accounts")]
    extras = list(tables.extra_columns.get("accounts", ()))
    types = {r[0]: r[1].upper() for r in tables.con.execute("DESCRIBE accounts").fetchall()}
    usable = []
    for col in extras:
        kind = types.get(col, "")
        if kind.startswith(("TIMESTAMP", "DATE", "TIME", "INTERVAL")):
            log.warning(
                "extra account column '%s' is a %s: left out (dates are not static "
                "attributes; derive a number from them first)",
                col,
                kind,
            )
            continue
        usable.append(col)
    selected = [f'a."{c}"' for c in [*present, *usable]]
    with snapshot_relation(tables.con, keys) as snap:
        df = tables.con.execute(f"""
            SELECT s.row{"".join(", " + c for c in selected)}
            FROM "{snap}" s LEFT JOIN accounts a USING (account_id)
        """).df()
    out = keys.join(df.set_index("row"), how="left")
    out = out.assign(**{c: as_category(out[c]) for c in present})
    renamed = {}
    for col in usable:
        numeric = types[col].startswith(("DOUBLE", "FLOAT", "REAL", "DECIMAL", "BOOLEAN")) or (
            "INT" in types[col]
        )
        values = out[col].astype(float) if numeric else as_category(out[col])
        name = f"account_{col}" if is_known(col) or col in SNAPSHOT_COLUMNS else col
        renamed[name] = values
    out = out[["account_id", "as_of", *present]].assign(**renamed)
    return normalize_keys(out)
