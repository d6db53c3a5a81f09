"""Usage features from the events table: logins, active days, users, per-type counts and trends.

Two passes over the events, both in DuckDB:

1. Window pass. Every event stamped in [as_of - lookback, as_of) meets the as_of dates whose
   lookback covers its day (an equality join on the day, then exact bounds on the timestamp: far
   cheaper than a range join on 10^7 events). One GROUP BY (account, as_of, event type) computes
   every window count, the trend halves and a bitmask of active days with conditional aggregates.
   The small long result is pivoted to one column per (event type, window) with numpy, because
   a FILTER aggregate per output column would be evaluated on every one of the joined rows.
2. History pass. Events before the last as_of are rolled up once per (account, period between
   two consecutive as_of dates, event type): last activity, last login and first use of each key
   feature over all history, and the most frequent event types when they are not given. Active
   users come from a roll-up per user of the events of the longest window only.

Generic per-event-type columns make the family work on any event log: the most frequent types are
discovered (`top_event_types`) or passed in, so scoring builds the same columns as training.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd

from churnseg.config import UsageFeatureConfig
from churnseg.data.io import Tables
from churnseg.features.snapshots import (
    DAY_US,
    snapshot_keys,
    snapshot_relation,
    sql_str,
    ts_literal,
)

log = logging.getLogger(__name__)

_ALL_BITS = "CAST('18446744073709551615' AS UBIGINT)"


def top_event_types(
    tables: Tables, before: pd.Timestamp, n: int, exclude: Sequence[str] = ()
) -> list[str]:
    """The `n` most frequent event types among events stamped strictly before `before`.

    Counts over every account (not a partition), ties broken by name, so any subset of accounts
    built against the same data gets the same columns.
    """
    if n <= 0 or not tables.has("events"):
        return []
    skip = ", ".join(sql_str(t) for t in exclude)
    rows = tables.con.execute(f"""
        SELECT event_type FROM events
        WHERE occurred_at < {ts_literal(before)}
          {f"AND event_type NOT IN ({skip})" if skip else ""}
        GROUP BY event_type ORDER BY count(*) DESC, event_type LIMIT {int(n)}
    """).fetchall()
    return [r[0] for r in rows]


def event_type_slugs(event_types: Sequence[str]) -> dict[str, str]:
    """Event type -> a column-safe, unique name part (lowercase, [a-z0-9_])."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for t in event_types:
        if t in out:
            continue
        base = re.sub(r"[^0-9a-z]+", "_", str(t).lower()).strip("_") or "type"
        if base == "trend" or base[0].isdigit():
            base = f"type_{base}"
        slug, k = base, 2
        while slug in used:
            slug, k = f"{base}_{k}", k + 1
        used.add(slug)
        out[t] = slug
    return out


