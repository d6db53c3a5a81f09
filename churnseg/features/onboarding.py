"""Onboarding features: milestones completed, stage, activation and tenure at as_of."""

from __future__ import annotations

import pandas as pd

from churnseg.config import OnboardingFeatureConfig
from churnseg.data.io import Tables
from churnseg.features.snapshots import (
    as_category,
    days_between,
    normalize_keys,
    snapshot_keys,
    snapshot_relation,
    sql_str,
)

STAGES = ("completed", "partial_not_activated", "dropped_early", "not_started")
"""Onboarding stages: activated (or every milestone done); started but neither activated nor
dropped; fewer than half the milestones done and none for `dropped_early_days` days (counting
from account creation when none is done); nothing done yet on a young account."""


def onboarding_progress(
    tables: Tables, snapshots: pd.DataFrame, cfg: OnboardingFeatureConfig
) -> pd.DataFrame:
    """Milestones completed strictly before as_of, stage, activation and its timing (days).

    Columns: milestones_completed (count of configured milestones; all milestones when none is
    configured), onboarding_stage (category, `STAGES`), activated (1/0), days_to_activation
    (creation to activation, days; null if not activated before as_of),
    days_since_last_milestone (days; null if none).
    """
    keys = snapshot_keys(snapshots)
    con = tables.con
    if cfg.milestones:
        listed = ", ".join(sql_str(m) for m in cfg.milestones)
        where = f"AND o.milestone IN ({listed})"
        total = len(set(cfg.milestones))
    else:
        where = ""
        total = con.execute("SELECT count(DISTINCT milestone) FROM onboarding").fetchone()[0]
    activation = sql_str(cfg.activation_milestone)
    idle = days_between("as_of", "coalesce(last_at, created_at)")
    with snapshot_relation(con, keys) as snap:
        df = con.execute(f"""
            WITH done AS (
                SELECT s.row, count(DISTINCT o.milestone) AS n,
                       min(o.completed_at) FILTER (WHERE o.milestone = {activation}) AS act_at,
                       max(o.completed_at) AS last_at
                FROM "{snap}" s JOIN onboarding o
                  ON o.account_id = s.account_id AND o.completed_at < s.as_of {where}
                GROUP BY s.row
            ),
            f AS (
                SELECT s.row, s.as_of, a.created_at, coalesce(d.n, 0) AS n, d.act_at, d.last_at
                FROM "{snap}" s JOIN accounts a USING (account_id) LEFT JOIN done d USING (row)
            )
            SELECT row, CAST(n AS BIGINT) AS milestones_completed,
                   CASE WHEN act_at IS NOT NULL OR ({total} > 0 AND n >= {total}) THEN 'completed'
                        WHEN 2 * n < {total} AND {idle} >= {cfg.dropped_early_days}
                             THEN 'dropped_early'
                        WHEN n = 0 THEN 'not_started'
                        ELSE 'partial_not_activated' END AS onboarding_stage,
                   CAST(act_at IS NOT NULL AS BIGINT) AS activated,
                   {days_between("act_at", "created_at")} AS days_to_activation,
                   {days_between("as_of", "last_at")} AS days_since_last_milestone
            FROM f ORDER BY row
        """).df()
    out = keys.join(df.set_index("row"), how="left")
    out["onboarding_stage"] = as_category(out["onboarding_stage"], STAGES)
    return normalize_keys(out)


def tenure(tables: Tables, snapshots: pd.DataFrame) -> pd.DataFrame:
    """tenure_days: days from account creation to as_of."""
    keys = snapshot_keys(snapshots)
    with snapshot_relation(tables.con, keys) as snap:
        df = tables.con.execute(f"""
            SELECT s.row, {days_between("s.as_of", "a.created_at")} AS tenure_days
            FROM "{snap}" s LEFT JOIN accounts a USING (account_id) ORDER BY s.row
        """).df()
    return normalize_keys(keys.join(df.set_index("row"), how="left"))
