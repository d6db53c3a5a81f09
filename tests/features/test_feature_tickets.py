"""Tickets family: windows, trend, priority, backlog, resolution and CSAT known at as_of."""

import numpy as np
import pytest

from churnseg.features.tickets import ticket_activity


def test_ticket_features(world_tables, keys, indexed):
    k = indexed(ticket_activity(world_tables, keys(), (7, 30, 90), 30, ("high", "urgent")))
    a = k.loc["A"]
    # 03-28 | 03-10 | 02-01 (exactly 60 days: the prior 30) ; 04-01 is at as_of
    assert (a["tickets_7d"], a["tickets_30d"], a["tickets_90d"]) == (1, 2, 3)
    assert a["tickets_trend_30d"] == pytest.approx((2 - 1) / 1)
    assert a["high_priority_tickets_90d"] == 2
    assert a["open_tickets"] == 2  # closed after as_of, never closed
    assert a["median_resolution_days_90d"] == pytest.approx(1.5)
    assert a["mean_csat_90d"] == pytest.approx(3.0)  # the CSAT given after as_of is unknown
    b, c = k.loc["B"], k.loc["C"]
    assert (b["tickets_90d"], b["open_tickets"]) == (0, 0) and np.isnan(b["mean_csat_90d"])
    assert (c["tickets_7d"], c["open_tickets"]) == (1, 1)
    assert np.isnan(c["median_resolution_days_90d"]) and np.isnan(c["tickets_trend_30d"])
    assert k["tickets_7d"].dtype == "int64"


def test_optional_columns_absent(world, tables_of, keys):
    world["tickets"] = world["tickets"][["account_id", "opened_at"]]
    k = ticket_activity(tables_of(world), keys(), (7, 30, 90), 30)
    assert list(k.columns) == [
        "account_id",
        "as_of",
        "tickets_7d",
        "tickets_30d",
        "tickets_90d",
        "tickets_trend_30d",
    ]
