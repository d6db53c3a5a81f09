"""Priority page: content, safe embedding, determinism, readers and the report job.

`synthetic_report_inputs` builds a realistic scoring run (priority list, segment summary,
contributions) without training anything; test_export.py, test_browser.py and
benchmarks/report.py use it too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from churnseg.config import OwnerQueue, PriorityConfig
from churnseg.report import html as rh
from churnseg.report import priority_frame, summary_frame
from churnseg.scoring import prioritize as pr
from pipelines import report as report_job

SCRIPT_PAYLOAD = "<script>alert(1)</script>"
IMG_PAYLOAD = '"><img src=x onerror=alert(1)>'
SCRIPT_ID = f"{SCRIPT_PAYLOAD}M1"  # account ids carrying the payloads (unique, searchable)
IMG_ID = f"{IMG_PAYLOAD}M2"
AS_OF = pd.Timestamp("2024-06-01")
FEATURES = {  # feature -> (family, reason template, value generator)
    "failed_payments_30d": (
        "payments",
        "{v:.0f} failed payments in the last 30 days",
        lambda r, n: r.poisson(0.6, n),
    ),
    "consecutive_failed_payments": (
        "payments",
        "{v:.0f} payments failed in a row",
        lambda r, n: r.poisson(0.3, n),
    ),
    "logins_30d": (
        "usage",
        "only {v:.0f} logins in the last 30 days",
        lambda r, n: r.poisson(20, n),
    ),
    "logins_trend_30d": (
        "usage",
        "logins down {v:.0%} vs the previous 30 days",
        lambda r, n: r.normal(-0.1, 0.3, n).round(3),
    ),
    "days_since_last_activity": (
        "usage",
        "no activity for {v:.0f} days",
        lambda r, n: r.exponential(6, n).round(1),
    ),
    "tickets_30d": (
        "tickets",
        "{v:.0f} support tickets in the last 30 days",
        lambda r, n: r.poisson(1.0, n),
    ),
    "open_tickets": ("tickets", "{v:.0f} tickets still open", lambda r, n: r.poisson(0.4, n)),
    "last_nps": ("sentiment", "last NPS answer was {v:.0f}", lambda r, n: r.integers(0, 11, n)),
    "milestones_completed": (
        "onboarding",
        "only {v:.0f} onboarding milestones completed",
        lambda r, n: r.integers(0, 6, n),
    ),
    "tenure_days": ("account", "customer for {v:.0f} days", lambda r, n: r.integers(5, 1500, n)),
    "arr_change_90d": (
        "account",
        "ARR changed {v:+.0%} in 90 days",
        lambda r, n: r.normal(0, 0.08, n).round(3),
    ),
}


@dataclass(frozen=True)
class ReportInputs:
    priority: pd.DataFrame
    summary: pd.DataFrame
    contributions: pd.DataFrame
    cfg: PriorityConfig


def synthetic_report_inputs(
    n: int = 1000, seed: int = 0, hostile: bool = False, n_top: int = 8
) -> ReportInputs:
    """A scoring run's outputs for `n` accounts, shaped like pipelines/score.py writes them.

    Args:
        n: accounts.
        seed: random seed (same seed, same frames).
        hostile: put HTML/script and spreadsheet-formula payloads into text fields (account ids,
            reasons, segments, a queue name, model name, contribution values).
        n_top: contributions kept per explained account.
    """
    rng = np.random.default_rng(seed)
    queues = [
        OwnerQueue(name="csm_strategic", capacity=max(n // 40, 3), value_tiers=["strategic"]),
        OwnerQueue(name="csm_growth", capacity=max(n // 12, 5), value_tiers=["large", "mid"]),
    ]
    if hostile:
        queues.append(OwnerQueue(name=f"csm_{SCRIPT_PAYLOAD}", capacity=5, value_tiers=["small"]))
    cfg = PriorityConfig(queues=queues)
    ids = np.char.add("M", np.char.zfill(np.arange(n).astype(str), 6)).astype(object)
    if hostile:
        ids[[1, 3, 5, 7, 9]] = [SCRIPT_ID, IMG_ID, '=HYPERLINK("http://x")', "+SUM(1,2)", "@cmd"]
    probability = np.clip(rng.beta(1.2, 7.0, n), 0.001, 0.99)
    arr = np.round(rng.lognormal(8.8, 1.1, n), 2)
    values = {f: spec[2](rng, n) for f, spec in FEATURES.items()}
    contrib = pd.DataFrame({f: rng.normal(0, 0.35, n) for f in FEATURES})
    contrib["failed_payments_30d"] += 0.5 * values["failed_payments_30d"]
    families = pd.Series({f: spec[0] for f, spec in FEATURES.items()})
    by_family = contrib.T.groupby(families).sum().T
    driver = by_family.idxmax(axis=1).where(by_family.max(axis=1) > 0, "none")
    days = rng.integers(-5, 365, n).astype(float)
    days[rng.random(n) < 0.1] = np.nan
    risk_tier = np.select([probability >= 0.25, probability >= 0.10], ["high", "medium"], "low")
    value_tier = np.select(
        [arr >= 60000, arr >= 15000, arr >= 3000], ["strategic", "large", "mid"], "small"
    )
    at_risk = probability * arr
    score = pr.priority_score(at_risk, days, cfg)
    order = pr.rank_order(score, pd.Series(ids))
    base = pd.DataFrame(
        {
            "account_id": ids,
            "as_of": AS_OF,
            "probability": probability,
            "risk_tier": risk_tier,
            "arr": arr,
            "ltv": np.round(arr * 0.8 * 3.5, 2),
            "ltv_source": "estimated",
            "expected_arr_at_risk": at_risk,
            "ltv_at_risk": probability * arr * 2.8,
            "priority_score": score,
            "value_tier": value_tier,
        }
    ).iloc[order]
    routed = pr.route_owners(base, cfg)
    base = base.assign(priority_rank=np.arange(1, n + 1), **routed)
    explained = base.index[base["owner"] != pr.NO_OWNER]
    drv = driver.reindex(base.index).where(base["owner"] != pr.NO_OWNER, "none")
    reasons = _reasons(contrib, values, base.index, explained)
    renewal = np.select(
        [days <= 30, days <= 60, days <= 90], ["renews_30d", "renews_60d", "renews_90d"], "later"
    )
    renewal = np.where(np.isnan(days), "unknown", renewal)

    def pick(options: list[str], p: list[float] | None = None) -> np.ndarray:
        return rng.choice(options, size=n, p=p)

    seg = pd.DataFrame(
        {
            "segment_onboarding": pick(
                ["completed", "partial_not_activated", "dropped_early"], [0.7, 0.2, 0.1]
            ),
            "segment_risk_level": pick(["normal", "elevated", "high"], [0.75, 0.18, 0.07]),
            "segment_adoption": pick(["none", "light", "core", "power"]),
            "segment_journey": pick(
                ["new/low_ltv", "active/high_ltv", "at_risk/low_ltv", "dormant/low_ltv"]
            ),
            "segment_region": pick(["NA", "EU", "APAC", "LATAM"], [0.4, 0.3, 0.2, 0.1]),
            "segment_channel": pick(["organic", "paid", "partner", "sales"]),
            "segment_sentiment": pick(["promoter", "passive", "detractor", "no_response"]),
            "segment_renewal": renewal,
            "early_adopter": rng.random(n) < 0.15,
            "triggers": pick(
                ["", "", "", "missed_payment", "ticket_surge", "missed_payment; downgrade"]
            ),
        }
    ).reindex(base.index)
    priority = pd.concat(
        [
            base.assign(
                primary_driver=drv,
                playbook=pr.playbook(drv, base["owner"], cfg),
                intervention_segment=pr.intervention_segment(
                    base["risk_tier"], base["value_tier"], drv
                ),
                **reasons,
            ),
            seg,
        ],
        axis=1,
    )
    priority = priority.assign(model_name="churnseg-churn", model_version="7")
    if hostile:
        priority = _poison(priority)
    head = [
        "priority_rank",
        "account_id",
        "as_of",
        "probability",
        "risk_tier",
        "arr",
        "ltv",
        "ltv_source",
        "expected_arr_at_risk",
        "ltv_at_risk",
        "priority_score",
        "value_tier",
        "intervention_segment",
        "playbook",
        "owner",
        "routing_reason",
        "primary_driver",
        "reason_1",
        "reason_2",
        "reason_3",
    ]
    priority = priority[head + [c for c in priority.columns if c not in head]].reset_index(
        drop=True
    )
    contributions = _long_contributions(contrib, values, explained, ids, n_top, hostile)
    return ReportInputs(priority, summarise(priority), contributions, cfg)


def _poison(priority: pd.DataFrame) -> pd.DataFrame:
    """Payloads in free text and segment labels of the top rows (visible on the first page)."""
    out = priority.copy()
    top = out.index[out["priority_rank"] <= 6]
    out.loc[top, "reason_1"] = SCRIPT_PAYLOAD
    out.loc[top, "reason_2"] = IMG_PAYLOAD
    out.loc[top, "reason_3"] = "=1+2"
    out.loc[top, "segment_channel"] = f"partner {SCRIPT_PAYLOAD}"
    out.loc[top[:3], "segment_region"] = IMG_PAYLOAD
    out.loc[top, "triggers"] = "-2+3; @SUM(A1)"
    return out.assign(model_name=f"churn {IMG_PAYLOAD}")


def _reasons(
    contrib: pd.DataFrame, values: dict[str, np.ndarray], order: pd.Index, explained: pd.Index
) -> dict[str, pd.Series]:
    """reason_1..3: templates of the explained accounts' three largest positive contributions."""
    names = list(contrib.columns)
    matrix = contrib.to_numpy()
    top = np.argsort(-matrix, axis=1, kind="stable")[:, :3]
    is_explained = np.isin(np.arange(len(contrib)), explained.to_numpy())
    out = {}
    for k in range(3):
        text = np.full(len(contrib), "", dtype=object)
        for j, name in enumerate(names):
            hit = np.flatnonzero((top[:, k] == j) & (matrix[:, j] > 0) & is_explained)
            text[hit] = [FEATURES[name][1].format(v=float(v)) for v in values[name][hit]]
        out[f"reason_{k + 1}"] = pd.Series(text, index=contrib.index).reindex(order)
    return out


