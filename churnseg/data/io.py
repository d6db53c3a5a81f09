"""Table I/O: open the contract tables as DuckDB views, write outputs atomically.

Reading never copies data: every table becomes a DuckDB view (`raw_<table>`) over the user's
Parquet/CSV files or DuckDB database, with the user's column names mapped onto the contract.
`churnseg.data.contract.validate` then adds the clean, typed views the features are built from.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from churnseg.config import DataConfig, TableSource
from churnseg.data.contract import TABLES

log = logging.getLogger(__name__)


class DataContractError(ValueError):
    """Input breaks the contract in a way no quarantine can fix (missing table/column, empty)."""


@dataclass
class Tables:
    """The contract tables available to a run, as views on one DuckDB connection.

    Attributes:
        con: the connection holding the views; raw views are `raw_<table>`, clean views (after
            validation) are named after the table itself.
        present: contract tables found in the source.
        origins: table -> where it was read from (for error messages).
        source_columns: table -> {contract column: source column} actually used.
        extra_columns: table -> non-contract source columns carried along (accounts only).
        validated: whether clean views exist (set by `contract.validate`).
    """

    con: duckdb.DuckDBPyConnection
    present: tuple[str, ...]
    origins: dict[str, str]
    source_columns: dict[str, dict[str, str]] = field(default_factory=dict)
    extra_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    validated: bool = False

    def has(self, table: str) -> bool:
        return table in self.present

    def columns(self, table: str) -> tuple[str, ...]:
        """Contract columns present in `table` (plus carried extra columns)."""
        return tuple(self.source_columns.get(table, {})) + self.extra_columns.get(table, ())

    def frame(self, table: str, where: str | None = None) -> pd.DataFrame:
        """A table (clean view if validated, else raw) as pandas; for small tables and tests."""
        name = table if self.validated else f"raw_{table}"
        query = f'SELECT * FROM "{name}"' + (f" WHERE {where}" if where else "")
        return self.con.sql(query).df()

    def sql(self, query: str, params: list | None = None) -> pd.DataFrame:
        return self.con.execute(query, params or []).df()


def connect(
    threads: int | None = None, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection in UTC, optionally capped in threads and memory."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    return con


def open_tables(cfg: DataConfig, con: duckdb.DuckDBPyConnection | None = None) -> Tables:
    """Open every contract table found at `cfg.root` (or in `cfg.database`) as a raw view.

    Raises:
        DataContractError: a mapped required column is missing, naming table, column and file.
    """
    con = con or connect()
    present: list[str] = []
    origins: dict[str, str] = {}
    if cfg.database is not None:
        if not Path(cfg.database).exists():
            raise DataContractError(f"DuckDB database not found: {cfg.database}")
        con.execute(f"ATTACH '{_sql_str(str(cfg.database))}' AS src (READ_ONLY)")
        db_tables = {r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src' "
            "UNION SELECT view_name FROM duckdb_views() WHERE database_name = 'src'"
        ).fetchall()}
    for name in TABLES:
        src = cfg.source(name)
        if cfg.database is not None:
            db_name = src.table or name
            if db_name not in db_tables:
                continue
            relation = f'src.main."{db_name}"'
            origins[name] = f"{cfg.database}:{db_name}"
        else:
            found = _find_files(Path(cfg.root), name, src.path)
            if found is None:
                continue
            relation, origins[name] = found
        con.execute(
            f'CREATE OR REPLACE TEMP VIEW "_src_{name}" AS '
            f"SELECT *, row_number() OVER () AS _row FROM {relation}"
        )
        present.append(name)
    tables = Tables(con=con, present=tuple(present), origins=origins)
    for name in present:
        _map_columns(tables, name, cfg)
    return tables


def tables_from_frames(
    frames: Mapping[str, pd.DataFrame],
    columns: Mapping[str, Mapping[str, str]] | None = None,
    extra_account_columns: tuple[str, ...] = (),
    con: duckdb.DuckDBPyConnection | None = None,
) -> Tables:
    """Tables from in-memory frames (tests, notebooks, precomputed data); frames are not mutated."""
    con = con or connect()
    unknown = sorted(set(frames) - set(TABLES))
    if unknown:
        raise DataContractError(f"unknown table(s) {unknown}; contract tables are {sorted(TABLES)}")
    present = []
    for name, df in frames.items():
        con.register(f"_frame_{name}", df)
        con.execute(
            f'CREATE OR REPLACE TEMP VIEW "_src_{name}" AS '
            f'SELECT *, row_number() OVER () AS _row FROM "_frame_{name}"'
        )
        present.append(name)
    present = [t for t in TABLES if t in present]
    tables = Tables(con=con, present=tuple(present), origins={t: f"<frame {t}>" for t in present})
    cfg = DataConfig(
        tables={t: TableSource(columns=dict(m)) for t, m in (columns or {}).items()},
        extra_account_columns=list(extra_account_columns),
    )
    for name in present:
        _map_columns(tables, name, cfg)
    return tables


def _find_files(root: Path, table: str, override: str | None) -> tuple[str, str] | None:
    """The DuckDB relation for a table's files and where it came from, or None if absent."""
    candidates = [root / override] if override else [
        root / f"{table}.parquet", root / table, root / f"{table}.csv", root / f"{table}.csv.gz",
    ]
    for path in candidates:
        if path.is_file():
            return _reader(path, [path]), str(path)
        if path.is_dir():
            parts = sorted(path.glob("*.parquet")) or sorted(path.glob("*.csv"))
            if parts:
                return _reader(path, parts), str(path)
    if override:
        raise DataContractError(f"table '{table}': configured path not found: {root / override}")
    return None


