"""The simulator: reproducible, on contract, plausible rates, working switches, a fair oracle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from churnseg.config import DataConfig, SimulateConfig
from churnseg.data import io
from churnseg.data.contract import TABLES, validate
from churnseg.data.simulate import (
    PLAYBOOKS,
    oracle_churn_probability,
    simulate_chunk,
    simulate_chunks,
    simulation_window,
)
from pipelines import simulate as job

SMALL = SimulateConfig(accounts=600, months=18, chunk_accounts=300, seed=11)
# large enough for stable rates; the crisis early and the experiments after it, so that
# neither blurs the other and both have many accounts
PLAUSIBLE = SimulateConfig(
    accounts=8000, seed=5, crisis={"start_month": 8}, interventions={"start_month": 11}
)
ARROW_KIND = {
    "string": (pa.string(), pa.large_string()),
    "timestamp": (pa.timestamp("us"),),
    "float": (pa.float64(),),
    "int": (pa.int64(),),
}


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, job.SimulationSummary]:
    out = tmp_path_factory.mktemp("sim") / "a"
    calls: list[tuple[int, int]] = []
    summary = job.run(SMALL, out, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 2), (2, 2)]
    return out, summary


@pytest.fixture(scope="module")
def world() -> dict[str, pd.DataFrame]:
    """All tables and truth of PLAUSIBLE, in memory."""
    chunks = list(simulate_chunks(PLAUSIBLE))
    frames = {name: [c.tables()[name] for c in chunks] for name in chunks[0].tables()}
    frames |= {f"truth_{name}": [c.truth()[name] for c in chunks] for name in chunks[0].truth()}
    return {name: pd.concat(parts, ignore_index=True) for name, parts in frames.items()}


# ------------------------------------------------------------------ reproducibility and layout
def test_same_seed_gives_byte_identical_files(written, tmp_path):
    out, _ = written
    again = tmp_path / "b"
    job.run(SMALL, again)
    first, second = _files(out), _files(again)
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []


def test_another_seed_gives_other_data(written, tmp_path):
    out, _ = written
    other = tmp_path / "c"
    job.run(SMALL.model_copy(update={"seed": SMALL.seed + 1}), other)
    for name in ("accounts.parquet", "events/part-00000.parquet", "payments.parquet"):
        assert (out / name).read_bytes() != (other / name).read_bytes()


def test_chunks_do_not_depend_on_processing_order(written):
    out, _ = written
    alone = simulate_chunk(SMALL, 1)  # chunk 1 without simulating chunk 0 first
    assert alone.accounts["account_id"].iloc[0] == "A000301"
    pd.testing.assert_frame_equal(alone.events, pd.read_parquet(out / "events/part-00001.parquet"))


def test_output_layout_and_summary(written):
    out, summary = written
    for table in TABLES:
        path = out / "events" if table == "events" else out / f"{table}.parquet"
        assert path.exists(), table
    assert sorted(p.name for p in (out / "events").iterdir()) == [
        "part-00000.parquet",
        "part-00001.parquet",
    ]
    assert (out / "truth/hazard/part-00001.parquet").exists()
    assert (out / "truth/churn.parquet").exists()
    assert (out / "truth/treatment_effects.parquet").exists()
    saved = yaml.safe_load((out / "simulate.yaml").read_text())
    assert SimulateConfig.model_validate(saved) == SMALL
    assert summary.rows["accounts"] == SMALL.accounts
    assert summary.rows["events"] == pq.ParquetDataset(out / "events").read().num_rows
    assert summary.truth_rows["churn"] == pq.read_metadata(out / "truth/churn.parquet").num_rows


def test_rerun_into_same_folder_removes_stale_parts(tmp_path):
    out = tmp_path / "sim"
    job.run(SimulateConfig(accounts=300, months=4, chunk_accounts=100), out)
    job.run(SimulateConfig(accounts=200, months=4, chunk_accounts=100), out)
    assert len(list((out / "events").glob("part-*.parquet"))) == 2
    assert len(list((out / "truth/hazard").glob("part-*.parquet"))) == 2


# ------------------------------------------------------------------ the contract
def test_tables_have_contract_columns_and_types(written):
    out, _ = written
    for name, spec in TABLES.items():
        path = (
            out / "events" / "part-00000.parquet" if name == "events" else out / f"{name}.parquet"
        )
        schema = pq.read_schema(path)
        if spec.keep_extra:
            assert list(schema.names[: len(spec.column_names)]) == list(spec.column_names)
        else:
            assert schema.names == list(spec.column_names), name
        for col in spec.columns:
            assert schema.field(col.name).type in ARROW_KIND[col.kind], (name, col.name)


def test_contract_validation_quarantines_nothing(written):
    out, _ = written
    _, end = simulation_window(SMALL)
    tables = io.open_tables(DataConfig(root=out))
    report = validate(tables, horizon=end)
    assert set(report.rows_in) == set(TABLES)
    assert report.quarantine.empty, report.quarantine.head().to_dict("records")


def test_frames_hold_naive_microsecond_timestamps(world):
    for name, spec in TABLES.items():
        for col in spec.columns:
            if col.kind == "timestamp":
                assert str(world[name][col.name].dtype) == "datetime64[us]", (name, col.name)
    assert pd.api.types.is_string_dtype(world["events"]["account_id"])


def test_no_leaking_columns(world):
    assert not {"engagement", "hazard", "frustration", "cause"} & set(world["accounts"].columns)


# ------------------------------------------------------------------ integrity
def test_referential_and_range_integrity(world):
    start, end = simulation_window(PLAUSIBLE)
    ids = world["accounts"]["account_id"]
    assert world["accounts"]["account_id"].str.fullmatch(r"A\d{6}").all()
    for name in (
        "subscriptions",
        "onboarding",
        "events",
        "tickets",
        "payments",
        "surveys",
        "interventions",
    ):
        assert world[name]["account_id"].isin(ids).all(), name
    subs, tickets = world["subscriptions"], world["tickets"]
    assert (subs["ended_at"].dropna() >= subs.loc[subs["ended_at"].notna(), "started_at"]).all()
    closed = tickets["closed_at"].notna()
    assert (tickets.loc[closed, "closed_at"] >= tickets.loc[closed, "opened_at"]).all()
    assert world["surveys"]["score"].between(0, 10).all()
    assert world["tickets"]["csat"].dropna().between(1, 5).all()
    assert world["tickets"]["csat"].isna().any()
    for name, spec in TABLES.items():
        for col in spec.columns:
            if col.kind == "timestamp" and col.name != "renews_at":
                assert (world[name][col.name].dropna() < end).all(), (name, col.name)
    assert (world["accounts"]["created_at"] < start).any()


def test_account_attributes(world):
    acc = world["accounts"]
    assert acc["region"].nunique() >= 4 and "LATAM" in set(acc["region"])
    assert acc["acquisition_channel"].nunique() >= 4
    assert acc.groupby("country")["region"].nunique().max() == 1
    assert set(acc.loc[acc["region"] == "LATAM", "country"]) <= {"BR", "MX", "AR", "CO", "CL"}
    start, _ = simulation_window(PLAUSIBLE)
    assert acc["created_at"].min() < start - pd.DateOffset(months=23)
    arr = world["subscriptions"].groupby("plan")["arr"].median()
    assert arr["starter"] < arr["growth"] < arr["pro"] < arr["enterprise"]
    skew = world["subscriptions"].groupby("plan")["arr"].agg(lambda a: a.mean() / a.median())
    assert (skew > 1.0).all()


def test_subscription_periods(world):
    subs = world["subscriptions"].sort_values(["account_id", "started_at"])
    nxt = subs.groupby("account_id")["started_at"].shift(-1)
    has_next = nxt.notna()
    # a later row starts exactly when the previous ends (plan change) or after it (re-signup)
    assert (subs.loc[has_next, "ended_at"] <= nxt[has_next]).all()
    gap = (nxt - subs["ended_at"])[has_next]
    changes = gap == pd.Timedelta(0)
    assert changes.sum() > 100
    resign = gap[~changes]
    assert (resign <= pd.Timedelta(days=30)).sum() > 5
    assert (resign > pd.Timedelta(days=30)).sum() > 5
    last = subs.groupby("account_id").tail(1)
    assert last["ended_at"].isna().any() and last["ended_at"].notna().any()
    assert set(subs["plan"]) == {"starter", "growth", "pro", "enterprise"}
    assert (subs["renews_at"] > subs["started_at"]).all()


def test_onboarding_milestones_in_order(world):
    ob = world["onboarding"]
    order = ["store_configured", "products_imported", "payment_gateway_connected", "first_order"]
    wide = ob.pivot(index="account_id", columns="milestone", values="completed_at")[order]
    steps = wide.notna().sum(axis=1)
    # reached steps form a prefix of the order, at increasing times
    assert (wide.notna().cumprod(axis=1).sum(axis=1) == steps).all()
    for earlier, later in zip(order[:-1], order[1:], strict=True):
        both = wide[earlier].notna() & wide[later].notna()
        assert (wide.loc[both, later] >= wide.loc[both, earlier]).all(), later
    assert {1, 2, 3, 4} <= set(steps)


def test_events_and_other_observables(world):
    ev = world["events"]
    types = set(ev["event_type"].unique())
    assert {"login", "order"} <= types
    assert len({t for t in types if t.startswith("feature_")}) >= 6
    sample = ev.iloc[:: max(len(ev) // 20_000, 1)].dropna(subset=["user_id"])
    assert (sample["user_id"].str.split("-u").str[0] == sample["account_id"]).all()
    account_years = len(world["truth_hazard"]) / 365.25
    assert len(ev) / account_years >= 500
    pay = world["payments"]
    assert set(pay["status"]) == {"succeeded", "failed", "refunded"}
    assert pay["gateway"].nunique() >= 3
    assert {"card_declined", "insufficient_funds", "expired_card", "gateway_timeout"} <= set(
        pay["failure_code"].dropna()
    )
    assert pay.loc[pay["status"] != "failed", "failure_code"].isna().all()
    assert set(world["tickets"]["priority"]) == {"low", "normal", "high", "urgent"}
    comments = world["surveys"]["comment"].dropna()
    for char in "<>&\"'":
        assert comments.str.contains(char, regex=False).any(), char


# ------------------------------------------------------------------ plausibility
def test_monthly_logo_churn_outside_the_crisis(world):
    start, _ = simulation_window(PLAUSIBLE)
    hz, churn = world["truth_hazard"], world["truth_churn"]
    active = hz[hz["day"].dt.day == 1].groupby(hz["day"].dt.to_period("M")).size()
    churned = churn.groupby(churn["churned_at"].dt.to_period("M")).size()
    rate = (churned / active).dropna()
    crisis = pd.Period(start + pd.DateOffset(months=PLAUSIBLE.crisis.start_month), "M")
    calm = rate[(rate.index < crisis) | (rate.index > crisis + 2)]
    assert len(calm) >= 20
    assert calm.between(0.01, 0.04).all(), calm.round(4).to_dict()


def test_crisis_hits_new_accounts_in_the_crisis_region(world):
    start, _ = simulation_window(PLAUSIBLE)
    crisis_start = start + pd.DateOffset(months=PLAUSIBLE.crisis.start_month)
    crisis_end = crisis_start + pd.Timedelta(weeks=PLAUSIBLE.crisis.weeks)
    acc = world["accounts"].set_index("account_id")
    first_churn = world["truth_churn"].groupby("account_id")["churned_at"].min().reindex(acc.index)
    new = (
        (acc["created_at"] > crisis_start - pd.Timedelta(days=90))
        & (acc["created_at"] < crisis_end)
        & ~(first_churn < crisis_start)
    )
    hit = (first_churn >= crisis_start) & (first_churn < crisis_end + pd.Timedelta(days=60))
    in_region = acc["region"] == PLAUSIBLE.crisis.region
    region_rate = hit[new & in_region].mean()
    other_rate = hit[new & ~in_region].mean()
    assert (new & in_region).sum() >= 80
    assert 0.15 <= region_rate <= 0.45
    assert region_rate >= 1.8 * other_rate
    # established accounts in the region are hurt far less than the new ones
    old = (acc["created_at"] < crisis_start - pd.Timedelta(days=180)) & ~(
        first_churn < crisis_start
    )
    assert hit[old & in_region].mean() < 0.6 * region_rate


def test_payment_fix_cuts_payment_churn_versus_control(world):
    iv = world["interventions"]
    assert set(iv["playbook"]) == set(PLAYBOOKS)
    assert 0.35 < (iv["arm"] == "treatment").mean() < 0.65
    churn = world["truth_churn"]
    merged = iv.merge(churn, on="account_id", how="left")
    within = (merged["churned_at"] > merged["started_at"]) & (
        merged["churned_at"] <= merged["started_at"] + pd.Timedelta(days=90)
    )
    merged = merged.assign(paid=within & (merged["cause"] == "payment"), any=within)
    per = merged.groupby(["account_id", "playbook", "arm"])[["paid", "any"]].max().reset_index()
    fix = per[per["playbook"] == "payment_fix"].groupby("arm")[["paid", "any"]].mean()
    assert (per["playbook"] == "payment_fix").sum() >= 300
    assert fix.loc["control", "paid"] >= 0.08
    assert fix.loc["treatment", "paid"] <= 0.6 * fix.loc["control", "paid"]
    # truth: payment_fix is the best playbook for accounts whose risk is payment-driven
    effects = world["truth_treatment_effects"]
    by_cause = effects.groupby(["cause_at_start", "playbook"])["effect"].mean().unstack()
    assert by_cause.loc["payment"].idxmax() == "payment_fix"
    assert by_cause.loc["onboarding"].idxmax() == "onboarding_session"


def test_disengagement_precedes_churn(world):
    ev, churn = world["events"], world["truth_churn"]
    start, _ = simulation_window(PLAUSIBLE)
    created = churn["account_id"].map(world["accounts"].set_index("account_id")["created_at"])
    # churners observed (and long past onboarding) for the 130 days before they left
    late = churn[
        (churn["churned_at"] > start + pd.Timedelta(days=130))
        & (churn["churned_at"] - created > pd.Timedelta(days=200))
        & (churn["cause"] == "disengagement")
    ].drop_duplicates("account_id")
    assert len(late) > 300
    logins = ev[ev["event_type"] == "login"].merge(late[["account_id", "churned_at"]])
    before = (logins["churned_at"] - logins["occurred_at"]).dt.days
    recent = ((before >= 0) & (before < 30)).sum()
    earlier = ((before >= 90) & (before < 120)).sum()
    assert recent < 0.8 * earlier


def test_activation_lowers_churn(world):
    start, end = simulation_window(PLAUSIBLE)
    acc = world["accounts"].set_index("account_id")
    new = acc[(acc["created_at"] >= start) & (acc["created_at"] < end - pd.Timedelta(days=200))]
    ob = world["onboarding"]
    first_order = ob[ob["milestone"] == "first_order"].set_index("account_id")["completed_at"]
    day14 = new["created_at"] + pd.Timedelta(days=14)
    first_churn = world["truth_churn"].groupby("account_id")["churned_at"].min()
    churn_at = first_churn.reindex(new.index)
    alive = ~(churn_at <= day14)
    activated = first_order.reindex(new.index) <= day14
    churned = churn_at <= new["created_at"] + pd.Timedelta(days=180)
    rate_active = churned[alive & activated].mean()
    rate_not = churned[alive & ~activated].mean()
    assert rate_not > 1.5 * rate_active


# ------------------------------------------------------------------ switches
def test_switches_turn_crisis_and_interventions_off(written):
    out, _ = written
    off = SMALL.model_copy(
        update={
            "crisis": SMALL.crisis.model_copy(update={"enabled": False}),
            "interventions": SMALL.interventions.model_copy(update={"enabled": False}),
        }
    )
    chunks = list(simulate_chunks(off))
    start, _ = simulation_window(SMALL)
    lo = start + pd.DateOffset(months=SMALL.crisis.start_month)
    hi = lo + pd.Timedelta(weeks=SMALL.crisis.weeks)

    def outage_failure_rate(pay: pd.DataFrame, acc: pd.DataFrame) -> float:
        region = pay["account_id"].map(acc.set_index("account_id")["region"])
        hit = (
            (pay["gateway"] == SMALL.crisis.gateway)
            & (region == SMALL.crisis.region)
            & (pay["attempted_at"].between(lo, hi))
            & (pay["status"] != "refunded")
        )
        return (pay.loc[hit, "status"] == "failed").mean()

    on_rate = outage_failure_rate(
        pd.read_parquet(out / "payments.parquet"), pd.read_parquet(out / "accounts.parquet")
    )
    off_rate = outage_failure_rate(
        pd.concat([c.payments for c in chunks]), pd.concat([c.accounts for c in chunks])
    )
    assert on_rate > 0.5
    assert off_rate < 0.2
    assert all(c.interventions.empty and c.truth_effects.empty for c in chunks)
    assert list(chunks[0].interventions.columns) == list(TABLES["interventions"].column_names)
    assert len(pd.read_parquet(out / "interventions.parquet")) > 0


def test_unknown_crisis_region_is_an_error():
    cfg = SimulateConfig(accounts=100, crisis={"region": "Antarctica"})
    with pytest.raises(ValueError, match="Antarctica"):
        simulate_chunk(cfg, 0)


# ------------------------------------------------------------------ the oracle
def test_oracle_projects_the_hazard_known_at_as_of():
    day = pd.Timestamp("2025-03-31")
    hazard = pd.DataFrame(
        {
            "account_id": ["A1", "A2", "A3", "A4"],
            "day": [day] * 4,
            "hazard": [0.01, 0.01, 0.02, 0.02],
            "hazard_payment": [0.0, 0.0, 0.0, 0.02],
            "days_to_renewal": [-1, -1, 40, -1],
        }
    )
    snaps = pd.DataFrame(
        {"account_id": ["A1", "A3", "A4", "A9", "A2"], "as_of": pd.Timestamp("2025-04-01")},
        index=[10, 11, 12, 13, 14],
    )
    p = oracle_churn_probability(hazard, snaps, lead_days=7, horizon_days=30)
    assert list(p.index) == [10, 11, 12, 13, 14]
    assert p[10] == pytest.approx(np.exp(-0.07) * (1 - np.exp(-0.30)))
    assert p[14] == p[10]
    # the annual account's renewal falls inside the window: its risk concentrates there
    assert p[11] > 1 - np.exp(-0.02 * 30)
    # payment risk fades as payment stress decays
    assert p[12] < 1 - np.exp(-0.02 * 30)
    assert np.isnan(p[13])


def test_oracle_ranks_real_churn_well(world):
    hz, churn = world["truth_hazard"], world["truth_churn"]
    start, _ = simulation_window(PLAUSIBLE)
    as_ofs = pd.date_range(start + pd.DateOffset(months=3), periods=12, freq="MS")
    rows = hz[hz["day"].isin(as_ofs - pd.Timedelta(days=1))]
    snaps = pd.DataFrame(
        {
            "account_id": rows["account_id"].to_numpy(),
            "as_of": (rows["day"] + pd.Timedelta(days=1)).to_numpy(),
        }
    )
    p = oracle_churn_probability(hz, snaps, lead_days=0, horizon_days=30)
    assert p.notna().all() and p.between(0, 1).all()
    merged = snaps.merge(churn, on="account_id", how="left")
    inside = (merged["churned_at"] > merged["as_of"]) & (
        merged["churned_at"] <= merged["as_of"] + pd.Timedelta(days=30)
    )
    label = inside.groupby([merged["account_id"], merged["as_of"]]).any()
    y = label.reindex(pd.MultiIndex.from_frame(snaps)).to_numpy()
    assert 0.01 < y.mean() < 0.05
    assert roc_auc_score(y, p) > 0.72
    assert abs(p.mean() - y.mean()) < 0.5 * y.mean()
