"""Validate a dataset against the contract and write the quarantine."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from churnseg.config import DataConfig
from churnseg.data import io
from churnseg.data.contract import ValidationReport, validate
from churnseg.data.io import Tables

log = logging.getLogger(__name__)


def open_validated(
    cfg: DataConfig, required: Sequence[str] = ("accounts", "subscriptions")
) -> tuple[Tables, ValidationReport]:
    """Open the tables of `cfg`, validate them and write the quarantine file if any row failed."""
    tables = io.open_tables(cfg)
    log.info("read %s from %s", ", ".join(tables.present), cfg.database or cfg.root)
    report = validate(tables, horizon=cfg.horizon, required=required)
    for table, why in report.skipped.items():
        log.info("optional table '%s' is %s: its feature family is skipped", table, why)
    for row in report.summary().itertuples():
        level = logging.WARNING if row.quarantined else logging.INFO
        log.log(level, "%-13s %9d rows, %9d clean, %6d quarantined %s", row.table, row.rows,
                row.clean, row.quarantined, row.top_reasons)
    if len(report.quarantine):
        path = write_quarantine(report, Path(cfg.quarantine_dir))
        log.warning("%d rows quarantined with reasons: %s", len(report.quarantine), path)
    return tables, report


def write_quarantine(report: ValidationReport, folder: Path) -> Path:
    """Write rejected rows with their reasons to `folder/quarantine.csv` (atomically)."""
    return io.write_csv(report.quarantine, folder / "quarantine.csv")
