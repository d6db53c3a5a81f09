"""Simulate the platform: write the contract tables, events in parts and the ground truth.

Layout of `out/`:
    accounts.parquet subscriptions.parquet onboarding.parquet tickets.parquet payments.parquet
    surveys.parquet interventions.parquet     contract tables (small: gathered over chunks)
    events/part-00000.parquet ...             usage events, one part per chunk of accounts
    truth/hazard/part-00000.parquet ...       daily churn hazard per active account-day
    truth/churn.parquet                       every churn with its date and cause
    truth/treatment_effects.parquet           true effect of every playbook per enrolled account
    simulate.yaml                             the configuration used
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from churnseg.config import SimulateConfig
from churnseg.data import io
from churnseg.data.simulate import chunk_count, simulate_chunks

log = logging.getLogger(__name__)

SMALL_TABLES = (
    "accounts",
    "subscriptions",
    "onboarding",
    "tickets",
    "payments",
    "surveys",
    "interventions",
)
SMALL_TRUTH = ("churn", "treatment_effects")


@dataclass(frozen=True)
class SimulationSummary:
    """What a simulation wrote.

    Attributes:
        out: the output folder.
        chunks: number of account chunks (= event and hazard parts).
        rows: rows per contract table.
        truth_rows: rows per truth table.
        elapsed_seconds: wall time of the run.
    """

    out: Path
    chunks: int
    rows: dict[str, int]
    truth_rows: dict[str, int]
    elapsed_seconds: float


def run(
    cfg: SimulateConfig, out: Path, progress: Callable[[int, int], None] | None = None
) -> SimulationSummary:
    """Simulate `cfg` into `out`; every file is written atomically; returns row counts.

    Args:
        progress: called with (chunks done, chunks in total) after each chunk.
    """
    started = time.perf_counter()
    out = Path(out)
    total = chunk_count(cfg)
    small: dict[str, list[pd.DataFrame]] = {name: [] for name in SMALL_TABLES}
    truth: dict[str, list[pd.DataFrame]] = {name: [] for name in SMALL_TRUTH}
    rows = {"events": 0}
    hazard_rows = 0
    parts: list[str] = []
    for chunk in simulate_chunks(cfg):
        part = f"part-{chunk.index:05d}.parquet"
        parts.append(part)
        io.write_parquet(chunk.events, out / "events" / part)
        io.write_parquet(chunk.truth_hazard, out / "truth" / "hazard" / part)
        rows["events"] += len(chunk.events)
        hazard_rows += len(chunk.truth_hazard)
        tables = chunk.tables()
        for name in SMALL_TABLES:
            small[name].append(tables[name])
        for name, frame in chunk.truth().items():
            if name in truth:
                truth[name].append(frame)
        log.debug("chunk %d/%d: %d events", chunk.index + 1, total, len(chunk.events))
        del chunk, tables
        if progress is not None:
            progress(len(parts), total)
    for name, frames in small.items():
        frame = pd.concat(frames, ignore_index=True)
        io.write_parquet(frame, out / f"{name}.parquet")
        rows[name] = len(frame)
    truth_rows = {"hazard": hazard_rows}
    for name, frames in truth.items():
        frame = pd.concat(frames, ignore_index=True)
        io.write_parquet(frame, out / "truth" / f"{name}.parquet")
        truth_rows[name] = len(frame)
    # parts of an earlier, larger run in the same folder would otherwise be read as data
    for folder in (out / "events", out / "truth" / "hazard"):
        for stale in sorted(set(p.name for p in folder.glob("part-*.parquet")) - set(parts)):
            (folder / stale).unlink()
    io.write_text(
        yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), out / "simulate.yaml"
    )
    elapsed = time.perf_counter() - started
    log.info(
        "simulated %d accounts in %d chunk(s) into %s (%.1fs)", cfg.accounts, total, out, elapsed
    )
    return SimulationSummary(
        out=out, chunks=total, rows=rows, truth_rows=truth_rows, elapsed_seconds=elapsed
    )
