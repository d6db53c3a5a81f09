"""Batch scoring job: features at as_of -> calibrated risk -> value -> segments -> priority ->
explanations -> atomic outputs -> MLflow.

Scheduler-friendly: a lock per as_of, outputs swapped in only when complete, identical output
when re-run for the same as_of and model.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from churnseg import explain, monitor, tracking
from churnseg.config import (
    DataConfig,
    FeatureConfig,
    PriorityConfig,
    ScoreConfig,
    SnapshotConfig,
    TrackingConfig,
)
from churnseg.data.contract import required_tables
from churnseg.data.io import Tables
from churnseg.features.build import build_features
from churnseg.features.snapshots import build_snapshots, data_horizon, to_timestamp
from churnseg.model.package import ChurnModel
from churnseg.report.export import crm_csv
from churnseg.report.html import render_report
from churnseg.scoring import prioritize as pr
from churnseg.scoring.schema import check_priority
from churnseg.scoring.segments import assign_segments
from churnseg.scoring.value import account_value
from pipelines.report import ALERTS_FILE, CRM_FILE, HTML_FILE
from pipelines.validate import open_validated

log = logging.getLogger(__name__)

SEGMENT_COLUMNS = ("risk_tier", "value_tier", "segment_onboarding", "segment_risk_level",
                   "segment_adoption", "segment_journey", "segment_region", "segment_channel",
                   "segment_sentiment", "segment_renewal", "intervention_segment", "playbook",
                   "owner", "primary_driver")


class ScoringError(ValueError):
    """Scoring cannot run for this as_of (outside the data, locked, empty population)."""


@dataclass
class ScoreResult:
    priority: pd.DataFrame
    summary: pd.DataFrame
    out_dir: Path
    run_id: str | None


def run(
    data_cfg: DataConfig, cfg: ScoreConfig, tracking_cfg: TrackingConfig, as_of: str | pd.Timestamp,
    out: Path, model_uri: str | None = None, progress: Callable[[int, int], None] | None = None,
    log_run: bool = True,
) -> ScoreResult:
    as_of_ts = to_timestamp(as_of)
    target = Path(out) / as_of_ts.date().isoformat()
    with as_of_lock(Path(out), as_of_ts):
        tracking.configure(tracking_cfg)
        uri = model_uri or cfg.model_uri or f"models:/{tracking_cfg.registered_model}@champion"
        ref = tracking.resolve_model(uri)
        model = tracking.load_churn_model(uri)
        log.info("model %s version %s (%s)", ref.name, ref.version, uri)
        snap_cfg = SnapshotConfig(**model.info.get("snapshots", {}))
        feat_cfg = FeatureConfig(**model.info.get("features", {}))
        tables, _ = open_validated(data_cfg, required_tables(snap_cfg.churn_definition))
        end = data_horizon(tables, data_cfg.horizon)
        start = tables.con.execute("SELECT min(created_at) FROM accounts").fetchone()[0]
        if as_of_ts <= pd.Timestamp(start) or as_of_ts > end + pd.Timedelta(days=1):
            raise ScoringError(f"as_of {as_of_ts.date()} is outside the data "
                               f"({pd.Timestamp(start).date()} .. {end.date()})")
        snapshots = build_snapshots(tables, snap_cfg, [as_of_ts], data_end=end)
        if snapshots.empty:
            raise ScoringError(f"no accounts in the population at {as_of_ts.date()}")
        features = build_features(tables, snapshots, feat_cfg, event_types=model.event_types)
        before = None
        if cfg.monitor.enabled:
            before = baseline_cohorts(tables, snap_cfg, feat_cfg, model, cfg, as_of_ts,
                                      pd.Timestamp(start), end)
        priority, contributions, alerts = score_accounts(
            features, model, cfg, snap_cfg.horizon_days, progress, before)
        priority = priority.assign(model_name=ref.name, model_version=ref.version)
        priority = check_priority(priority)
        summary = segment_summary(priority)
        write_outputs(priority, summary, contributions, alerts, target, cfg.priority)
        log.info("wrote %d ranked accounts to %s", len(priority), target)
        run_id = None
        if log_run:
            run_id = tracking.log_scoring_run(
                tracking_cfg, params={"as_of": as_of_ts.date(), "model_uri": uri,
                                      "model_name": ref.name, "model_version": ref.version,
                                      "data": data_cfg.database or data_cfg.root,
                                      "explain": cfg.explain},
                metrics=scoring_metrics(priority) | {"crisis_alerts": len(alerts)},
                artifacts={"scoring": target},
                tags={"model_run_id": ref.run_id or ""},
            )
        return ScoreResult(priority, summary, target, run_id)


def baseline_cohorts(tables: Tables, snap_cfg: SnapshotConfig, feat_cfg: FeatureConfig,
                     model: ChurnModel, cfg: ScoreConfig, as_of: pd.Timestamp,
                     start: pd.Timestamp, end: pd.Timestamp) -> tuple[pd.DataFrame, int] | None:
    """Cohorts and signals of the population at the earlier as_of dates the monitor compares
    with (point in time, like every feature); None when the data starts too late for any."""
    dates = [as_of - pd.Timedelta(days=d) for d in sorted(set(cfg.monitor.baseline_days))]
    dates = [d for d in dates if d > start]
    if not dates:
        log.warning("crisis monitor off: no data %s days before %s", cfg.monitor.baseline_days,
                    as_of.date())
        return None
    snapshots = build_snapshots(tables, snap_cfg, dates, data_end=end)
    if snapshots.empty:
        return None
    features = build_features(tables, snapshots, feat_cfg, event_types=model.event_types)
    log.info("crisis monitor: baseline of %d snapshots at %s", len(features),
             ", ".join(str(d.date()) for d in dates))
    cohorts = monitor.cohort_frame(features, model.predict_proba(features), cfg.segments,
                                   cfg.monitor)
    return cohorts, len(dates)


def score_accounts(features: pd.DataFrame, model: ChurnModel, cfg: ScoreConfig,
                   horizon_days: int, progress: Callable[[int, int], None] | None = None,
                   before: tuple[pd.DataFrame, int] | None = None
                   ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One ranked row per account (risk, value, segments, alert, owner, playbook, reasons),
    the top contributions of every explained account (for drill-downs), and the crisis alerts
    (cohorts whose signals jumped against `before`: earlier cohorts and how many dates)."""
    features = features.reset_index(drop=True)
    p = model.predict_proba(features)
    arr_frame = features if "arr" in features.columns else features.assign(arr=np.nan)
    value = account_value(arr_frame, p, horizon_days, cfg.value)
    segments = assign_segments(features, p, value["arr"].to_numpy(), value["ltv"].to_numpy(),
                               cfg.segments)
    alerts = pd.DataFrame(columns=[*monitor.ALERT_COLUMNS, "members"])
    flagged = pd.DataFrame({"alert": "", "alert_signal": ""}, index=features.index)
    if before is not None:
        now = monitor.cohort_frame(features, p, cfg.segments, cfg.monitor)
        alerts = monitor.cohort_alerts(now, before[0], before[1], cfg.monitor)
        flagged = monitor.alert_of_account(now, alerts)
        for text in alerts["alert"]:
            log.warning("crisis alert: %s", text)
    at_risk = value["ltv_at_risk"] if cfg.value.use_ltv else value["expected_arr_at_risk"]
    days = (pd.to_numeric(features["days_to_renewal"], errors="coerce").to_numpy()
            if "days_to_renewal" in features.columns else np.full(len(features), np.nan))
    score = pr.priority_score(at_risk.to_numpy(), days, cfg.priority)
    pinned = pr.pinned_by_alert(flagged["alert"], segments["risk_tier"], cfg.priority)
    order = pr.rank_order(score, features["account_id"], pinned)
    base = pd.concat([features[["account_id", "as_of"]], value, segments, flagged], axis=1
                     ).assign(probability=p, priority_score=score, pinned=pinned).iloc[order]
    routed = pr.route_owners(base, cfg.priority)
    base = base.assign(priority_rank=np.arange(1, len(base) + 1), **routed)
    explained = (base.index if cfg.explain == "all"
                 else base.index[base["owner"] != pr.NO_OWNER])
    log.info("explaining %d of %d accounts (%s)", len(explained), len(base), cfg.explain)
    contrib = explain.shap_contributions(model, features.loc[explained],
                                         chunk_size=cfg.explain_chunk_size, progress=progress)
    by_family = explain.family_contributions(contrib, explain.feature_families(model.features))
    driver = explain.primary_driver(by_family).reindex(base.index).fillna(explain.NO_DRIVER)
    reasons = explain.top_reasons(contrib, features.loc[explained], n=cfg.reasons).reindex(
        base.index).fillna("")
    base = base.assign(
        primary_driver=driver,
        playbook=pr.playbook(driver, base["owner"], cfg.priority,
                             base["alert_signal"].where(base["pinned"], "")),
        intervention_segment=pr.intervention_segment(base["risk_tier"], base["value_tier"],
                                                     driver),
    )
    out = pd.concat([base, reasons[[f"reason_{k + 1}" for k in range(cfg.reasons)]]], axis=1)
    top = explain.top_contributions(contrib, features.loc[explained], features["account_id"])
    out = out.drop(columns="alert_signal")
    return out[output_columns(out, cfg.reasons)].reset_index(drop=True), top, alerts


