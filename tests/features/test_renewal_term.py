"""days_to_renewal rolls a stale renewal date forward by the inferred billing term."""

import pandas as pd

from churnseg.data.contract import validate
from churnseg.data.io import tables_from_frames
from churnseg.features.account import subscription_value


def test_monthly_and_annual_terms_roll_forward():
    accounts = pd.DataFrame({"account_id": ["m", "a", "q"],
                             "created_at": pd.to_datetime(["2024-01-01"] * 3)})
    subs = pd.DataFrame({
        "account_id": ["m", "a", "q"],
        "started_at": pd.to_datetime(["2024-01-10", "2024-01-10", "2024-01-10"]),
        "ended_at": pd.to_datetime([None, None, None]),
        "arr": [100.0, 1000.0, 500.0],
        "renews_at": pd.to_datetime(["2024-02-10", "2025-01-10", "2024-04-10"]),
    })
    tables = tables_from_frames({"accounts": accounts, "subscriptions": subs})
    validate(tables, horizon="2025-12-31")
    snaps = pd.DataFrame({"account_id": ["m", "a", "q"],
                          "as_of": pd.to_datetime(["2024-06-01"] * 3)})
    out = subscription_value(tables, snaps).set_index("account_id")
    assert out.loc["m", "renewal_term_months"] == 1 and out.loc["m", "days_to_renewal"] == 9
    assert out.loc["a", "renewal_term_months"] == 12 and out.loc["a", "days_to_renewal"] == 223
    assert out.loc["q", "renewal_term_months"] == 3 and out.loc["q", "days_to_renewal"] == 39


def test_amendment_rows_keep_the_contract_term():
    """A mid-term plan change starts a row whose gap to the renewal is a fraction of the term:
    the contract stays annual (not 'quarterly'), and its renewal date is the anniversary."""
    accounts = pd.DataFrame({"account_id": ["a"], "created_at": pd.to_datetime(["2024-01-01"])})
    subs = pd.DataFrame({
        "account_id": ["a", "a"],
        "started_at": pd.to_datetime(["2024-01-10", "2024-10-20"]),
        "ended_at": pd.to_datetime(["2024-10-20", None]),
        "arr": [1000.0, 2000.0],
        "renews_at": pd.to_datetime(["2025-01-10", "2025-01-10"]),
    })
    tables = tables_from_frames({"accounts": accounts, "subscriptions": subs})
    validate(tables, horizon="2026-12-31")
    snaps = pd.DataFrame({"account_id": ["a", "a"],
                          "as_of": pd.to_datetime(["2024-12-01", "2025-03-01"])})
    out = subscription_value(tables, snaps)
    assert out["renewal_term_months"].tolist() == [12, 12]
    # 2024-12-01 -> 2025-01-10; after the stale date passes, the next anniversary 2026-01-10
    assert out["days_to_renewal"].tolist() == [40, 315]
