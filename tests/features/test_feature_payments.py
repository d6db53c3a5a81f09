"""Payments family: failures per window, streaks, dunning, rate and gateway at as_of."""

import numpy as np
import pytest

from churnseg.features.payments import payment_failures


def test_payment_features(world_tables, keys, indexed):
    p = indexed(payment_failures(world_tables, keys(), (7, 30, 90)))
    a = p.loc["A"]
    assert (a["failed_payments_7d"], a["failed_payments_30d"], a["failed_payments_90d"]) == (
        0,
        2,
        3,
    )
    assert a["consecutive_failed_payments"] == 2  # the refund neither counts nor breaks it
    assert a["in_dunning"] == 1
    assert a["days_since_last_failed_payment"] == pytest.approx(14)
    assert a["payment_failure_rate_90d"] == pytest.approx(3 / 5)
    assert a["gateway"] == "Stripe" and a["payment_method"] == "card"  # the 03-20 refund
    b = p.loc["B"]
    assert (b["consecutive_failed_payments"], b["in_dunning"]) == (0, 0)
    assert b["payment_failure_rate_90d"] == 0.0
    assert np.isnan(b["days_since_last_failed_payment"])
    c = p.loc["C"]
    assert (c["failed_payments_30d"], c["failed_payments_90d"]) == (0, 2)
    assert c["consecutive_failed_payments"] == 2 and c["payment_failure_rate_90d"] == 1.0
    # two attempts at the same instant: each column takes the first name in order
    assert c["gateway"] == "Alpha" and c["payment_method"] == "card"
    assert str(p["gateway"].dtype) == "category"


def test_no_gateway_column(world, tables_of, keys):
    world["payments"] = world["payments"].drop(columns=["gateway", "method"])
    p = payment_failures(tables_of(world), keys(), (30,))
    assert "gateway" not in p.columns and "payment_method" not in p.columns
    assert p["failed_payments_30d"].tolist() == [2, 0, 0]