def output_columns(frame: pd.DataFrame, n_reasons: int) -> list[str]:
    head = ["priority_rank", "account_id", "as_of", "probability", "risk_tier", "arr", "ltv",
            "ltv_source", "expected_arr_at_risk", "ltv_at_risk", "priority_score", "value_tier",
            "intervention_segment", "playbook", "owner", "routing_reason", "primary_driver",
            "pinned", "alert"]
    head += [f"reason_{k + 1}" for k in range(n_reasons)]
    rest = [c for c in frame.columns if c not in head]
    return head + rest


def segment_summary(priority: pd.DataFrame) -> pd.DataFrame:
    """Accounts, ARR, mean risk and ARR at risk per value of every segment column."""
    frames = []
    for col in [c for c in SEGMENT_COLUMNS if c in priority.columns]:
        g = priority.groupby(col, observed=True, sort=True).agg(
            accounts=("account_id", "size"), arr=("arr", "sum"),
            mean_risk=("probability", "mean"), arr_at_risk=("expected_arr_at_risk", "sum"))
        frames.append(g.reset_index().rename(columns={col: "segment"}).assign(family=col))
    out = pd.concat(frames, ignore_index=True)
    return out[["family", "segment", "accounts", "arr", "mean_risk", "arr_at_risk"]]


