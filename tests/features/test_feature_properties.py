"""Property: on random small tables, snapshots and features are deterministic and do not depend
on the order of the input rows."""

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churnseg.config import FeatureConfig, SnapshotConfig
from churnseg.features.build import build_features
from churnseg.features.snapshots import build_snapshots
from tests.features.world import make_tables

START = pd.Timestamp("2024-01-01")
AS_OF = [pd.Timestamp("2024-04-01"), pd.Timestamp("2024-05-15 12:00")]
EVENT_TYPES = ["login", "order", "feature_discounts", "mystery"]
MILESTONES = ["store_configured", "products_imported", "payment_gateway_connected", "first_order"]


def at(day: int, hour: int = 0) -> pd.Timestamp:
    return START + pd.Timedelta(days=day, hours=hour)


@st.composite
def worlds(draw):
    n = draw(st.integers(1, 4))
    ids = [f"a{i}" for i in range(n)]
    accounts = pd.DataFrame(
        {"account_id": ids, "created_at": [at(draw(st.integers(0, 60))) for _ in ids]}
    )
    subs = []
    for a in ids:
        starts = sorted(draw(st.sets(st.integers(0, 150), min_size=1, max_size=2)))
        for s in starts:
            length = draw(st.one_of(st.none(), st.integers(1, 200)))
            subs.append(
                (
                    a,
                    at(s),
                    None if length is None else at(s + length),
                    float(draw(st.sampled_from([0, 100, 250, 1000]))),
                    draw(st.sampled_from(["basic", "pro"])),
                )
            )
    subscriptions = pd.DataFrame(
        subs, columns=["account_id", "started_at", "ended_at", "arr", "plan"]
    )
    ev = st.tuples(
        st.sampled_from(ids),
        st.integers(0, 200),
        st.integers(0, 23),
        st.sampled_from(EVENT_TYPES),
        st.sampled_from(["u1", "u2", None]),
    )
    events = pd.DataFrame(
        [(a, at(d, h), t, u) for a, d, h, t, u in draw(st.lists(ev, max_size=40))],
        columns=["account_id", "occurred_at", "event_type", "user_id"],
    )
    tk = st.tuples(
        st.sampled_from(ids),
        st.integers(0, 200),
        st.one_of(st.none(), st.integers(0, 20)),
        st.sampled_from(["low", "high"]),
        st.one_of(st.none(), st.integers(1, 5)),
    )
    tickets = pd.DataFrame(
        [
            (a, at(d), None if c is None else at(d + c, 3), p, None if s is None else float(s))
            for a, d, c, p, s in draw(st.lists(tk, max_size=8))
        ],
        columns=["account_id", "opened_at", "closed_at", "priority", "csat"],
    )
    pm = st.tuples(
        st.sampled_from(ids),
        st.integers(0, 200),
        st.sampled_from(["succeeded", "failed", "refunded"]),
        st.sampled_from(["Stripe", "Zeta", None]),
    )
    payments = pd.DataFrame(
        [(a, at(d), 10.0, s, g) for a, d, s, g in draw(st.lists(pm, max_size=10))],
        columns=["account_id", "attempted_at", "amount", "status", "gateway"],
    )
    sv = st.tuples(st.sampled_from(ids), st.integers(0, 200), st.integers(0, 10))
    surveys = pd.DataFrame(
        [(a, at(d), float(s)) for a, d, s in draw(st.lists(sv, max_size=6))],
        columns=["account_id", "responded_at", "score"],
    )
    ob = [
        (a, m, at(draw(st.integers(0, 200))))
        for a in ids
        for m in draw(st.sets(st.sampled_from(MILESTONES), max_size=4))
    ]
    onboarding = pd.DataFrame(ob, columns=["account_id", "milestone", "completed_at"])
    return {
        "accounts": accounts,
        "subscriptions": subscriptions,
        "onboarding": onboarding,
        "events": events,
        "tickets": tickets,
        "payments": payments,
        "surveys": surveys,
    }


def matrix(frames):
    tables = make_tables({k: v for k, v in frames.items() if len(v)})
    snaps = build_snapshots(
        tables, SnapshotConfig(horizon_days=30), as_of=AS_OF, data_end=pd.Timestamp("2024-08-01")
    )
    return build_features(tables, snaps, FeatureConfig(windows=[7, 30]))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.integers(0, 2**16))
def test_features_do_not_depend_on_row_order(frames, seed):
    rng = np.random.default_rng(seed)
    first = matrix(frames)
    shuffled = {
        name: df.iloc[rng.permutation(len(df))].reset_index(drop=True)
        for name, df in frames.items()
    }
    again = matrix(shuffled)
    pd.testing.assert_frame_equal(first, again)
    assert first.attrs["event_types"] == again.attrs["event_types"]