def _long_contributions(
    contrib: pd.DataFrame,
    values: dict[str, np.ndarray],
    explained: pd.Index,
    ids: np.ndarray,
    n_top: int,
    hostile: bool,
) -> pd.DataFrame:
    names = np.asarray(contrib.columns, dtype=object)
    rows = explained.to_numpy()
    matrix = contrib.to_numpy()[rows]
    top = np.argsort(-np.abs(matrix), axis=1, kind="stable")[:, :n_top]
    row = np.repeat(rows, top.shape[1])
    feat = top.ravel()
    text = np.empty(len(row), dtype=object)
    for j, name in enumerate(names):
        hit = np.flatnonzero(feat == j)
        text[hit] = [f"{float(v):.4g}" for v in values[name][row[hit]]]
    out = pd.DataFrame(
        {
            "account_id": ids[row],
            "feature": names[feat],
            "family": [FEATURES[f][0] for f in names[feat]],
            "value": text,
            "contribution": matrix[np.repeat(np.arange(len(rows)), top.shape[1]), feat],
        }
    )
    if hostile and len(out):
        out.loc[out.index[:3], "value"] = SCRIPT_PAYLOAD
    return out


def summarise(priority: pd.DataFrame) -> pd.DataFrame:
    """The segment summary as pipelines/score.py computes it."""
    frames = []
    for col in [
        "risk_tier",
        "value_tier",
        "segment_onboarding",
        "segment_region",
        "segment_renewal",
        "intervention_segment",
        "playbook",
        "owner",
        "primary_driver",
    ]:
        g = priority.groupby(col, observed=True, sort=True).agg(
            accounts=("account_id", "size"),
            arr=("arr", "sum"),
            mean_risk=("probability", "mean"),
            arr_at_risk=("expected_arr_at_risk", "sum"),
        )
        frames.append(g.reset_index().rename(columns={col: "segment"}).assign(family=col))
    out = pd.concat(frames, ignore_index=True)
    return out[["family", "segment", "accounts", "arr", "mean_risk", "arr_at_risk"]]


