"""Sentiment features from NPS survey responses."""

from __future__ import annotations

import pandas as pd

from churnseg.data.io import Tables
from churnseg.features.snapshots import (
    as_category,
    days_between,
    normalize_keys,
    snapshot_keys,
    snapshot_relation,
)

NPS_CATEGORIES = ("detractor", "passive", "promoter")


def nps_sentiment(tables: Tables, snapshots: pd.DataFrame) -> pd.DataFrame:
    """NPS responses strictly before as_of: the latest score, its change and its category.

    Columns: last_nps (0-10), nps_change (latest minus the one before, points; null with fewer
    than two responses), nps_category (category: detractor 0-6, passive 7-8, promoter 9-10),
    days_since_last_nps_response (days). Responses at the same instant are ordered by score
    (lowest first), so the result never depends on row order. Null without any response.
    """
    keys = snapshot_keys(snapshots)
    with snapshot_relation(tables.con, keys) as snap:
        df = tables.con.execute(f"""
            WITH r AS (
                SELECT s.row, s.as_of, v.responded_at, v.score,
                       row_number() OVER (PARTITION BY s.row
                                          ORDER BY v.responded_at DESC, v.score ASC) AS rn
                FROM "{snap}" s JOIN surveys v
                  ON v.account_id = s.account_id AND v.responded_at < s.as_of
            ),
            latest AS (
                SELECT row, any_value(as_of) AS as_of,
                       max(score) FILTER (WHERE rn = 1) AS last_nps,
                       max(score) FILTER (WHERE rn = 2) AS prev_nps,
                       max(responded_at) FILTER (WHERE rn = 1) AS last_at
                FROM r WHERE rn <= 2 GROUP BY row
            )
            SELECT row, last_nps, last_nps - prev_nps AS nps_change,
                   CASE WHEN last_nps < 7 THEN 'detractor' WHEN last_nps < 9 THEN 'passive'
                        WHEN last_nps IS NOT NULL THEN 'promoter' END AS nps_category,
                   {days_between("as_of", "last_at")} AS days_since_last_nps_response
            FROM latest
        """).df()
    out = keys.join(df.set_index("row"), how="left")
    out = out.assign(
        last_nps=out["last_nps"].astype(float),
        nps_change=out["nps_change"].astype(float),
        nps_category=as_category(out["nps_category"], NPS_CATEGORIES),
        days_since_last_nps_response=out["days_since_last_nps_response"].astype(float),
    )
    return normalize_keys(out)
