"""CRM export: stable columns, one row per account, formula injection neutralised, deterministic."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from churnseg.report import export as ex
from tests.report.test_html import IMG_ID, SCRIPT_ID, synthetic_report_inputs


@pytest.fixture(scope="module")
def hostile():
    return synthetic_report_inputs(300, seed=2, hostile=True).priority


def read_back(data: bytes) -> list[dict[str, str]]:
    text = data.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_columns_are_the_documented_stable_list(hostile):
    frame = ex.crm_frame(hostile)
    assert list(frame.columns) == list(ex.CRM_COLUMNS)
    assert ex.CRM_COLUMNS[:3] == ("account_id", "priority_rank", "churn_probability")
    for name in ex.CRM_COLUMNS:  # every column is documented in the module's table
        assert f"| {name} |" in ex.__doc__ or (
            name.startswith("reason_") and "| reason_1 .. reason_3 |" in ex.__doc__
        )


def test_one_row_per_account_in_rank_order(hostile):
    rows = read_back(ex.crm_csv(hostile.sample(frac=1.0, random_state=0)))
    assert len(rows) == len(hostile)
    assert [int(r["priority_rank"]) for r in rows] == list(range(1, len(hostile) + 1))
    assert rows[0]["as_of"] == "2024-06-01"
    assert rows[0]["model_version"] == "7"
    first = hostile.sort_values("priority_rank").iloc[0]
    assert float(rows[0]["churn_probability"]) == pytest.approx(first["probability"], abs=5e-5)
    assert rows[0]["renewal_window"] == first["segment_renewal"]


@pytest.mark.parametrize(
    "value", ["=1+2", "+SUM(1,2)", "-2+3; @SUM(A1)", "@cmd", "\tx", "\rx", '=HYPERLINK("http://x")']
)
def test_formula_cells_are_neutralised(value):
    assert ex.neutralise_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["-12.5", "+3", "1e-3", "plain", "", "a=b", 3.5, -2, None])
def test_safe_cells_are_unchanged(value):
    assert ex.neutralise_cell(value) == value


def test_hostile_export_has_no_live_formula(hostile):
    rows = read_back(ex.crm_csv(hostile))
    texts = [
        v
        for r in rows
        for k, v in r.items()
        if k not in ex.NUMERIC_DECIMALS and k != "priority_rank"
    ]
    live = [
        v
        for v in texts
        if v[:1] in ("=", "+", "-", "@", "\t", "\r") and not ex._PLAIN_NUMBER.fullmatch(v)
    ]
    assert live == []
    ids = {r["account_id"] for r in rows}
    assert '\'=HYPERLINK("http://x")' in ids and "'+SUM(1,2)" in ids and "'@cmd" in ids
    assert SCRIPT_ID in ids and IMG_ID in ids  # HTML is harmless in a CSV: kept as is
    assert any(r["reason_3"] == "'=1+2" for r in rows)
    assert any(r["triggers"] == "'-2+3; @SUM(A1)" for r in rows)


def test_negative_numbers_stay_numbers():
    p = pd.DataFrame(
        {
            "account_id": ["a", "b"],
            "priority_rank": [1, 2],
            "probability": [0.5, 0.25],
            "arr": [-100.0, 50.0],
            "expected_arr_at_risk": [-50.0, 12.5],
            "priority_score": [-50.0, 12.5],
        }
    )
    frame = ex.crm_frame(p)
    assert frame["arr"].tolist() == [-100.0, 50.0]
    assert pd.api.types.is_float_dtype(frame["arr"])
    text = ex.crm_csv(p).decode()
    assert "\na,1,0.5,,-100.0," in text


def test_bom_option_and_utf8():
    p = pd.DataFrame({"account_id": ["café-ü"], "priority_rank": [1], "probability": [0.1]})
    plain, bom = ex.crm_csv(p), ex.crm_csv(p, bom=True)
    assert not plain.startswith(b"\xef\xbb\xbf") and bom.startswith(b"\xef\xbb\xbf")
    assert bom[3:] == plain
    assert "café-ü" in plain.decode("utf-8")


def test_deterministic_and_inputs_not_mutated(hostile):
    before = hostile.copy()
    a = ex.crm_csv(hostile)
    b = ex.crm_csv(hostile.iloc[::-1])
    assert a == b
    assert b"\r\n" not in a.replace(b'"\r', b"")  # \n line endings (CR only inside a quoted cell)
    pd.testing.assert_frame_equal(hostile, before)


def test_missing_optional_columns_export_empty_and_required_fail():
    p = pd.DataFrame(
        {"account_id": ["x", "y"], "priority_rank": [2, 1], "probability": [0.1, np.nan]}
    )
    rows = read_back(ex.crm_csv(p))
    assert [r["account_id"] for r in rows] == ["y", "x"]
    assert rows[0]["churn_probability"] == "" and rows[0]["region"] == "" and rows[0]["as_of"] == ""
    with pytest.raises(ValueError, match="probability"):
        ex.crm_frame(p.drop(columns="probability"))


def test_categorical_and_pandas_string_columns():
    p = pd.DataFrame(
        {
            "account_id": pd.array(["=a", "b"], dtype="string"),
            "priority_rank": [1, 2],
            "probability": [0.1, 0.2],
            "owner": pd.Categorical(["@q", "none"]),
            "segment_region": [None, "NA"],
        }
    )
    rows = read_back(ex.crm_csv(p))
    assert [r["account_id"] for r in rows] == ["'=a", "b"]
    assert [r["owner"] for r in rows] == ["'@q", "none"]
    assert [r["region"] for r in rows] == ["", "NA"]
