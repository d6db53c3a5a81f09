"""The scoring output contract rejects malformed lists."""

import pandas as pd
import pandera.pandas as pa
import pytest

from churnseg.scoring.schema import check_priority


def ranked():
    return pd.DataFrame({
        "priority_rank": [1, 2], "account_id": ["a", "b"], "probability": [0.4, 0.1],
        "arr": [100.0, 50.0], "ltv": [300.0, 200.0], "expected_arr_at_risk": [40.0, 5.0],
        "priority_score": [40.0, 5.0], "risk_tier": ["high", "medium"],
        "value_tier": ["small", "small"], "owner": ["automated_campaign", "none"],
        "playbook": ["payment_fix", "monitor"], "primary_driver": ["payments", "none"],
        "reason_1": ["3 failed payments in the last 30 days", ""],
    })


def test_valid_list_passes():
    assert len(check_priority(ranked())) == 2


def test_pinned_accounts_may_precede_higher_scores():
    assert len(check_priority(ranked().assign(priority_score=[5.0, 40.0], pinned=[True, False])))


@pytest.mark.parametrize("change", [
    {"probability": [1.4, 0.1]},
    {"account_id": ["a", "a"]},
    {"priority_score": [5.0, 40.0]},
    {"priority_score": [5.0, 40.0], "pinned": [False, False]},
    {"pinned": [False, True]},
])
def test_malformed_lists_are_rejected(change):
    with pytest.raises(pa.errors.SchemaErrors):
        check_priority(ranked().assign(**change))
