"""The features job: tables -> clean views -> snapshots at one as_of -> feature matrix + catalog.

Writes the matrix (one row per account in the population at as_of, label columns filled when the
label window has matured) as Parquet, and the catalog of its features (name, family,
description, unit) as CSV beside it. Both writes are atomic.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from churnseg.config import DataConfig, FeatureConfig, SnapshotConfig
from churnseg.data import io
from churnseg.data.contract import required_tables
from churnseg.features.build import build_features, feature_columns
from churnseg.features.catalog import catalog_frame
from churnseg.features.snapshots import build_snapshots, data_horizon, to_timestamp
from pipelines.validate import open_validated

log = logging.getLogger(__name__)


def catalog_path(out: Path) -> Path:
    """Where the catalog of a feature matrix goes: `features.parquet` -> `features.catalog.csv`."""
    out = Path(out)
    return out.with_name(f"{out.stem}.catalog.csv")


def run(
    data_cfg: DataConfig,
    snapshot_cfg: SnapshotConfig,
    feature_cfg: FeatureConfig,
    as_of: str | date | datetime | pd.Timestamp,
    out: Path,
    catalog_out: Path | None = None,
    event_types: Sequence[str] | None = None,
) -> Path:
    """Build the feature matrix of the population at `as_of` and write it to `out` (Parquet).

    Args:
        data_cfg: where the tables are; its `horizon` (if set) is also the label data end.
        snapshot_cfg: population and label definition (its as_of dates are not used).
        feature_cfg: families and windows.
        as_of: the snapshot date (naive = UTC).
        out: the Parquet file to write.
        catalog_out: the catalog CSV; default `catalog_path(out)`.
        event_types: generic event types (the training list when scoring); default discovered.

    Returns:
        `out`. The Parquet keeps `attrs["event_types"]` and `attrs["feature_columns"]`.

    Raises:
        DataContractError: a required table or column is missing, or a required table is empty.
    """
    required = required_tables(snapshot_cfg.churn_definition)
    tables, _ = open_validated(data_cfg, required=required)
    if feature_cfg.threads:
        tables.con.execute(f"SET threads = {int(feature_cfg.threads)}")
    when = to_timestamp(as_of)
    end = data_horizon(tables, data_cfg.horizon)
    snapshots = build_snapshots(tables, snapshot_cfg, as_of=[when], data_end=end)
    matrix = build_features(tables, snapshots, feature_cfg, event_types=event_types)
    io.write_parquet(matrix, Path(out))
    catalog = io.write_csv(
        catalog_frame(feature_columns(matrix)),
        Path(catalog_out) if catalog_out else catalog_path(out),
    )
    matured = int(matrix["label_matured"].sum()) if len(matrix) else 0
    log.info(
        "%d accounts x %d features at %s (%d with a mature label, data end %s) -> %s; "
        "catalog -> %s",
        len(matrix),
        len(feature_columns(matrix)),
        when.date(),
        matured,
        end.date(),
        out,
        catalog,
    )
    return Path(out)
