"""Point-in-time snapshots: the as_of dates, the population at each date and its churn labels.

A snapshot is one (account_id, as_of) pair. Features of a snapshot use only rows stamped strictly
before as_of; its labels use only what happens after it, in the label window
(as_of + lead_days, as_of + lead_days + horizon_days].

Contractual churn: the population at as_of is every account with a subscription row active at
as_of (started_at < as_of and (ended_at is null or ended_at >= as_of)). Subscription rows are merged
into coverage periods, bridging gaps of at most `grace_days` (a re-signup within the grace period
is not churn); the account churned when the coverage period that contains as_of ends inside the
label window. A label is mature once the window plus the grace period lies before the data end.

Inactivity churn: the population is every account with an event in [as_of - inactivity_days,
as_of); the account churned when it has no event in the label window, mature once the window lies
before the data end.

Immature snapshots are kept (they are what gets scored) with `churned` null and
`label_matured` false; `labelled_snapshots` keeps the ones a model may be trained on.

This module also holds the small helpers every feature family shares: the normalised snapshot keys,
the snapshot relation registered on the DuckDB connection, SQL literals.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime

import duckdb
import numpy as np
import pandas as pd

from churnseg.config import SnapshotConfig
from churnseg.data.contract import FUTURE_OK, TABLES
from churnseg.data.io import Tables

log = logging.getLogger(__name__)

ID_COLUMNS = ("account_id", "as_of")
LABEL_COLUMNS = ("churned", "label_matured", "churned_at", "downgraded")
SNAPSHOT_COLUMNS = ID_COLUMNS + LABEL_COLUMNS + ("label_window_end", "arr_at_as_of")
"""Columns of `build_snapshots`; none of them is a model input."""

DAY_US = 86_400_000_000
"""Microseconds per day: DuckDB ages are computed in microseconds, features report days."""

_OPEN_END = "TIMESTAMP '9999-12-31'"
"""Stands for 'still active' (ended_at null) where an ordered timestamp is needed."""


# --------------------------------------------------------------------------------------------
# as_of dates
# --------------------------------------------------------------------------------------------
def to_timestamp(value: str | date | datetime | pd.Timestamp) -> pd.Timestamp:
    """A naive UTC timestamp (the contract's convention) from a date, string or timestamp."""
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.as_unit("ns")


def as_of_dates(cfg: SnapshotConfig) -> list[pd.Timestamp]:
    """The configured as_of dates: the explicit list, else `start`..`end` every `frequency`.

    Raises:
        ValueError: neither `as_of` nor both `start` and `end` are set.
    """
    if cfg.as_of:
        return sorted({to_timestamp(d) for d in cfg.as_of})
    if cfg.start is None or cfg.end is None:
        raise ValueError("snapshot config needs `as_of` dates or both `start` and `end`")
    dates = pd.date_range(pd.Timestamp(cfg.start), pd.Timestamp(cfg.end), freq=cfg.frequency)
    return [to_timestamp(d) for d in dates]


def data_horizon(
    tables: Tables, horizon: str | date | datetime | pd.Timestamp | None = None
) -> pd.Timestamp:
    """The data's "now": `horizon` if given, else the latest timestamp in any clean table.

    Labels whose window (plus grace period) reaches past it are immature.

    Raises:
        ValueError: no table holds any timestamp and no horizon is given.
    """
    if horizon is not None:
        return to_timestamp(horizon)
    parts = []
    for name in tables.present:
        spec = TABLES[name]
        for col in tables.columns(name):
            if (
                col in spec.column_names
                and spec.column(col).kind == "timestamp"
                and (name, col) not in FUTURE_OK
            ):
                parts.append(f'SELECT max("{col}") AS t FROM "{name}"')
    latest = tables.con.execute(f"SELECT max(t) FROM ({' UNION ALL '.join(parts)})").fetchone()[0]
    if latest is None:
        raise ValueError("the tables hold no timestamp: pass `data_end` explicitly")
    return to_timestamp(latest)


# --------------------------------------------------------------------------------------------
# Population and labels
# --------------------------------------------------------------------------------------------
def build_snapshots(
    tables: Tables,
    cfg: SnapshotConfig,
    as_of: Sequence[pd.Timestamp] | None = None,
    accounts: Sequence[str] | None = None,
    data_end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The population at each as_of with its labels, sorted by (as_of, account_id).

    Args:
        tables: validated tables (clean views on `tables.con`).
        cfg: population and label definition.
        as_of: the dates to snapshot; default `as_of_dates(cfg)`.
        accounts: restrict the population to these accounts (a partition of the work).
        data_end: the data's "now" for label maturity; default the latest timestamp in the data.

    Returns:
        account_id, as_of, churned (Int8; null when immature or when the account was already gone
        before the label window opened, i.e. its coverage ended in [as_of, as_of + lead]),
        label_matured (bool), churned_at (coverage end, or last activity for inactivity churn;
        set when churned is 1), downgraded (Int8; ARR at the window end at least
        `downgrade_threshold` below ARR at as_of, accounts that did not churn; null without
        subscriptions), label_window_end, arr_at_as_of (float; null without subscriptions).
    """
    dates = sorted({to_timestamp(d) for d in (as_of if as_of is not None else as_of_dates(cfg))})
    end = to_timestamp(data_end) if data_end is not None else data_horizon(tables)
    if not dates:
        return _empty_snapshots()
    if cfg.churn_definition == "inactivity" and not tables.has("events"):
        raise ValueError("churn_definition 'inactivity' needs the events table")
    if cfg.churn_definition == "contractual" and not tables.has("subscriptions"):
        raise ValueError("churn_definition 'contractual' needs the subscriptions table")
    con = tables.con
    with _accounts_relation(con, accounts) as acc:
        grid = "SELECT unnest([" + ", ".join(ts_literal(d) for d in dates) + "]) AS as_of"
        if cfg.churn_definition == "contractual":
            labelled = _contractual_sql(grid, acc, cfg, end)
        else:
            labelled = _inactivity_sql(grid, acc, cfg, end, dates)
        with_arr = _arr_labels_sql(labelled, cfg, tables.has("subscriptions"))
        df = con.execute(f"{with_arr} ORDER BY as_of, account_id").df()
    out = pd.DataFrame(
        {
            "account_id": df["account_id"].astype(str),
            "as_of": df["as_of"].astype("datetime64[ns]"),
            "churned": df["churned"].astype("Int8"),
            "label_matured": df["label_matured"].astype(bool),
            "churned_at": df["churned_at"].astype("datetime64[ns]"),
            "downgraded": df["downgraded"].astype("Int8"),
            "label_window_end": df["label_window_end"].astype("datetime64[ns]"),
            "arr_at_as_of": df["arr_at_as_of"].astype(float),
        }
    )
    log.info(
        "%d snapshots at %d as_of date(s) (%s churn), %d with a mature label",
        len(out),
        len(dates),
        cfg.churn_definition,
        int(out["label_matured"].sum()),
    )
    return out


def labelled_snapshots(snapshots: pd.DataFrame) -> pd.DataFrame:
    """The snapshots a model may learn from: mature label window and a known label."""
    keep = snapshots["label_matured"].astype(bool) & snapshots["churned"].notna()
    return snapshots.loc[keep].reset_index(drop=True)


def _contractual_sql(grid: str, acc: str | None, cfg: SnapshotConfig, end: pd.Timestamp) -> str:
    """Population with an active subscription at as_of; churn = coverage end in the window."""
    acc_filter = f'WHERE account_id IN (SELECT account_id FROM "{acc}")' if acc else ""
    return f"""
        WITH g AS ({grid}),
        acc AS (SELECT account_id, created_at FROM accounts {acc_filter}),
        subs AS (SELECT account_id, started_at, coalesce(ended_at, {_OPEN_END}) AS end_at
                 FROM subscriptions WHERE account_id IN (SELECT account_id FROM acc)),
        pop AS (
            SELECT DISTINCT a.account_id, g.as_of
            FROM acc a JOIN subs s USING (account_id)
            JOIN g ON s.started_at < g.as_of AND s.end_at >= g.as_of
            WHERE a.created_at < g.as_of
              AND a.created_at <= g.as_of - INTERVAL ({cfg.min_tenure_days}) DAY
        ),
        ordered AS (
            SELECT account_id, started_at, end_at,
                   max(end_at) OVER (PARTITION BY account_id ORDER BY started_at, end_at
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
            FROM subs
        ),
        islands AS (
            SELECT account_id, started_at, end_at,
                   sum(CASE WHEN prev_end IS NULL
                            OR started_at > prev_end + INTERVAL ({cfg.grace_days}) DAY
                            THEN 1 ELSE 0 END)
                       OVER (PARTITION BY account_id ORDER BY started_at, end_at
                             ROWS UNBOUNDED PRECEDING) AS island
            FROM ordered
        ),
        coverage AS (
            SELECT account_id, min(started_at) AS cov_start, max(end_at) AS cov_end
            FROM islands GROUP BY account_id, island
        ),
        w AS (
            SELECT p.account_id, p.as_of,
                   p.as_of + INTERVAL ({cfg.lead_days}) DAY AS ws,
                   p.as_of + INTERVAL ({cfg.lead_days + cfg.horizon_days}) DAY AS we,
                   CASE WHEN c.cov_end = {_OPEN_END} THEN NULL ELSE c.cov_end END AS cov_end
            FROM pop p LEFT JOIN coverage c
              ON c.account_id = p.account_id AND c.cov_start < p.as_of AND c.cov_end >= p.as_of
        )
        SELECT account_id, as_of, ws, we,
               we + INTERVAL ({cfg.grace_days}) DAY <= {ts_literal(end)} AS label_matured,
               CASE WHEN NOT label_matured THEN NULL
                    WHEN cov_end IS NOT NULL AND cov_end <= ws THEN NULL
                    WHEN cov_end IS NOT NULL AND cov_end <= we THEN 1 ELSE 0 END AS churned,
               CASE WHEN label_matured AND cov_end > ws AND cov_end <= we THEN cov_end
                    END AS churned_at
        FROM w
    """


def _inactivity_sql(
    grid: str,
    acc: str | None,
    cfg: SnapshotConfig,
    end: pd.Timestamp,
    dates: Sequence[pd.Timestamp],
) -> str:
    """Population active in the last `inactivity_days`; churn = no event in the label window."""
    acc_filter = f'WHERE account_id IN (SELECT account_id FROM "{acc}")' if acc else ""
    lead, span = cfg.lead_days, cfg.lead_days + cfg.horizon_days
    lo = ts_literal(min(dates) - pd.Timedelta(days=cfg.inactivity_days))
    hi = ts_literal(max(dates) + pd.Timedelta(days=span))
    # An equality join on the day (each event meets only the as_of dates whose lookback or label
    # window covers its day) is far cheaper than a range join on 10^7 events; the exact bounds
    # are then checked on the timestamps.
    return f"""
        WITH g AS ({grid}),
        acc AS (SELECT account_id, created_at FROM accounts {acc_filter}),
        days AS (
            SELECT as_of, unnest(generate_series(
                date_trunc('day', as_of - INTERVAL ({cfg.inactivity_days}) DAY),
                date_trunc('day', as_of + INTERVAL ({span}) DAY), INTERVAL 1 DAY)) AS day
            FROM g
        ),
        e AS (SELECT account_id, occurred_at FROM events
              WHERE occurred_at >= {lo} AND occurred_at <= {hi}
                AND account_id IN (SELECT account_id FROM acc)),
        agg AS (
            SELECT e.account_id, d.as_of,
                   count(*) FILTER (WHERE e.occurred_at < d.as_of AND e.occurred_at >=
                                    d.as_of - INTERVAL ({cfg.inactivity_days}) DAY) AS n_before,
                   count(*) FILTER (WHERE e.occurred_at > d.as_of + INTERVAL ({lead}) DAY
                                    AND e.occurred_at <= d.as_of + INTERVAL ({span}) DAY
                                    ) AS n_window,
                   max(e.occurred_at) FILTER (WHERE e.occurred_at <=
                                              d.as_of + INTERVAL ({lead}) DAY) AS last_seen
            FROM e JOIN days d ON date_trunc('day', e.occurred_at) = d.day
            GROUP BY e.account_id, d.as_of
        ),
        w AS (
            SELECT g.account_id, g.as_of, g.n_window, g.last_seen,
                   g.as_of + INTERVAL ({lead}) DAY AS ws, g.as_of + INTERVAL ({span}) DAY AS we
            FROM agg g JOIN acc a USING (account_id)
            WHERE g.n_before > 0 AND a.created_at < g.as_of
              AND a.created_at <= g.as_of - INTERVAL ({cfg.min_tenure_days}) DAY
        )
        SELECT account_id, as_of, ws, we, we <= {ts_literal(end)} AS label_matured,
               CASE WHEN NOT label_matured THEN NULL WHEN n_window = 0 THEN 1 ELSE 0 END
                   AS churned,
               CASE WHEN label_matured AND n_window = 0 THEN last_seen END AS churned_at
        FROM w
    """


def _arr_labels_sql(labelled: str, cfg: SnapshotConfig, has_subscriptions: bool) -> str:
    """Add ARR at as_of and the downgrade label (ARR at the window end vs ARR at as_of)."""
    if not has_subscriptions:
        return f"""
            SELECT account_id, as_of, churned, label_matured, churned_at,
                   CAST(NULL AS INTEGER) AS downgraded, we AS label_window_end,
                   CAST(NULL AS DOUBLE) AS arr_at_as_of
            FROM ({labelled})
        """
    # ARR at the window end; an account between two subscription rows (a re-signup within the
    # grace period) counts with the ARR it came back with.
    return f"""
        WITH l AS ({labelled}),
        subs AS (SELECT account_id, started_at, coalesce(ended_at, {_OPEN_END}) AS end_at, arr
                 FROM subscriptions WHERE account_id IN (SELECT account_id FROM l)),
        arr_now AS (
            SELECT l.account_id, l.as_of, sum(s.arr) AS arr
            FROM l JOIN subs s ON s.account_id = l.account_id
              AND s.started_at < l.as_of AND s.end_at >= l.as_of
            GROUP BY l.account_id, l.as_of
        ),
        arr_end AS (
            SELECT l.account_id, l.as_of, sum(s.arr) AS arr
            FROM l JOIN subs s ON s.account_id = l.account_id
              AND s.started_at < l.we AND s.end_at >= l.we
            GROUP BY l.account_id, l.as_of
        ),
        arr_back AS (
            SELECT l.account_id, l.as_of, arg_min(s.arr, s.started_at) AS arr
            FROM l JOIN subs s ON s.account_id = l.account_id AND s.started_at >= l.we
              AND s.started_at <= l.we + INTERVAL ({cfg.grace_days}) DAY
            GROUP BY l.account_id, l.as_of
        )
        SELECT l.account_id, l.as_of, l.churned, l.label_matured, l.churned_at,
               CASE WHEN l.churned IS NULL THEN NULL
                    WHEN l.churned = 1 THEN 0
                    WHEN n.arr > 0 AND n.arr - coalesce(e.arr, b.arr, 0)
                         >= {cfg.downgrade_threshold} * n.arr - 1e-9 THEN 1
                    ELSE 0 END AS downgraded,
               l.we AS label_window_end, n.arr AS arr_at_as_of
        FROM l
        LEFT JOIN arr_now n ON n.account_id = l.account_id AND n.as_of = l.as_of
        LEFT JOIN arr_end e ON e.account_id = l.account_id AND e.as_of = l.as_of
        LEFT JOIN arr_back b ON b.account_id = l.account_id AND b.as_of = l.as_of
    """


def _empty_snapshots() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": pd.Series([], dtype=str),
            "as_of": pd.Series([], dtype="datetime64[ns]"),
            "churned": pd.Series([], dtype="Int8"),
            "label_matured": pd.Series([], dtype=bool),
            "churned_at": pd.Series([], dtype="datetime64[ns]"),
            "downgraded": pd.Series([], dtype="Int8"),
            "label_window_end": pd.Series([], dtype="datetime64[ns]"),
            "arr_at_as_of": pd.Series([], dtype=float),
        }
    )


# --------------------------------------------------------------------------------------------
# Helpers shared by the feature families
# --------------------------------------------------------------------------------------------
def ts_literal(ts: pd.Timestamp) -> str:
    """A DuckDB TIMESTAMP literal."""
    return f"TIMESTAMP '{to_timestamp(ts).isoformat(sep=' ')}'"


def sql_str(value: str) -> str:
    """A DuckDB string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def snapshot_keys(snapshots: pd.DataFrame) -> pd.DataFrame:
    """(account_id, as_of) of `snapshots` with canonical dtypes (str, datetime64[ns]).

    Raises:
        ValueError: a key column is missing, null, or a (account_id, as_of) pair repeats.
    """
    missing = [c for c in ID_COLUMNS if c not in snapshots.columns]
    if missing:
        raise ValueError(f"snapshots lack column(s) {missing}")
    if snapshots["account_id"].isna().any() or snapshots["as_of"].isna().any():
        raise ValueError("snapshots have null account_id or as_of")
    as_of = pd.to_datetime(snapshots["as_of"])
    if getattr(as_of.dt, "tz", None) is not None:
        as_of = as_of.dt.tz_convert("UTC").dt.tz_localize(None)
    keys = pd.DataFrame(
        {
            "account_id": snapshots["account_id"].astype(str).to_numpy(),
            "as_of": as_of.astype("datetime64[ns]").to_numpy(),
        }
    )
    if keys.duplicated().any():
        dup = keys[keys.duplicated()].head(3).to_dict("records")
        raise ValueError(f"snapshots repeat (account_id, as_of) pairs, e.g. {dup}")
    return keys


def normalize_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with account_id as str and as_of as datetime64[ns] (so merges line up)."""
    return frame.assign(
        account_id=frame["account_id"].astype(str), as_of=frame["as_of"].astype("datetime64[ns]")
    )


@contextmanager
def snapshot_relation(con: duckdb.DuckDBPyConnection, keys: pd.DataFrame) -> Iterator[str]:
    """Register snapshot keys as a temporary DuckDB table; yield its name; drop it after.

    The table has row (position in `keys`), account_id, as_of, and dense integer codes `a`
    (account) and `k` (as_of, in time order) that make joins and GROUP BYs cheap.
    """
    name = f"_snap_{uuid.uuid4().hex[:12]}"
    frame = keys[list(ID_COLUMNS)].assign(row=np.arange(len(keys), dtype=np.int64))
    con.register(f"{name}_df", frame)
    try:
        con.execute(f"""
            CREATE TEMP TABLE "{name}" AS
            SELECT row, CAST(account_id AS VARCHAR) AS account_id,
                   CAST(as_of AS TIMESTAMP) AS as_of,
                   CAST(dense_rank() OVER (ORDER BY account_id) AS INTEGER) AS a,
                   CAST(dense_rank() OVER (ORDER BY as_of) AS INTEGER) AS k
            FROM "{name}_df"
        """)
        yield name
    finally:
        con.execute(f'DROP TABLE IF EXISTS "{name}"')
        con.unregister(f"{name}_df")


@contextmanager
def _accounts_relation(
    con: duckdb.DuckDBPyConnection, accounts: Sequence[str] | None
) -> Iterator[str | None]:
    if accounts is None:
        yield None
        return
    name = f"_acc_{uuid.uuid4().hex[:12]}"
    con.register(f"{name}_df", pd.DataFrame({"account_id": [str(a) for a in accounts]}))
    try:
        con.execute(
            f'CREATE TEMP TABLE "{name}" AS SELECT DISTINCT CAST(account_id AS VARCHAR) '
            f'AS account_id FROM "{name}_df"'
        )
        yield name
    finally:
        con.execute(f'DROP TABLE IF EXISTS "{name}"')
        con.unregister(f"{name}_df")


def days_between(later: str, earlier: str) -> str:
    """SQL: (later - earlier) in fractional days, for two TIMESTAMP expressions."""
    return f"((epoch_us({later}) - epoch_us({earlier})) / {DAY_US}.0)"


def as_category(values: pd.Series, categories: Sequence[str] | None = None) -> pd.Series:
    """A pandas category column; categories are `categories` or the sorted observed values."""
    cats = (
        list(categories)
        if categories is not None
        else sorted({str(v) for v in values.dropna().tolist()})
    )
    strings = values.astype(object).where(values.notna(), None)
    return pd.Series(
        pd.Categorical(strings.map(lambda v: None if v is None else str(v)), categories=cats),
        index=values.index,
        name=values.name,
    )
