"""Assemble the feature matrix: one row per snapshot, every enabled family, labels carried along.

A family whose table is absent is skipped with a logged notice (never an error); so is a feature
whose optional column is absent. The generic per-event-type columns are decided by the list of
event types: discovered from the data when not given (the most frequent types before the latest
as_of), recorded in `df.attrs["event_types"]`, and passed back in at scoring time so that the
scoring matrix has exactly the training columns (types absent from the scoring data count 0).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from churnseg.config import FeatureConfig
from churnseg.data.io import Tables
from churnseg.features.account import account_profile, subscription_value
from churnseg.features.catalog import lookup
from churnseg.features.onboarding import onboarding_progress, tenure
from churnseg.features.payments import payment_failures
from churnseg.features.sentiment import nps_sentiment
from churnseg.features.snapshots import ID_COLUMNS, SNAPSHOT_COLUMNS, snapshot_keys
from churnseg.features.tickets import ticket_activity
from churnseg.features.usage import top_event_types, usage_activity

log = logging.getLogger(__name__)


def discover_event_types(tables: Tables, snapshots: pd.DataFrame, cfg: FeatureConfig) -> list[str]:
    """The generic event types for a build: the `cfg.usage.max_generic_event_types` most
    frequent types (logins excluded: they have their own columns) strictly before the latest
    as_of of `snapshots`."""
    if not tables.has("events") or snapshots.empty:
        return []
    latest = pd.Timestamp(snapshot_keys(snapshots)["as_of"].max())
    return top_event_types(
        tables, latest, cfg.usage.max_generic_event_types, exclude=[cfg.usage.login_event]
    )


def build_features(
    tables: Tables,
    snapshots: pd.DataFrame,
    cfg: FeatureConfig,
    event_types: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The feature matrix of `snapshots`, one row per snapshot in the order given.

    Args:
        tables: validated tables (clean views on `tables.con`).
        snapshots: account_id, as_of and any other columns (labels), carried unchanged.
        cfg: enabled families, windows and family settings.
        event_types: event types that get generic count/trend columns; None discovers them
            (`discover_event_types`). Pass the training list when scoring.

    Returns:
        account_id, as_of, the features (categoricals as pandas `category`, counts int64,
        everything else float), then the other snapshot columns. `attrs["event_types"]` holds
        the generic event types used; `attrs["feature_columns"]` the model inputs.

    Raises:
        ValueError: snapshots lack account_id/as_of, repeat a pair, or carry a column named like
            a feature.
    """
    keys = snapshot_keys(snapshots)
    families = list(dict.fromkeys(cfg.families))
    wins = sorted(set(cfg.windows))
    longest = max(wins)
    parts: list[pd.DataFrame] = []
    chosen: list[str] = []
    if "onboarding" in families:
        parts.append(tenure(tables, keys))
        if tables.has("onboarding"):
            parts.append(onboarding_progress(tables, keys, cfg.onboarding))
        else:
            _skipped("onboarding", "onboarding")
    if "usage" in families:
        if tables.has("events"):
            usage = usage_activity(tables, keys, cfg.usage, wins, cfg.trend_days, event_types)
            chosen = usage.attrs["event_types"]
            parts.append(usage)
        else:
            _skipped("usage", "events")
    if "tickets" in families:
        if tables.has("tickets"):
            parts.append(ticket_activity(tables, keys, wins, cfg.trend_days, cfg.high_priorities))
        else:
            _skipped("tickets", "tickets")
    if "payments" in families:
        if tables.has("payments"):
            parts.append(payment_failures(tables, keys, wins))
        else:
            _skipped("payments", "payments")
    if "sentiment" in families:
        if tables.has("surveys"):
            parts.append(nps_sentiment(tables, keys))
        else:
            _skipped("sentiment", "surveys")
    if "account" in families:
        if tables.has("subscriptions"):
            parts.append(subscription_value(tables, keys, cfg.arr_change_days))
        else:
            _skipped("account value (ARR, plan, renewal)", "subscriptions")
        parts.append(account_profile(tables, keys))

    features = keys
    for part in parts:
        features = features.merge(part, on=list(ID_COLUMNS), how="left", validate="one_to_one")
    names = [c for c in features.columns if c not in ID_COLUMNS]
    carried = [c for c in snapshots.columns if c not in ID_COLUMNS]
    clash = sorted(set(carried) & set(names))
    if clash:
        raise ValueError(f"snapshot column(s) {clash} are named like features")
    out = pd.concat([features, snapshots[carried].reset_index(drop=True)], axis=1)
    out.attrs["event_types"] = list(chosen)
    out.attrs["feature_columns"] = names
    log.info(
        "built %d features for %d snapshots (windows %s, longest %dd, %d generic event types)",
        len(names),
        len(out),
        wins,
        longest,
        len(chosen),
    )
    return out


def feature_columns(df: pd.DataFrame) -> list[str]:
    """The model inputs of a feature matrix: every column but ids, labels and snapshot fields."""
    listed = df.attrs.get("feature_columns")
    if listed:
        return [c for c in listed if c in df.columns]
    return [c for c in df.columns if c not in SNAPSHOT_COLUMNS]


def align_features(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """`df` with exactly the feature `columns` (e.g. the training ones), in that order.

    A missing count or flag column is 0, any other missing column null (logged); features not in
    `columns` are dropped; ids and snapshot fields are kept in front.
    """
    present = set(df.columns)
    missing = [c for c in columns if c not in present]
    if missing:
        log.warning(
            "%d feature column(s) absent from this data, filled with 0 (counts, flags) or null: %s",
            len(missing),
            missing[:10],
        )
    fill = {}
    for c in missing:
        unit = lookup(c).unit
        fill[c] = (
            np.zeros(len(df), dtype=np.int64)
            if unit in ("count", "flag")
            else np.full(len(df), np.nan)
        )
    keep = [c for c in df.columns if c in SNAPSHOT_COLUMNS]
    out = df.assign(**fill)[[*keep, *columns]]
    out.attrs = {**df.attrs, "feature_columns": list(columns)}
    return out


def _skipped(family: str, table: str) -> None:
    log.info("table '%s' is absent: %s features skipped", table, family)
