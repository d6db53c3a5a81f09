"""Payment features: failed attempts, failure streaks and rates, dunning, gateway and method."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from churnseg.data.io import Tables
from churnseg.features.snapshots import (
    DAY_US,
    as_category,
    normalize_keys,
    snapshot_keys,
    snapshot_relation,
)

log = logging.getLogger(__name__)


def payment_failures(
    tables: Tables, snapshots: pd.DataFrame, windows: Sequence[int] = (7, 30, 90)
) -> pd.DataFrame:
    """Payment attempts strictly before as_of: failures per trailing window and their pattern.

    Columns (w in windows, W = max window): failed_payments_{w}d, consecutive_failed_payments
    (failed attempts after the last successful one; refunds neither count nor break the streak),
    days_since_last_failed_payment (days; null if none), payment_failure_rate_{W}d (failed /
    (failed + succeeded) in the last W days; null without attempts), in_dunning (1/0: a failed
    attempt not yet followed by a successful one), and when the columns exist gateway and
    payment_method (category: of the most recent attempt that names one; ties by name).
    """
    keys = snapshot_keys(snapshots)
    wins = sorted({int(w) for w in windows})
    longest = max(wins)
    cols = set(tables.columns("payments"))
    age = "(epoch_us(as_of) - epoch_us(attempted_at))"
    failed = "status = 'failed'"
    aggs = [
        f"count(*) FILTER (WHERE {failed} AND {age} <= {w * DAY_US}) AS failed_payments_{w}d"
        for w in wins
    ]
    aggs += [
        f"count(*) FILTER (WHERE {failed} AND (last_ok IS NULL OR attempted_at > last_ok)) "
        "AS consecutive_failed_payments",
        f"(epoch_us(any_value(as_of)) - epoch_us(max(attempted_at) FILTER (WHERE {failed}))) "
        f"/ {DAY_US}.0 AS days_since_last_failed_payment",
        f"count(*) FILTER (WHERE {failed} AND {age} <= {longest * DAY_US}) / nullif(count(*) "
        f"FILTER (WHERE status IN ('failed', 'succeeded') AND {age} <= {longest * DAY_US}), 0) "
        f"AS payment_failure_rate_{longest}d",
    ]
    extra = []
    for col, name in (("gateway", "gateway"), ("method", "payment_method")):
        if col in cols:
            extra.append(name)
            aggs.append(
                f'first("{col}" ORDER BY attempted_at DESC, "{col}") '
                f'FILTER (WHERE "{col}" IS NOT NULL) AS {name}'
            )
        else:
            log.info("payments have no '%s' column: feature '%s' skipped", col, name)
    select = ", ".join(
        ["status", "attempted_at", *(f'p."{c}"' for c in ("gateway", "method") if c in cols)]
    )
    with snapshot_relation(tables.con, keys) as snap:
        df = tables.con.execute(f"""
            WITH j AS (
                SELECT s.row, s.as_of, {select},
                       max(CASE WHEN p.status = 'succeeded' THEN p.attempted_at END)
                           OVER (PARTITION BY s.row) AS last_ok
                FROM "{snap}" s JOIN payments p
                  ON p.account_id = s.account_id AND p.attempted_at < s.as_of
            )
            SELECT row, {", ".join(aggs)} FROM j GROUP BY row
        """).df()
    out = keys.join(df.set_index("row"), how="left")
    counts = [f"failed_payments_{w}d" for w in wins] + ["consecutive_failed_payments"]
    out[counts] = out[counts].fillna(0).astype("int64")
    out = out.assign(
        days_since_last_failed_payment=out["days_since_last_failed_payment"].astype(float),
        **{
            f"payment_failure_rate_{longest}d": out[f"payment_failure_rate_{longest}d"].astype(
                float
            )
        },
        in_dunning=(out["consecutive_failed_payments"] > 0).astype(np.int64),
    )
    for name in extra:
        out[name] = as_category(out[name])
    order = [
        "account_id",
        "as_of",
        *counts,
        "days_since_last_failed_payment",
        f"payment_failure_rate_{longest}d",
        "in_dunning",
        *extra,
    ]
    return normalize_keys(out[order])
