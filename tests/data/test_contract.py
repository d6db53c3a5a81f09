"""Data contract: each kind of bad input gives the documented error or quarantine row, and the
clean rows survive."""

import json

import pandas as pd
import pytest

from churnseg.data.contract import required_tables, validate
from churnseg.data.io import DataContractError, tables_from_frames

HORIZON = pd.Timestamp("2025-01-01")


def accounts(n=3):
    return pd.DataFrame({
        "account_id": [f"a{i}" for i in range(n)],
        "created_at": pd.to_datetime(["2024-01-01"] * n),
        "region": ["EU"] * n,
    })


def subscriptions(n=3):
    return pd.DataFrame({
        "account_id": [f"a{i}" for i in range(n)],
        "started_at": pd.to_datetime(["2024-01-02"] * n),
        "ended_at": pd.to_datetime([None] * n),
        "arr": [1200.0] * n,
    })


def check(frames, **kw):
    tables = tables_from_frames(frames)
    report = validate(tables, horizon=HORIZON, **kw)
    return tables, report


def reasons(report, table):
    q = report.quarantine
    return list(q.loc[q["table"] == table, "reason"])


def test_clean_data_passes_untouched():
    tables, report = check({"accounts": accounts(), "subscriptions": subscriptions()})
    assert report.quarantine.empty
    assert len(tables.frame("subscriptions")) == 3
    assert str(tables.frame("accounts")["created_at"].dtype).startswith("datetime64")


def test_missing_required_column_names_table_column_and_source():
    subs = subscriptions().drop(columns="arr")
    with pytest.raises(DataContractError) as err:
        tables_from_frames({"accounts": accounts(), "subscriptions": subs})
    msg = str(err.value)
    assert "subscriptions" in msg and "'arr'" in msg and "<frame subscriptions>" in msg


def test_missing_required_table():
    with pytest.raises(DataContractError, match="subscriptions"):
        check({"accounts": accounts()})


def test_inactivity_needs_events_not_subscriptions():
    assert required_tables("inactivity") == ("accounts", "events")
    with pytest.raises(DataContractError, match="events"):
        check({"accounts": accounts()}, required=required_tables("inactivity"))


def test_empty_required_table_is_an_error():
    with pytest.raises(DataContractError, match="'subscriptions'.*empty"):
        check({"accounts": accounts(), "subscriptions": subscriptions().iloc[:0]})


def test_empty_optional_table_is_skipped():
    surveys = pd.DataFrame({"account_id": [], "responded_at": pd.to_datetime([]), "score": []})
    tables, report = check({"accounts": accounts(), "subscriptions": subscriptions(),
                            "surveys": surveys})
    assert report.skipped == {"surveys": "empty"} and not tables.has("surveys")


@pytest.mark.parametrize("table,mutate,expected", [
    ("surveys", lambda d: d.assign(score=[7.0, 11.0]), "score: 11.0 outside [0, 10]"),
    ("subscriptions", lambda d: d.assign(ended_at=pd.to_datetime([None, "2023-12-01", None])),
     "ended_at before started_at"),
    ("subscriptions", lambda d: d.assign(account_id=["a0", "ghost", "a2"]),
     "account_id 'ghost' not in accounts"),
    ("subscriptions", lambda d: d.assign(started_at=pd.to_datetime(["2024-01-02"] * 3),
                                         account_id=["a0", "a0", "a2"]),
     "duplicate key (account_id, started_at)"),
    ("subscriptions", lambda d: d.assign(arr=["1200", "lots", "10"]), "arr: not a number (lots)"),
    ("subscriptions", lambda d: d.assign(started_at=["2024-01-02", "yesterday", "2024-01-02"]),
     "started_at: not a timestamp (yesterday)"),
    ("subscriptions", lambda d: d.assign(started_at=pd.to_datetime(["2024-01-02", "2030-01-01",
                                                                    "2024-01-02"])),
     "started_at: after the data horizon 2025-01-01"),
    ("payments", lambda d: d.assign(status=["succeeded", "bounced"]),
     "status: 'bounced' not one of succeeded/failed/refunded"),
])
def test_bad_rows_are_quarantined_with_reason(table, mutate, expected):
    frames = {
        "accounts": accounts(),
        "subscriptions": subscriptions(),
        "surveys": pd.DataFrame({"account_id": ["a0", "a1"], "score": [7.0, 8.0],
                                 "responded_at": pd.to_datetime(["2024-02-01"] * 2)}),
        "payments": pd.DataFrame({"account_id": ["a0", "a1"], "amount": [100.0, 100.0],
                                  "attempted_at": pd.to_datetime(["2024-02-01"] * 2),
                                  "status": ["succeeded", "failed"]}),
    }
    frames[table] = mutate(frames[table])
    before = len(frames[table])
    tables, report = check(frames)
    got = reasons(report, table)
    assert len(got) == 1 and expected in got[0]
    # the clean rows survive, nothing is silently dropped
    assert len(tables.frame(table)) == before - 1
    row = report.quarantine.iloc[0]
    assert row["source"] == f"<frame {table}>" and json.loads(row["record"])["account_id"]


def test_duplicate_account_keeps_first_and_quarantines_rest():
    acc = pd.concat([accounts(), accounts(1).assign(region="US")], ignore_index=True)
    tables, report = check({"accounts": acc, "subscriptions": subscriptions()})
    assert reasons(report, "accounts") == ["duplicate key (account_id)"]
    kept = tables.frame("accounts").set_index("account_id")
    assert kept.loc["a0", "region"] == "EU"


def test_wrong_dtype_column_quarantines_every_row_and_fails_required_table():
    acc = accounts().assign(created_at=[True, False, True])
    with pytest.raises(DataContractError, match="accounts.*all 3 rows"):
        check({"accounts": acc, "subscriptions": subscriptions()})


def test_several_reasons_on_one_row_are_all_reported():
    subs = subscriptions().assign(arr=[-5.0, 1.0, 1.0],
                                  ended_at=pd.to_datetime(["2023-01-01", None, None]))
    _, report = check({"accounts": accounts(), "subscriptions": subs})
    (reason,) = reasons(report, "subscriptions")
    assert "arr: -5.0 outside [0, inf]" in reason and "ended_at before started_at" in reason


def test_inputs_are_not_mutated():
    subs = subscriptions().assign(arr=["1", "x", "3"])
    copy = subs.copy()
    check({"accounts": accounts(), "subscriptions": subs})
    pd.testing.assert_frame_equal(subs, copy)


def test_timezone_aware_input_is_converted_to_utc():
    acc = accounts().assign(created_at=pd.to_datetime(["2024-01-01 12:00"] * 3)
                            .tz_localize("Europe/Berlin"))
    tables, _ = check({"accounts": acc, "subscriptions": subscriptions()})
    assert tables.frame("accounts")["created_at"].iloc[0] == pd.Timestamp("2024-01-01 11:00")
