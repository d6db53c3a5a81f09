"""Support ticket features: volume per window, priority, backlog, resolution time, CSAT, trend."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from churnseg.data.io import Tables
from churnseg.features.snapshots import (
    DAY_US,
    normalize_keys,
    snapshot_keys,
    snapshot_relation,
    sql_str,
)

log = logging.getLogger(__name__)


def ticket_activity(
    tables: Tables,
    snapshots: pd.DataFrame,
    windows: Sequence[int] = (7, 30, 90),
    trend_days: int = 30,
    high_priorities: Sequence[str] = ("high", "urgent"),
) -> pd.DataFrame:
    """Tickets opened in trailing windows of `windows` days strictly before as_of, and more.

    Columns (w in windows, W = max window, t = trend_days): tickets_{w}d, tickets_trend_{t}d
    (last t days vs the t days before, fraction; null when prior is 0), and when the optional
    columns exist: high_priority_tickets_{W}d (priority in `high_priorities`, case-insensitive),
    open_tickets (opened before as_of, not closed before it), median_resolution_days_{W}d and
    mean_csat_{W}d over tickets opened in the last W days and closed before as_of (a CSAT or a
    close stamped at or after as_of is not known yet at as_of).
    """
    keys = snapshot_keys(snapshots)
    wins = sorted({int(w) for w in windows})
    longest, t = max(wins), trend_days
    cols = set(tables.columns("tickets"))
    for col in ("priority", "closed_at", "csat"):
        if col not in cols:
            log.info("tickets have no '%s' column: the features built from it are skipped", col)
    age = "(epoch_us(s.as_of) - epoch_us(k.opened_at))"
    aggs = [f"count(*) FILTER (WHERE {age} <= {w * DAY_US}) AS tickets_{w}d" for w in wins]
    aggs += [
        f"count(*) FILTER (WHERE {age} <= {t * DAY_US}) AS n_last",
        f"count(*) FILTER (WHERE {age} > {t * DAY_US} AND {age} <= {2 * t * DAY_US}) AS n_prior",
    ]
    in_w = f"{age} <= {longest * DAY_US}"
    # A ticket closed at or after as_of is still open at as_of: its close and CSAT are unknown.
    closed = "k.closed_at < s.as_of" if "closed_at" in cols else "TRUE"
    if "priority" in cols:
        levels = ", ".join(sql_str(p.lower()) for p in high_priorities) or "NULL"
        aggs.append(
            f"count(*) FILTER (WHERE {in_w} AND lower(k.priority) IN ({levels})) "
            f"AS high_priority_tickets_{longest}d"
        )
    if "closed_at" in cols:
        aggs.append(
            "count(*) FILTER (WHERE k.closed_at IS NULL OR k.closed_at >= s.as_of) AS open_tickets"
        )
        aggs.append(
            f"quantile_cont((epoch_us(k.closed_at) - epoch_us(k.opened_at)) / {DAY_US}.0, 0.5) "
            f"FILTER (WHERE {in_w} AND {closed}) AS median_resolution_days_{longest}d"
        )
    if "csat" in cols:
        aggs.append(
            f"avg(k.csat) FILTER (WHERE {in_w} AND {closed} AND k.csat IS NOT NULL) "
            f"AS mean_csat_{longest}d"
        )
    counts = [f"tickets_{w}d" for w in wins] + ["n_last", "n_prior"]
    if "priority" in cols:
        counts.append(f"high_priority_tickets_{longest}d")
    if "closed_at" in cols:
        counts.append("open_tickets")
    with snapshot_relation(tables.con, keys) as snap:
        df = tables.con.execute(f"""
            SELECT s.row, {", ".join(aggs)}
            FROM "{snap}" s JOIN tickets k
              ON k.account_id = s.account_id AND k.opened_at < s.as_of
            GROUP BY s.row
        """).df()
    out = keys.join(df.set_index("row"), how="left")
    out[counts] = out[counts].fillna(0).astype("int64")
    last, prior = out.pop("n_last").astype(float), out.pop("n_prior").astype(float)
    trend = ((last - prior) / prior.where(prior > 0)).astype(float)
    front = [f"tickets_{w}d" for w in wins]
    rest = [c for c in out.columns if c not in (*front, "account_id", "as_of")]
    out = (
        out[["account_id", "as_of", *front]]
        .assign(**{f"tickets_trend_{t}d": trend})
        .join(out[rest])
    )
    return normalize_keys(out)
