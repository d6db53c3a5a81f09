"""Report job: a scoring run's folder -> report.html (priority page) + crm_export.csv.

Reads `<scores_dir>/<as_of>/priority.parquet`, `segments_summary.csv` and (when present)
`contributions.parquet` and `alerts.csv`, and writes both outputs into the same folder, each
atomically (a temporary file renamed into place), so a reader never sees half a report.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from churnseg.config import PriorityConfig
from churnseg.data.io import atomic_path, write_text
from churnseg.report import as_of_dir, contributions_frame, priority_frame, summary_frame
from churnseg.report.export import crm_csv
from churnseg.report.html import render_report

log = logging.getLogger(__name__)

HTML_FILE = "report.html"
CRM_FILE = "crm_export.csv"
ALERTS_FILE = "alerts.csv"


@dataclass(frozen=True)
class ReportResult:
    """Where the report went.

    Attributes:
        html: the priority page (`report.html`).
        crm_csv: the CRM export (`crm_export.csv`).
        accounts: rows in the priority list (= rows in the CSV).
        explained: accounts with contributions in the drill-down.
    """

    html: Path
    crm_csv: Path
    accounts: int
    explained: int

    @property
    def paths(self) -> list[Path]:
        return [self.html, self.crm_csv]


def run(
    scores_dir: Path,
    as_of: str | dt.date | pd.Timestamp,
    priority_cfg: PriorityConfig,
    bom: bool = False,
) -> ReportResult:
    """Render the priority page and the CRM export of one scoring run.

    Args:
        scores_dir: the scoring output root; the run's files are in `<scores_dir>/<as_of>/`.
        as_of: the run's data date.
        priority_cfg: owner queues and capacity (the ones the run routed with).
        bom: start the CSV with a UTF-8 byte-order mark (Excel on Windows needs it for accents).

    Raises:
        FileNotFoundError: the run's priority list or segment summary is missing.
    """
    folder = as_of_dir(scores_dir, as_of)
    priority = priority_frame(scores_dir, as_of)
    summary = summary_frame(scores_dir, as_of)
    contributions = contributions_frame(scores_dir, as_of)
    alerts_file = folder / ALERTS_FILE
    alerts = (pd.read_csv(alerts_file, usecols=["alert"])["alert"].astype(str).tolist()
              if alerts_file.exists() else [])
    html = write_text(
        render_report(priority, summary, contributions, priority_cfg, alerts=alerts),
        folder / HTML_FILE,
    )
    with atomic_path(folder / CRM_FILE) as tmp:
        tmp.write_bytes(crm_csv(priority, bom=bom))
    explained = int(contributions["account_id"].nunique()) if len(contributions) else 0
    log.info(
        "wrote %s and %s (%d accounts, %d explained)",
        html,
        folder / CRM_FILE,
        len(priority),
        explained,
    )
    return ReportResult(
        html=html, crm_csv=folder / CRM_FILE, accounts=len(priority), explained=explained
    )
