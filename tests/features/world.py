"""A hand-built 3-account world with known feature values at AS_OF (2024-04-01 00:00 UTC).

A: activated merchant on a plan upgrade, busy, with tickets, failing payments and a falling NPS;
   its subscription ends 2024-05-10 (churn 39 days after AS_OF).
B: created 12 days before AS_OF, one milestone, no usage at all, one successful payment.
C: old account, dropped out of onboarding, silent in the last 90 days, whose subscription ends
   2024-04-20 and is renewed 15 days later at a lower ARR (grace period: not churn; downgrade).
Rows stamped exactly at AS_OF or later exist in every table and must never count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnseg.data.contract import TABLES, validate
from churnseg.data.io import Tables, tables_from_frames

AS_OF = pd.Timestamp("2024-04-01")
DATA_END = pd.Timestamp("2024-09-01")
HORIZON = pd.Timestamp("2025-12-31")

T = pd.Timestamp
NaT = pd.NaT


def world_frames() -> dict[str, pd.DataFrame]:
    """Fresh frames of the 3-account world (tests may modify their copy)."""
    accounts = pd.DataFrame(
        {
            "account_id": ["A", "B", "C"],
            "created_at": [T("2024-01-01"), T("2024-03-20"), T("2023-06-01")],
            "region": ["EMEA", "LATAM", "North America"],
            "country": ["DE", "BR", "US"],
            "acquisition_channel": ["organic", "paid", "partner"],
            "industry": ["fashion", "food", "electronics"],
            "employees": [10, 3, 250],
        }
    )
    subscriptions = pd.DataFrame(
        {
            "account_id": ["A", "A", "B", "C", "C"],
            "started_at": [
                T("2024-01-01"),
                T("2024-02-15"),
                T("2024-03-20"),
                T("2023-06-01"),
                T("2024-05-05"),
            ],
            "ended_at": [T("2024-02-15"), T("2024-05-10"), NaT, T("2024-04-20"), NaT],
            "arr": [1200.0, 2400.0, 600.0, 5000.0, 3000.0],
            "plan": ["basic", "pro", "basic", "enterprise", "pro"],
            "seats": [2, 5, 1, 20, 10],
            "renews_at": [
                T("2025-01-01"),
                T("2025-02-15"),
                T("2025-03-20"),
                T("2024-06-01"),
                T("2025-05-05"),
            ],
        }
    )
    onboarding = pd.DataFrame(
        {
            "account_id": ["A", "A", "A", "A", "B", "B", "C"],
            "milestone": [
                "store_configured",
                "products_imported",
                "payment_gateway_connected",
                "first_order",
                "store_configured",
                "products_imported",
                "store_configured",
            ],
            "completed_at": [
                T("2024-01-02"),
                T("2024-01-05"),
                T("2024-01-10"),
                T("2024-01-20"),
                T("2024-03-21 12:00"),
                AS_OF,
                T("2023-06-02"),
            ],
        }
    )
    events = pd.DataFrame(
        [
            ("A", "2024-03-31 10:00", "login", "u1", None),
            ("A", "2024-03-30 10:00", "login", "u1", None),
            ("A", "2024-03-25 10:00", "login", "u1", None),
            ("A", "2024-03-02 00:00", "login", "u1", None),  # exactly 30 days before: in 30d
            ("A", "2024-03-01 00:00", "login", "u1", None),
            ("A", "2024-02-15 12:00", "login", "u1", None),
            ("A", "2024-03-20 09:00", "feature_discounts", "u2", 1.0),
            ("A", "2024-01-10 08:00", "feature_analytics", "u1", 1.0),
            ("A", "2024-03-28 15:00", "order", None, 2.0),
            ("A", "2024-02-20 15:00", "order", None, 1.0),
            ("A", "2024-02-25 12:00", "order", None, 1.0),
            ("A", "2024-04-01 00:00", "login", "u9", None),  # at AS_OF: excluded
            ("A", "2024-04-02 00:00", "feature_email_campaigns", "u3", 1.0),  # after: excluded
            ("C", "2023-12-01 00:00", "login", "c1", None),
            ("C", "2023-12-20 00:00", "order", None, 1.0),
            ("C", "2023-10-01 00:00", "feature_inventory_sync", "c1", 1.0),
            ("C", "2024-05-01 00:00", "login", "c1", None),  # after: excluded
        ],
        columns=["account_id", "occurred_at", "event_type", "user_id", "quantity"],
    ).assign(occurred_at=lambda d: pd.to_datetime(d["occurred_at"]))
    tickets = pd.DataFrame(
        [
            ("A", "2024-03-28", "2024-03-29", "high", "billing", 4.0),
            ("A", "2024-03-10", "2024-03-12", "low", "how_to", 2.0),
            ("A", "2024-02-01", "2024-04-05", "urgent", "technical", 5.0),  # closed after AS_OF
            ("A", "2023-11-01", None, "normal", "technical", None),  # still open
            ("A", "2024-04-01", "2024-04-02", "urgent", "billing", 1.0),  # at AS_OF: excluded
            ("C", "2024-03-31", None, "normal", "billing", None),
        ],
        columns=["account_id", "opened_at", "closed_at", "priority", "category", "csat"],
    ).assign(
        opened_at=lambda d: pd.to_datetime(d["opened_at"]),
        closed_at=lambda d: pd.to_datetime(d["closed_at"]),
    )
    payments = pd.DataFrame(
        [
            ("A", "2024-01-15", 100.0, "succeeded", None, "Stripe", "card"),
            ("A", "2024-02-15", 200.0, "failed", "insufficient_funds", "Stripe", "card"),
            ("A", "2024-02-18", 200.0, "succeeded", None, "Stripe", "card"),
            ("A", "2024-03-15", 200.0, "failed", "card_expired", "PayFlow", "card"),
            ("A", "2024-03-18", 200.0, "failed", "card_expired", "PayFlow", "card"),
            ("A", "2024-03-20", 50.0, "refunded", None, "Stripe", "card"),
            ("A", "2024-04-01", 200.0, "succeeded", None, "Zeta", "wire"),  # at AS_OF: excluded
            ("A", "2024-04-05", 200.0, "succeeded", None, "Stripe", "card"),
            ("B", "2024-03-20", 50.0, "succeeded", None, "Stripe", "card"),
            ("C", "2024-03-01", 400.0, "failed", "do_not_honor", "Zeta", "card"),
            ("C", "2024-03-01", 400.0, "failed", "do_not_honor", "Alpha", "sepa"),  # same instant
        ],
        columns=[
            "account_id",
            "attempted_at",
            "amount",
            "status",
            "failure_code",
            "gateway",
            "method",
        ],
    ).assign(attempted_at=lambda d: pd.to_datetime(d["attempted_at"]))
    surveys = pd.DataFrame(
        [
            ("A", "2024-01-10", 9.0, "love it"),
            ("A", "2024-03-10", 6.0, "payments keep failing"),
            ("B", "2024-04-01", 0.0, None),  # at AS_OF: excluded
            ("C", "2023-09-01", 8.0, None),
            ("C", "2023-09-01", 10.0, None),  # same instant: the lower score counts as the latest
        ],
        columns=["account_id", "responded_at", "score", "comment"],
    ).assign(responded_at=lambda d: pd.to_datetime(d["responded_at"]))
    return {
        "accounts": accounts,
        "subscriptions": subscriptions,
        "onboarding": onboarding,
        "events": events,
        "tickets": tickets,
        "payments": payments,
        "surveys": surveys,
    }


def make_tables(
    frames: dict[str, pd.DataFrame],
    columns: dict | None = None,
    required: tuple[str, ...] = ("accounts", "subscriptions"),
    extra_account_columns: tuple[str, ...] = (),
) -> Tables:
    tables = tables_from_frames(
        frames, columns=columns, extra_account_columns=extra_account_columns
    )
    report = validate(tables, horizon=HORIZON, required=required)
    assert report.quarantine.empty, report.quarantine.to_dict("records")
    return tables


def censored(frames: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The world as it was known just before `as_of`: rows stamped at or after it deleted,
    later closing stamps (and what they reveal: CSAT) not known yet."""
    out = {}
    for name, df in frames.items():
        spec = TABLES[name]
        kept = df[df[spec.time_column] < as_of].copy()
        if name == "subscriptions":
            kept.loc[kept["ended_at"] >= as_of, "ended_at"] = NaT
        if name == "tickets":
            late = kept["closed_at"] >= as_of
            kept.loc[late, "csat"] = np.nan
            kept.loc[late, "closed_at"] = NaT
        out[name] = kept.reset_index(drop=True)
    return out