def write_run(inputs: ReportInputs, scores_dir, as_of: pd.Timestamp = AS_OF):
    """Write the inputs where a scoring run would; returns the as_of folder."""
    folder = scores_dir / as_of.date().isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    inputs.priority.to_parquet(folder / "priority.parquet", index=False)
    inputs.summary.to_csv(folder / "segments_summary.csv", index=False)
    inputs.contributions.to_parquet(folder / "contributions.parquet", index=False)
    return folder


def script_block(html: str, element_id: str) -> str:
    match = re.search(
        rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S
    )
    assert match, element_id
    return match.group(1)


# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run_inputs() -> ReportInputs:
    return synthetic_report_inputs(400, seed=1, hostile=True)


@pytest.fixture(scope="module")
def page(run_inputs) -> str:
    r = run_inputs
    return rh.render_report(r.priority, r.summary, r.contributions, r.cfg)


def test_synthetic_inputs_look_like_a_scoring_run(run_inputs):
    p = run_inputs.priority
    assert p["priority_rank"].tolist() == list(range(1, len(p) + 1))
    assert p["account_id"].is_unique
    assert set(run_inputs.contributions["account_id"]) == set(
        p.loc[p["owner"] != "none", "account_id"]
    )
    assert (p.loc[(p["owner"] == "none") & (p["priority_rank"] > 6), "reason_1"] == "").all()
    counts = p["owner"].value_counts()
    for q in run_inputs.cfg.queues:
        assert 0 < counts.get(q.name, 0) <= q.capacity