def scoring_metrics(priority: pd.DataFrame) -> dict[str, float]:
    p = priority["probability"]
    metrics = {"accounts": len(priority), "arr_total": priority["arr"].sum(),
               "expected_arr_at_risk": priority["expected_arr_at_risk"].sum(),
               "probability_mean": p.mean(), "probability_p50": p.quantile(0.5),
               "probability_p90": p.quantile(0.9), "probability_p99": p.quantile(0.99)}
    if "pinned" in priority.columns:
        metrics["pinned_by_alerts"] = int(priority["pinned"].sum())
    for col in ("owner", "risk_tier", "playbook"):
        for key, n in priority[col].value_counts().items():
            metrics[f"count_{col}_{key}"] = n
    return metrics


def write_outputs(priority: pd.DataFrame, summary: pd.DataFrame, contributions: pd.DataFrame,
                  alerts: pd.DataFrame, target: Path, priority_cfg: PriorityConfig) -> None:
    """Write every output (list, summary, contributions, HTML page, CRM export) into a
    temporary folder, then swap it in for `target` whole: a crash leaves the previous run."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        priority.to_parquet(tmp / "priority.parquet", index=False)
        priority.to_csv(tmp / "priority.csv", index=False)
        summary.to_csv(tmp / "segments_summary.csv", index=False)
        contributions.to_parquet(tmp / "contributions.parquet", index=False)
        alerts[monitor.ALERT_COLUMNS].to_csv(tmp / ALERTS_FILE, index=False)
        (tmp / HTML_FILE).write_text(
            render_report(priority, summary, contributions, priority_cfg,
                          alerts=alerts["alert"].tolist()), encoding="utf-8")
        (tmp / CRM_FILE).write_bytes(crm_csv(priority))
        backup = target.parent / f".{target.name}.previous"
        if backup.exists():
            shutil.rmtree(backup)
        if target.exists():
            os.replace(target, backup)
        os.replace(tmp, target)
        if backup.exists():
            shutil.rmtree(backup)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


@contextmanager
def as_of_lock(out: Path, as_of: pd.Timestamp) -> Iterator[Path]:
    """Refuse to run while another run holds the lock for the same as_of (stale locks, whose
    process is gone, are taken over)."""
    out.mkdir(parents=True, exist_ok=True)
    lock = out / f".{as_of.date().isoformat()}.lock"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            holder = lock.read_text().strip() if lock.exists() else ""
            if holder.isdigit() and _alive(int(holder)):
                raise ScoringError(f"as_of {as_of.date()} is locked by running process {holder} "
                                   f"({lock})") from None
            log.warning("removing stale lock %s (process %s is gone)", lock, holder or "?")
            lock.unlink(missing_ok=True)
    else:  # pragma: no cover - only when another process races us twice
        raise ScoringError(f"as_of {as_of.date()} is locked ({lock})")
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield lock
    finally:
        lock.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
