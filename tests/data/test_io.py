"""Table I/O: folders of Parquet or CSV, DuckDB databases, column mapping, atomic writes."""

import duckdb
import pandas as pd
import pytest

from churnseg.config import DataConfig, TableSource
from churnseg.data import io
from churnseg.data.contract import validate
from churnseg.data.io import DataContractError, open_tables

ACCOUNTS = pd.DataFrame({"account_id": ["a", "b"],
                         "created_at": pd.to_datetime(["2024-01-01", "2024-02-01"]),
                         "tier": ["gold", "silver"]})
SUBS = pd.DataFrame({"merchant": ["a", "b"], "start": pd.to_datetime(["2024-01-02"] * 2),
                     "ended_at": pd.to_datetime([None, None]), "arr": [10.0, 20.0]})
MAPPING = {"subscriptions": TableSource(columns={"account_id": "merchant", "started_at": "start"})}


def test_parquet_folder_with_column_mapping_and_extra_columns(tmp_path):
    ACCOUNTS.to_parquet(tmp_path / "accounts.parquet")
    (tmp_path / "subscriptions").mkdir()
    SUBS.iloc[:1].to_parquet(tmp_path / "subscriptions" / "part-0.parquet")
    SUBS.iloc[1:].to_parquet(tmp_path / "subscriptions" / "part-1.parquet")
    cfg = DataConfig(root=tmp_path, tables=MAPPING, extra_account_columns=["tier"])
    tables = open_tables(cfg)
    validate(tables, horizon="2025-01-01")
    assert tables.present == ("accounts", "subscriptions")
    subs = tables.frame("subscriptions")
    assert list(subs["account_id"]) == ["a", "b"] and "started_at" in subs
    assert list(tables.frame("accounts")["tier"]) == ["gold", "silver"]


def test_csv_files_are_typed_by_the_contract(tmp_path):
    ACCOUNTS.to_csv(tmp_path / "accounts.csv", index=False)
    SUBS.assign(arr=["10", "oops"]).to_csv(tmp_path / "subscriptions.csv", index=False)
    tables = open_tables(DataConfig(root=tmp_path, tables=MAPPING))
    report = validate(tables, horizon="2025-01-01")
    assert report.quarantine["reason"].tolist() == ["arr: not a number (oops)"]
    assert report.quarantine["source"].iloc[0].endswith("subscriptions.csv")
    assert tables.frame("subscriptions")["arr"].tolist() == [10.0]


def test_duckdb_database(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(db))
    con.register("acc", ACCOUNTS)
    con.register("subs", SUBS)
    con.execute("CREATE TABLE accounts AS SELECT * FROM acc")
    con.execute("CREATE TABLE subs_table AS SELECT * FROM subs")
    con.close()
    mapping = {"subscriptions": TableSource(table="subs_table", columns=MAPPING[
        "subscriptions"].columns)}
    tables = open_tables(DataConfig(database=db, tables=mapping))
    validate(tables, horizon="2025-01-01")
    assert len(tables.frame("subscriptions")) == 2


def test_missing_mapped_column_names_the_file(tmp_path):
    ACCOUNTS.to_parquet(tmp_path / "accounts.parquet")
    SUBS.to_parquet(tmp_path / "subscriptions.parquet")
    with pytest.raises(DataContractError) as err:
        open_tables(DataConfig(root=tmp_path))
    msg = str(err.value)
    assert "'account_id'" in msg and "subscriptions.parquet" in msg and "merchant" in msg


def test_atomic_write_keeps_previous_file_on_failure(tmp_path):
    target = tmp_path / "out.parquet"
    io.write_parquet(pd.DataFrame({"x": [1]}), target)
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            tmp.write_text("half written")
            raise RuntimeError("crash")
    assert pd.read_parquet(target)["x"].tolist() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]