def usage_activity(
    tables: Tables,
    snapshots: pd.DataFrame,
    cfg: UsageFeatureConfig,
    windows: Sequence[int] = (7, 30, 90),
    trend_days: int = 30,
    event_types: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Usage per snapshot over trailing windows of `windows` days ending strictly before as_of.

    Columns (w in windows, W = max window, t = trend_days): logins_{w}d, active_days_{w}d (days
    = 24-hour periods counted back from as_of), events_{w}d, active_users_{w}d (if user_id),
    logins_trend_{t}d and events_trend_{t}d (last t days vs the t days before, as a fraction:
    (last - prior) / prior, null when prior is 0), days_since_last_activity and
    days_since_last_login (days, over all history; null if never), distinct_features_used_{W}d
    (key features), distinct_event_types_{W}d (tracked types: login, key features,
    `event_types`), adopted_<feature> (1/0: key feature ever used before as_of), and for each of
    `event_types`: events_<type>_{w}d and events_<type>_trend_{t}d.

    `event_types` None picks the `cfg.max_generic_event_types` most frequent types (logins
    excluded) among every account's events before the latest as_of, like `top_event_types`,
    from the history roll-up (no extra scan). The list used is in `attrs["event_types"]`.
    """
    keys = snapshot_keys(snapshots)
    wins = sorted({int(w) for w in windows})
    has_users = "user_id" in tables.columns("events")
    if not has_users:
        log.info("events have no user_id column: active_users features skipped")
    with snapshot_relation(tables.con, keys) as snap:
        with _history_rollup(tables, snap, keys, every_account=event_types is None) as rollup:
            if event_types is None:
                event_types = _most_frequent(
                    tables, rollup, cfg.max_generic_event_types, cfg.login_event
                )
            event_types = list(dict.fromkeys(event_types))
            tracked = list(dict.fromkeys([cfg.login_event, *cfg.key_features, *event_types]))
            stats, per_row = _window_pass(tables, snap, keys, tracked, wins, trend_days)
            hist = _history_pass(tables, snap, rollup, keys, cfg, wins, has_users)
    out = _assemble(
        keys, stats, per_row, hist, tracked, cfg, wins, trend_days, has_users, event_types
    )
    out.attrs["event_types"] = event_types
    return out


# --------------------------------------------------------------------------------------------
# Pass 1: windows
# --------------------------------------------------------------------------------------------
def _window_pass(
    tables: Tables,
    snap: str,
    keys: pd.DataFrame,
    tracked: Sequence[str],
    wins: Sequence[int],
    trend_days: int,
) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Per (snapshot, tracked type) window counts, and per snapshot totals and active days."""
    t = trend_days
    lookback = max(max(wins), 2 * t)
    words = (max(wins) + 63) // 64
    con = tables.con
    lo = keys["as_of"].min() - pd.Timedelta(days=lookback) if len(keys) else pd.Timestamp(0)
    hi = keys["as_of"].max() if len(keys) else pd.Timestamp(0)
    values = ", ".join(f"({sql_str(e)}, {i})" for i, e in enumerate(tracked))
    counts = [f"count(*) FILTER (WHERE ageday < {w}) AS c{w}" for w in wins]
    counts += [
        f"count(*) FILTER (WHERE ageday < {t}) AS c_last",
        f"count(*) FILTER (WHERE ageday >= {t} AND ageday < {2 * t}) AS c_prior",
    ]
    bits = [
        f"bit_or(CASE WHEN ageday >= {64 * m} AND ageday < {64 * m + 64} "
        f"THEN CAST(1 AS UBIGINT) << CAST(ageday - {64 * m} AS INTEGER) "
        f"ELSE CAST(0 AS UBIGINT) END) AS days{m}"
        for m in range(words)
    ]
    if keys["as_of"].nunique() == 1:
        # one as_of (scoring): the time filter on the events is the whole join
        join = f"""
            SELECT a, 1 AS k, ti,
                   CAST(({_us(hi)} - epoch_us(occurred_at) - 1) // {DAY_US} AS INTEGER) AS ageday
            FROM e"""
    else:
        join = f"""
            SELECT e.a, d.k, e.ti,
                   CAST((epoch_us(d.as_of) - epoch_us(e.occurred_at) - 1) // {DAY_US}
                        AS INTEGER) AS ageday
            FROM e JOIN days d ON date_trunc('day', e.occurred_at) = d.day
            WHERE e.occurred_at < d.as_of
              AND e.occurred_at >= d.as_of - INTERVAL ({lookback}) DAY"""
    long = f"_usage_long_{snap}"
    # Integer account and type codes before the join to as_of dates: the join multiplies the
    # rows (each event meets every as_of whose lookback covers it), the codes keep them cheap.
    con.execute(f"""
        CREATE TEMP TABLE "{long}" AS
        WITH acc AS (SELECT DISTINCT account_id, a FROM "{snap}"),
        g AS (SELECT DISTINCT as_of, k FROM "{snap}"),
        days AS (
            SELECT as_of, k, unnest(generate_series(
                date_trunc('day', as_of - INTERVAL ({lookback}) DAY),
                date_trunc('day', as_of), INTERVAL 1 DAY)) AS day
            FROM g
        ),
        types AS (SELECT * FROM (VALUES {values}) v(event_type, ti)),
        e AS (
            SELECT acc.a, ev.occurred_at, CAST(coalesce(types.ti, -1) AS SMALLINT) AS ti
            FROM events ev JOIN acc USING (account_id) LEFT JOIN types USING (event_type)
            WHERE ev.occurred_at >= {ts_literal(lo)} AND ev.occurred_at < {ts_literal(hi)}
        ),
        j AS ({join})
        SELECT a, k, ti, {", ".join(counts + bits)} FROM j GROUP BY a, k, ti
    """)
    try:
        active = [
            "CAST("
            + " + ".join(
                f"bit_count(coalesce(bit_or(l.days{m}), CAST(0 AS UBIGINT)) & {_mask(w, m)})"
                for m in range(words)
            )
            + f" AS BIGINT) AS active_days_{w}d"
            for w in wins
        ]
        totals = [f"CAST(coalesce(sum(l.c{w}), 0) AS BIGINT) AS events_{w}d" for w in wins]
        totals += [
            "CAST(coalesce(sum(l.c_last), 0) AS BIGINT) AS n_last",
            "CAST(coalesce(sum(l.c_prior), 0) AS BIGINT) AS n_prior",
        ]
        per_row = con.execute(f"""
            SELECT s.row, {", ".join(active + totals)}
            FROM "{snap}" s LEFT JOIN "{long}" l ON l.a = s.a AND l.k = s.k
            GROUP BY s.row ORDER BY s.row
        """).df()
        stats = con.execute(f"""
            SELECT s.row, l.ti, {", ".join(f"l.c{w}" for w in wins)}, l.c_last, l.c_prior
            FROM "{long}" l JOIN "{snap}" s ON l.a = s.a AND l.k = s.k
            WHERE l.ti >= 0
        """).fetchnumpy()
    finally:
        con.execute(f'DROP TABLE IF EXISTS "{long}"')
    return {k: np.asarray(v) for k, v in stats.items()}, per_row


def _us(ts: pd.Timestamp) -> int:
    """Microseconds since the epoch of a naive UTC timestamp (DuckDB's epoch_us)."""
    return int(pd.Timestamp(ts).as_unit("ns").value) // 1000


def _mask(window: int, word: int) -> str:
    """UBIGINT mask of the days < `window` that fall in 64-day `word`."""
    lo = 64 * word
    if window >= lo + 64:
        return _ALL_BITS
    if window <= lo:
        return "CAST(0 AS UBIGINT)"
    return f"CAST({(1 << (window - lo)) - 1} AS UBIGINT)"


# --------------------------------------------------------------------------------------------
# Pass 2: history (last activity, adoption, active users)
# --------------------------------------------------------------------------------------------
def _periods_sql(snap: str) -> str:
    """CTEs: s (snapshots), acc (account codes), g (as_of codes), per (the period before each
    as_of: [previous as_of, as_of)), pdays (the days each period touches)."""
    return f"""
        s AS (SELECT * FROM "{snap}"),
        acc AS (SELECT DISTINCT account_id, a FROM s),
        g AS (SELECT DISTINCT as_of, k FROM s),
        per AS (SELECT k AS p, lag(as_of) OVER (ORDER BY as_of) AS lo, as_of AS hi FROM g),
        pdays AS (
            SELECT p, lo, hi, unnest(generate_series(date_trunc('day', lo), date_trunc('day', hi),
                                                     INTERVAL 1 DAY)) AS day
            FROM per WHERE lo IS NOT NULL
        )"""


def _in_periods(source: str, keys: pd.DataFrame) -> str:
    """SQL: the rows of `source` with their period p: period k holds [as_of_(k-1), as_of_k),
    period 1 everything before the first as_of (an equality join on the day, exact bounds)."""
    if keys["as_of"].nunique() <= 1:
        return f"SELECT x.*, 1 AS p FROM {source} x"  # one as_of: a single period, no join
    return f"""
        SELECT x.*, coalesce(d.p, 1) AS p FROM {source} x LEFT JOIN pdays d
          ON date_trunc('day', x.occurred_at) = d.day
         AND x.occurred_at >= d.lo AND x.occurred_at < d.hi"""


@contextmanager
def _history_rollup(
    tables: Tables, snap: str, keys: pd.DataFrame, every_account: bool
) -> Iterator[str]:
    """A temporary table of all events before the latest as_of, rolled up per (account,
    period, event type): n, first_ts, last_ts. One scan; every account when `every_account`
    (event-type discovery must not depend on the subset of accounts), else the snapshot's."""
    hi = ts_literal(keys["as_of"].max() if len(keys) else pd.Timestamp(0))
    subset = "" if every_account else f'AND account_id IN (SELECT account_id FROM "{snap}")'
    name = f"_usage_hist_{snap}"
    tables.con.execute(f"""
        CREATE TEMP TABLE "{name}" AS
        WITH {_periods_sql(snap)},
        e AS (SELECT account_id, occurred_at, event_type FROM events
              WHERE occurred_at < {hi} {subset})
        SELECT account_id, p, event_type, count(*) AS n, min(occurred_at) AS first_ts,
               max(occurred_at) AS last_ts
        FROM ({_in_periods("e", keys)}) GROUP BY account_id, p, event_type
    """)
    try:
        yield name
    finally:
        tables.con.execute(f'DROP TABLE IF EXISTS "{name}"')


def _most_frequent(tables: Tables, rollup: str, n: int, login: str) -> list[str]:
    """The `n` most frequent event types of the roll-up (ties by name), logins excluded."""
    if n <= 0:
        return []
    rows = tables.con.execute(f"""
        SELECT event_type FROM "{rollup}" WHERE event_type <> {sql_str(login)}
        GROUP BY event_type ORDER BY sum(n) DESC, event_type LIMIT {int(n)}
    """).fetchall()
    return [r[0] for r in rows]


def _history_pass(
    tables: Tables,
    snap: str,
    rollup: str,
    keys: pd.DataFrame,
    cfg: UsageFeatureConfig,
    wins: Sequence[int],
    has_users: bool,
) -> pd.DataFrame:
    """Per snapshot: last event, last login, first use of each key feature (all history before
    as_of, from the roll-up), and distinct users with an event in each window."""
    hi = ts_literal(keys["as_of"].max() if len(keys) else pd.Timestamp(0))
    longest = max(wins)
    login = sql_str(cfg.login_event)
    firsts = "".join(
        f", min(r.first_ts) FILTER (WHERE r.event_type = {sql_str(f)}) AS first_{i}"
        for i, f in enumerate(cfg.key_features)
    )
    hist = f"""
        hist AS (
            SELECT s.row, max(r.last_ts) AS last_any,
                   max(r.last_ts) FILTER (WHERE r.event_type = {login}) AS last_login{firsts}
            FROM s JOIN "{rollup}" r ON r.account_id = s.account_id AND r.p <= s.k
            GROUP BY s.row
        )"""
    users, users_join, users_cols = "", "", ""
    if has_users:
        lo = ts_literal(keys["as_of"].min() - pd.Timedelta(days=longest))
        # Only the events of the longest window can make a user active: scan just those, and
        # join only the periods that end after a snapshot's window starts.
        users = f""",
        eu AS (SELECT account_id, occurred_at, user_id FROM events
               WHERE occurred_at >= {lo} AND occurred_at < {hi} AND user_id IS NOT NULL),
        pu AS (SELECT account_id, p, user_id, max(occurred_at) AS last_ts
               FROM ({_in_periods("eu", keys)}) GROUP BY account_id, p, user_id),
        ucode AS (
            SELECT account_id, user_id,
                   CAST(row_number() OVER (ORDER BY account_id, user_id) AS INTEGER) AS u
            FROM (SELECT DISTINCT account_id, user_id FROM pu)
        ),
        ulast AS (
            SELECT s.row, s.as_of, c.u, max(r.last_ts) AS last_ts
            FROM s JOIN pu r ON r.account_id = s.account_id AND r.p <= s.k
            JOIN per ON per.p = r.p AND per.hi > s.as_of - INTERVAL ({longest}) DAY
            JOIN ucode c ON c.account_id = r.account_id AND c.user_id = r.user_id
            GROUP BY s.row, s.as_of, c.u
        ),
        users AS (
            SELECT row, {
            ", ".join(
                f"count(*) FILTER (WHERE last_ts >= as_of - INTERVAL ({w}) DAY) AS u{w}"
                for w in wins
            )
        }
            FROM ulast GROUP BY row
        )"""
        users_join = "LEFT JOIN users u ON u.row = s.row"
        users_cols = "".join(f", coalesce(u.u{w}, 0) AS active_users_{w}d" for w in wins)
    return tables.con.execute(f"""
        WITH {_periods_sql(snap)}, {hist}{users}
        SELECT s.row, s.as_of, h.* EXCLUDE (row){users_cols}
        FROM s LEFT JOIN hist h ON h.row = s.row {users_join}
        ORDER BY s.row
    """).df()


# --------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------
def _assemble(
    keys: pd.DataFrame,
    stats: dict[str, np.ndarray],
    per_row: pd.DataFrame,
    hist: pd.DataFrame,
    tracked: Sequence[str],
    cfg: UsageFeatureConfig,
    wins: Sequence[int],
    trend_days: int,
    has_users: bool,
    event_types: Sequence[str],
) -> pd.DataFrame:
    """One row per snapshot, in `keys` order."""
    n, t, longest = len(keys), trend_days, max(wins)
    slugs = event_type_slugs(tracked)
    index = {e: i for i, e in enumerate(tracked)}
    names = [f"c{w}" for w in wins] + ["c_last", "c_prior"]
    by_type = {}
    row, ti = stats["row"].astype(np.int64), stats["ti"].astype(np.int64)
    for i in range(len(tracked)):
        sel = ti == i
        cols = {}
        for name in names:
            col = np.zeros(n, dtype=np.int64)
            col[row[sel]] = stats[name][sel]
            cols[name] = col
        by_type[i] = cols
    as_of = keys["as_of"].to_numpy()
    out: dict[str, object] = {"account_id": keys["account_id"].to_numpy(), "as_of": as_of}
    login = by_type[0]
    for w in wins:
        out[f"logins_{w}d"] = login[f"c{w}"]
    for w in wins:
        out[f"active_days_{w}d"] = per_row[f"active_days_{w}d"].to_numpy(dtype=np.int64)
    for w in wins:
        out[f"events_{w}d"] = per_row[f"events_{w}d"].to_numpy(dtype=np.int64)
    if has_users:
        for w in wins:
            out[f"active_users_{w}d"] = hist[f"active_users_{w}d"].to_numpy(dtype=np.int64)
    out[f"logins_trend_{t}d"] = _trend(login["c_last"], login["c_prior"])
    out[f"events_trend_{t}d"] = _trend(per_row["n_last"].to_numpy(), per_row["n_prior"].to_numpy())
    out["days_since_last_activity"] = _days_since(as_of, hist["last_any"])
    out["days_since_last_login"] = _days_since(as_of, hist["last_login"])
    out[f"distinct_features_used_{longest}d"] = (
        sum((by_type[index[f]][f"c{longest}"] > 0).astype(np.int64) for f in cfg.key_features)
        if cfg.key_features
        else np.zeros(n, dtype=np.int64)
    )
    out[f"distinct_event_types_{longest}d"] = sum(
        (by_type[i][f"c{longest}"] > 0).astype(np.int64) for i in range(len(tracked))
    )
    for j, f in enumerate(cfg.key_features):
        out[f"adopted_{slugs[f]}"] = hist[f"first_{j}"].notna().to_numpy().astype(np.int64)
    for e in dict.fromkeys(event_types):
        cols = by_type[index[e]]
        for w in wins:
            out[f"events_{slugs[e]}_{w}d"] = cols[f"c{w}"]
        out[f"events_{slugs[e]}_trend_{t}d"] = _trend(cols["c_last"], cols["c_prior"])
    return pd.DataFrame(out)


def _trend(last: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """(last - prior) / prior as a fraction; NaN where prior is 0."""
    last, prior = np.asarray(last, dtype=float), np.asarray(prior, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(prior > 0, (last - prior) / np.where(prior > 0, prior, 1.0), np.nan)


def _days_since(as_of: np.ndarray, when: pd.Series) -> np.ndarray:
    """Days from `when` to as_of (float); NaN where `when` is null."""
    when = pd.to_datetime(when).astype("datetime64[ns]").to_numpy()
    return (as_of.astype("datetime64[ns]") - when) / np.timedelta64(1, "D")
