"""Batch scoring end to end on the simulator: crisis cohort, value-aware ranking, idempotent and
atomic outputs, and a clear error + non-zero exit for each kind of bad input."""

import os
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from churnseg.config import (
    Capacity,
    DataConfig,
    EvaluationConfig,
    ModelConfig,
    ScoreConfig,
    SimulateConfig,
    SnapshotConfig,
    TrackingConfig,
    TrainConfig,
)
from churnseg.data.contract import validate
from churnseg.data.io import open_tables
from churnseg.features.snapshots import build_snapshots
from churnseg.model.evaluate import arr_captured_at
from pipelines import score, train
from pipelines import simulate as sim_job
from pipelines.cli import app

pytestmark = pytest.mark.slow
CRISIS_AS_OF = "2025-03-22"  # three weeks into the simulated outage (month 14 of 24)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("score")
    data = root / "data"
    sim_job.run(SimulateConfig(accounts=10000, seed=11), data)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    cfg = TrainConfig(
        snapshots=SnapshotConfig(start="2024-04-01"),
        model=ModelConfig(capacity_grid=[Capacity(num_leaves=15, max_depth=4,
                                                  min_data_in_leaf=100)]),
        evaluation=EvaluationConfig(bootstrap=20),
        tracking=TrackingConfig(uri=uri, experiment="score-tests", registered_model="score-m"),
    )
    data_cfg = DataConfig(root=data, quarantine_dir=root / "quarantine")
    result = train.run(data_cfg, cfg)
    return {"root": root, "data": data, "data_cfg": data_cfg, "tracking": cfg.tracking,
            "model_uri": f"models:/score-m/{result.record.version}"}


def run_score(world, as_of, out=None, **kw):
    return score.run(world["data_cfg"], ScoreConfig(), world["tracking"], as_of,
                     out or world["root"] / "scores", model_uri=world["model_uri"], **kw)


def cohort_frame(world, result):
    acc = pd.read_parquet(world["data"] / "accounts.parquet")[["account_id", "created_at",
                                                               "region"]]
    df = result.priority.merge(acc, on="account_id")
    tenure = (pd.Timestamp(CRISIS_AS_OF) - df["created_at"]).dt.days
    return df.assign(cohort=(df["region"] == "LATAM") & (tenure < 90)
                     & df["triggers"].str.contains("missed_payment"))


def test_crisis_cohort_tops_the_list_with_payment_driver_and_fix(world, record_property):
    result = run_score(world, CRISIS_AS_OF, log_run=False)
    # the monitor names the outage (missed payments in the outage region) and nothing else:
    # no echo of it in the national rate of every plan or channel
    alerts = pd.read_csv(result.out_dir / "alerts.csv")
    assert alerts[["signal", "cohort"]].values.tolist() == [["missed_payment", "region=LATAM"]]
    assert alerts["ratio"].iloc[0] > 3
    df = cohort_frame(world, result).sort_values("priority_rank")
    outage = (df["region"] == "LATAM") & df["triggers"].str.contains("missed_payment")
    band = df[df["pinned"]]
    record_property("pinned_accounts", len(band))
    record_property("pinned_new_share", round(band["cohort"].mean(), 3))
    record_property("top50_new_share", round(df["cohort"].head(50).mean(), 3))
    record_property("new_rest_share", round(df.loc[~df["pinned"], "cohort"].mean(), 4))
    assert len(band) >= 50
    # the top of the list is the outage cohort, with the payment fix as playbook
    assert df["pinned"].head(len(band)).all()
    assert outage[band.index].all()
    assert (band["playbook"] == "payment_fix").all()
    assert band["alert"].str.startswith("missed_payment in region=LATAM").all()
    # and the model's own explanation agrees: payments is the primary driver of most of them
    drivers = band["primary_driver"].value_counts(normalize=True)
    record_property("pinned_payments_driver_share", round(drivers.get("payments", 0.0), 3))
    assert drivers.index[0] == "payments" and drivers["payments"] > 0.6
    # the cohort (new accounts of the outage region with a failed payment): at clearly
    # higher risk than everyone else, and every one of them that is actionable is in the band
    cohort, rest = df[df["cohort"]], df[~df["cohort"]]
    assert len(cohort) >= 10
    assert cohort["probability"].mean() > 2 * rest["probability"].mean()
    routed = cohort[cohort["owner"] != "none"]
    assert len(routed) >= 0.5 * len(cohort)
    assert routed["pinned"].all() and (routed["playbook"] == "payment_fix").all()
    record_property("cohort_payments_driver_share",
                    round((routed["primary_driver"] == "payments").mean(), 3))