def _reader(origin: Path, files: list[Path]) -> str:
    names = ", ".join(f"'{_sql_str(str(f))}'" for f in files)
    if files[0].suffix == ".parquet":
        return f"read_parquet([{names}], union_by_name = true)"
    # all_varchar: types are decided by the contract, so a stray value quarantines one row
    # instead of changing the type DuckDB guesses for the whole column.
    return f"read_csv([{names}], header = true, all_varchar = true, union_by_name = true)"


def _map_columns(tables: Tables, name: str, cfg: DataConfig) -> None:
    """Create `raw_<name>`: the source with contract column names; fail on a missing column."""
    spec = TABLES[name]
    mapping = cfg.source(name).columns
    unknown = sorted(set(mapping) - set(spec.column_names))
    if unknown:
        raise DataContractError(
            f"table '{name}': column mapping names unknown contract column(s) {unknown}; "
            f"contract columns are {list(spec.column_names)}"
        )
    available = [r[0] for r in tables.con.execute(f'DESCRIBE "_src_{name}"').fetchall()]
    available_set = set(available) - {"_row"}
    used: dict[str, str] = {}
    for col in spec.columns:
        source = mapping.get(col.name, col.name)
        if source in available_set:
            used[col.name] = source
        elif col.required:
            mapped = f" (mapped from '{source}')" if source != col.name else ""
            raise DataContractError(
                f"table '{name}' ({tables.origins[name]}): required column '{col.name}'{mapped} "
                f"not found; columns present: {sorted(available_set)}"
            )
    extras: tuple[str, ...] = ()
    if spec.keep_extra:
        wanted = cfg.extra_account_columns
        missing = [c for c in wanted if c not in available_set]
        if missing:
            raise DataContractError(
                f"table '{name}' ({tables.origins[name]}): extra column(s) {missing} declared in "
                f"config not found; columns present: {sorted(available_set)}"
            )
        extras = tuple(c for c in wanted if c not in used.values())
    select = [f'"{src}" AS "{dst}"' for dst, src in used.items()]
    select += [f'"{c}"' for c in extras]
    tables.con.execute(
        f'CREATE OR REPLACE TEMP VIEW "raw_{name}" AS SELECT {", ".join(select)}, _row '
        f'FROM "_src_{name}"'
    )
    tables.source_columns[name] = used
    tables.extra_columns[name] = extras


def _sql_str(value: str) -> str:
    return value.replace("'", "''")


# --------------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------------
@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_parquet(df: pd.DataFrame, path: Path) -> Path:
    """Write `df` to Parquet atomically (temp file + rename); the index is not written."""
    with atomic_path(Path(path)) as tmp:
        df.to_parquet(tmp, index=False)
    return Path(path)


def write_csv(df: pd.DataFrame, path: Path, bom: bool = False) -> Path:
    """Write `df` to CSV atomically; `bom` adds a UTF-8 byte-order mark for spreadsheet software."""
    with atomic_path(Path(path)) as tmp:
        df.to_csv(tmp, index=False, encoding="utf-8-sig" if bom else "utf-8")
    return Path(path)


def write_text(text: str, path: Path) -> Path:
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