def test_page_is_self_contained(page):
    assert page.startswith("<!DOCTYPE html>")
    assert "<link" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page
    # three JSON blocks + the page script, nothing else can run
    assert page.count("<script") == 4


def test_hostile_text_never_appears_as_markup(page):
    assert SCRIPT_PAYLOAD not in page
    assert "<img" not in page
    # escaped once, by Jinja, where the server renders text (queue names, segments, model name)
    assert "csm_&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "churn &#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page


def test_crisis_alerts_shown_first_escaped_and_absent_when_none(run_inputs):
    r = run_inputs
    hostile = "missed_payment in region=<b>LATAM</b>: 23% of accounts vs 3% before (x6.8)"
    page = rh.render_report(r.priority.assign(pinned=r.priority["priority_rank"] <= 3),
                            r.summary, r.contributions, r.cfg, alerts=[hostile])
    assert page.index('id="alerts"') < page.index('id="headline"')
    assert "region=&lt;b&gt;LATAM&lt;/b&gt;" in page and "<b>LATAM" not in page
    assert "Their 3 actionable accounts are ranked first" in page
    assert 'id="alerts"' not in rh.render_report(r.priority, r.summary, r.contributions, r.cfg)


def test_script_json_cannot_close_the_script_element():
    text = rh.script_json({"x": "</script><script>alert(1)</script> & <!-- \u2028"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"x": "</script><script>alert(1)</script> & <!-- \u2028"}


def test_embedded_rows_round_trip_in_rank_order(page, run_inputs):
    data = json.loads(script_block(page, "report-data"))
    p = run_inputs.priority
    assert data["n"] == len(p)
    cols = data["columns"]
    assert cols["priority_rank"]["values"] == list(range(1, len(p) + 1))

    def decode(col):
        c = cols[col]
        return [c["categories"][k] for k in c["codes"]] if c["kind"] == "code" else c["values"]

    assert decode("account_id") == p["account_id"].tolist()
    assert decode("owner") == p["owner"].tolist()
    assert decode("reason_1") == p["reason_1"].tolist()
    assert decode("early_adopter") == ["yes" if x else "no" for x in p["early_adopter"]]
    assert np.allclose(cols["probability"]["values"], p["probability"].round(4))
    assert cols["owner"]["categories"] == sorted(p["owner"].unique())
    assert data["reasons"] == ["reason_1", "reason_2", "reason_3"]
    assert "model_name" not in cols and "as_of" not in cols


def test_contributions_keyed_by_row_and_ordered_by_size(page, run_inputs):
    data = json.loads(script_block(page, "contrib-data"))
    p, c = run_inputs.priority, run_inputs.contributions
    assert sum(data["counts"]) == len(data["feature"]) == len(c)
    assert data["rows"] == sorted(data["rows"])
    assert [p["account_id"].iloc[r] for r in data["rows"]] == sorted(
        c["account_id"].unique(), key=lambda a: p.index[p["account_id"] == a][0]
    )
    k = 3  # the fourth explained account
    start = sum(data["counts"][:k])
    mine = range(start, start + data["counts"][k])
    got = [(data["features"][data["feature"][m]], data["contribution"][m]) for m in mine]
    account = p["account_id"].iloc[data["rows"][k]]
    expect = c[c["account_id"] == account].assign(m=lambda d: -d["contribution"].abs())
    expect = expect.sort_values(["m", "feature"], kind="mergesort")
    assert [f for f, _ in got] == expect["feature"].tolist()
    assert np.allclose([v for _, v in got], expect["contribution"].round(3))
    assert data["families"][data["features"].index("failed_payments_30d")] == "payments"


def test_contributions_payload_drops_unknown_accounts_and_handles_none():
    ids = pd.Series(["a", "b"])
    frame = pd.DataFrame(
        {
            "account_id": ["b", "zz", "b"],
            "feature": ["x", "x", "y"],
            "family": ["usage", "usage", "payments"],
            "value": ["1", "2", None],
            "contribution": [0.1, 0.5, -0.3],
        }
    )
    out = rh.contributions_payload(frame, ids)
    assert out["rows"] == [1] and out["counts"] == [2]
    assert [out["features"][k] for k in out["feature"]] == ["y", "x"]
    assert [out["values"][k] for k in out["value"]] == ["", "1"]
    assert rh.contributions_payload(None, ids)["rows"] == []
    assert frame["value"].isna().sum() == 1  # input untouched


def test_headline_and_queue_load(run_inputs):
    p, cfg = run_inputs.priority, run_inputs.cfg
    cards = {c["label"]: c for c in rh.headline(p)}
    assert cards["Accounts scored"]["value"] == f"{len(p):,}"
    assert cards["Expected ARR at risk"]["value"] == f"{p['expected_arr_at_risk'].sum():,.0f}"
    q = rh.queue_load(p, cfg).set_index("owner")
    assert list(q.index[: len(cfg.queues)]) == [x.name for x in cfg.queues]
    for queue in cfg.queues:
        assert q.loc[queue.name, "accounts"] == (p["owner"] == queue.name).sum()
        assert q.loc[queue.name, "capacity"] == queue.capacity
    assert q.loc["none", "kind"] == "monitor" and np.isnan(q.loc["none", "capacity"])
    assert q["accounts"].sum() == len(p)


def test_queue_load_flags_overfull_and_unknown_owners():
    p = pd.DataFrame({"owner": ["a", "a", "a", "ghost"], "expected_arr_at_risk": [1.0, 2, 3, 4]})
    cfg = PriorityConfig(
        queues=[
            OwnerQueue(name="a", capacity=2, value_tiers=["mid"]),
            OwnerQueue(name="b", capacity=0, value_tiers=["large"]),
        ]
    )
    q = rh.queue_load(p, cfg).set_index("owner")
    assert q.loc["a", "over"] and q.loc["a", "bar"] == 1.0 and q.loc["a", "load_text"] == "150.0%"
    assert q.loc["b", "accounts"] == 0 and q.loc["b", "load_text"] == "–"
    assert q.loc["ghost", "kind"] == "other" and q.loc["ghost", "arr_at_risk"] == 4.0


def test_summary_charts_largest_first_and_capped(run_inputs):
    fams = {f["key"]: f for f in rh.summary_charts(run_inputs.summary)}
    assert list(fams) == list(pd.unique(run_inputs.summary["family"]))
    seg = fams["intervention_segment"]
    widths = [b["w"] for b in seg["bars"]]
    assert widths == sorted(widths, reverse=True) and widths[0] == rh.CHART_BAR_WIDTH
    assert len(seg["bars"]) <= rh.CHART_MAX_BARS
    assert len(seg["rows"]) == (run_inputs.summary["family"] == "intervention_segment").sum()


def test_page_shows_run_meta_and_csp_hash_matches_script(page, run_inputs):
    assert '<strong id="meta-as-of">2024-06-01</strong>' in page
    assert '<strong id="meta-version">7</strong>' in page
    script = re.search(r"<script>(.*?)</script>", page, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in page


def test_render_is_deterministic_and_does_not_mutate(run_inputs):
    r = run_inputs
    before = r.priority.copy()
    shuffled = r.priority.sample(frac=1.0, random_state=3)
    a = rh.render_report(r.priority, r.summary, r.contributions, r.cfg)
    b = rh.render_report(shuffled, r.summary, r.contributions, r.cfg)
    assert a == b
    pd.testing.assert_frame_equal(r.priority, before)


def test_render_without_optional_columns():
    p = pd.DataFrame(
        {
            "priority_rank": [2, 1],
            "account_id": ["b", "a"],
            "probability": [0.1, float("nan")],
            "arr": [10.0, 20.0],
            "expected_arr_at_risk": [1.0, 2.0],
            "owner": ["none", "none"],
        }
    )
    summary = pd.DataFrame(
        columns=["family", "segment", "accounts", "arr", "mean_risk", "arr_at_risk"]
    )
    html = rh.render_report(p, summary)
    data = json.loads(script_block(html, "report-data"))
    assert data["columns"]["probability"]["values"] == [None, 0.1]
    assert "unknown" in html  # model name/version/as_of not in the data


def test_readers_are_typed_and_keep_na_region(tmp_path, run_inputs):
    write_run(run_inputs, tmp_path)
    p = priority_frame(tmp_path, "2024-06-01")
    assert p["priority_rank"].dtype == "int64" and p["arr"].dtype == "float64"
    assert isinstance(p["owner"].dtype, pd.CategoricalDtype)
    assert pd.api.types.is_datetime64_any_dtype(p["as_of"])
    assert p["early_adopter"].dtype == bool
    s = summary_frame(tmp_path, AS_OF)
    assert "NA" in set(s.loc[s["family"] == "segment_region", "segment"])
    with pytest.raises(FileNotFoundError, match="2024-07-01"):
        priority_frame(tmp_path, "2024-07-01")


def test_report_job_writes_both_files_atomically(tmp_path, run_inputs):
    folder = write_run(run_inputs, tmp_path)
    result = report_job.run(tmp_path, "2024-06-01", run_inputs.cfg, bom=True)
    assert result.html == folder / "report.html" and result.crm_csv == folder / "crm_export.csv"
    assert result.accounts == len(run_inputs.priority)
    assert result.explained == run_inputs.contributions["account_id"].nunique()
    assert result.crm_csv.read_bytes().startswith(b"\xef\xbb\xbfaccount_id,")
    assert sorted(x.name for x in folder.iterdir()) == sorted(
        [
            "priority.parquet",
            "segments_summary.csv",
            "contributions.parquet",
            "report.html",
            "crm_export.csv",
        ]
    )
    first = result.html.read_bytes()
    report_job.run(tmp_path, AS_OF, run_inputs.cfg, bom=True)
    assert result.html.read_bytes() == first


def test_report_job_without_contributions(tmp_path, run_inputs):
    folder = write_run(run_inputs, tmp_path)
    (folder / "contributions.parquet").unlink()
    result = report_job.run(tmp_path, AS_OF, run_inputs.cfg)
    assert result.explained == 0 and result.html.exists()