def test_value_aware_ranking_captures_more_churned_arr(world, record_property):
    as_of = "2025-06-01"
    result = run_score(world, as_of, log_run=False)
    tables = open_tables(DataConfig(root=world["data"]))
    validate(tables)
    labels = build_snapshots(tables, SnapshotConfig(), [pd.Timestamp(as_of)])
    df = result.priority.merge(labels[["account_id", "churned"]], on="account_id")
    y = df["churned"].astype(int).to_numpy()
    arr = df["arr"].to_numpy()
    by_priority = arr_captured_at(y, df["priority_score"].to_numpy(), arr, 0.1)
    by_probability = arr_captured_at(y, df["probability"].to_numpy(), arr, 0.1)
    record_property("arr_captured_top10_priority", round(by_priority, 3))
    record_property("arr_captured_top10_probability", round(by_probability, 3))
    assert by_priority > by_probability
    # a quiet month: no crisis alert, nothing pinned, the list is ranked by value at risk
    assert pd.read_csv(result.out_dir / "alerts.csv").empty
    assert not result.priority["pinned"].any()


def test_rerun_is_byte_identical_and_crash_keeps_previous_outputs(world, monkeypatch, tmp_path):
    out = tmp_path / "scores"
    first = run_score(world, "2025-12-01", out=out, log_run=False)
    files = {p.name: p.read_bytes() for p in first.out_dir.iterdir()}
    run_score(world, "2025-12-01", out=out, log_run=False)
    assert {p.name: p.read_bytes() for p in first.out_dir.iterdir()} == files
    assert {"priority.parquet", "priority.csv", "segments_summary.csv", "report.html",
            "crm_export.csv", "contributions.parquet", "alerts.csv"} <= set(files)

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(score, "render_report", crash)
    with pytest.raises(RuntimeError):
        run_score(world, "2025-12-01", out=out, log_run=False)
    assert {p.name: p.read_bytes() for p in first.out_dir.iterdir()} == files
    assert sorted(p.name for p in out.iterdir()) == ["2025-12-01"]


def test_ranked_output_columns(world):
    result = run_score(world, "2025-12-01", log_run=True)
    df = result.priority
    assert df["priority_rank"].tolist() == list(range(1, len(df) + 1))
    assert df["priority_score"].is_monotonic_decreasing
    assert df["account_id"].is_unique and result.run_id
    explained = df[df["owner"] != "none"]
    assert (explained["reason_1"] != "").mean() > 0.9
    assert ((df["probability"] > 0) & (df["probability"] < 1)).all()
    assert np.allclose(df["expected_arr_at_risk"], df["probability"] * df["arr"])


def cli(world, *args):
    return CliRunner().invoke(app, ["score", "--data", str(world["data"]), "--tracking-uri",
                                    world["tracking"].uri, *args])


def test_unknown_model_uri_is_a_clear_error(world, tmp_path):
    res = cli(world, "--as-of", "2025-12-01", "--out", str(tmp_path), "--model",
              "models:/no-such-model@champion")
    assert res.exit_code == 2 and "model not found" in res.output


def test_as_of_outside_the_data(world, tmp_path):
    res = cli(world, "--as-of", "2031-01-01", "--out", str(tmp_path), "--model",
              world["model_uri"])
    assert res.exit_code == 2 and "outside the data" in res.output
    assert not (tmp_path / "2031-01-01").exists()


def test_locked_as_of_is_refused_and_nothing_is_overwritten(world, tmp_path):
    (tmp_path / "2025-12-01").mkdir()
    (tmp_path / "2025-12-01" / "priority.csv").write_text("previous")
    (tmp_path / ".2025-12-01.lock").write_text(str(os.getpid()))  # a live process holds it
    res = cli(world, "--as-of", "2025-12-01", "--out", str(tmp_path), "--model",
              world["model_uri"])
    assert res.exit_code == 2 and "locked" in res.output
    assert (tmp_path / "2025-12-01" / "priority.csv").read_text() == "previous"


def test_model_features_missing_from_the_data_are_named(world, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(world["data"], data, ignore=shutil.ignore_patterns("payments.parquet"))
    res = cli(world, "--data", str(data), "--as-of", "2025-12-01", "--out", str(tmp_path / "o"),
              "--model", world["model_uri"])
    assert res.exit_code == 2 and "failed_payments_30d" in res.output
    assert not (tmp_path / "o" / "2025-12-01").exists()