def scrambled(
    frames: dict[str, pd.DataFrame], as_of: pd.Timestamp, seed: int = 0
) -> dict[str, pd.DataFrame]:
    """Every row stamped at or after `as_of` shuffled: accounts, types, values and stamps
    (still at or after as_of); later closing stamps redrawn (still after as_of); all rows
    shuffled in order. Nothing known before as_of changes."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, df in frames.items():
        df = df.copy()
        if name == "accounts":
            out[name] = df.sample(frac=1, random_state=seed).reset_index(drop=True)
            continue
        time_col = TABLES[name].time_column
        late = (df[time_col] >= as_of).to_numpy()
        idx = np.flatnonzero(late)
        for col in df.columns:
            if col == time_col or name == "subscriptions" and col == "started_at":
                continue
            if len(idx) > 1 and col not in ("ended_at", "closed_at"):
                df.loc[idx, col] = df.loc[rng.permutation(idx), col].to_numpy()
        if len(idx):
            df.loc[idx, time_col] = as_of + pd.to_timedelta(
                rng.integers(0, 90 * 24, len(idx)), unit="h"
            )
        for col in ("ended_at", "closed_at"):
            if col in df.columns:
                later = (df[col] >= as_of).to_numpy()
                start = df[time_col].where(df[time_col] > as_of, as_of)
                shift = pd.to_timedelta(rng.integers(1, 60 * 24, len(df)), unit="h")
                df.loc[later, col] = (start + shift)[later]
        if name == "tickets":
            late_close = (df["closed_at"] >= as_of).to_numpy()
            df.loc[late_close, "csat"] = rng.integers(1, 6, late_close.sum()).astype(float)
        if name == "events":
            df.loc[idx, "event_type"] = rng.choice(["login", "never_seen", "order"], len(idx))
        out[name] = df.sample(frac=1, random_state=seed).reset_index(drop=True)
    return out


def by_account(df: pd.DataFrame) -> pd.DataFrame:
    return df.set_index("account_id")
