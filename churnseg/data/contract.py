"""The data contract: the eight input tables, their columns, types, allowed values and rules.

One specification drives everything: the DuckDB SQL checks that split each table into clean rows
and a quarantine (rows with the reason they were rejected), and the pandera schemas used to check
frames in memory. Row-level checks run in DuckDB because event tables reach tens of millions of
rows, where a pandas/pandera pass would be slow and memory hungry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import pandas as pd

if TYPE_CHECKING:
    from churnseg.data.io import Tables

Kind = Literal["string", "timestamp", "float", "int"]


@dataclass(frozen=True)
class Column:
    """One contract column.

    Attributes:
        name: contract name.
        kind: logical type; values that do not parse as it are quarantined.
        required: the column must exist in the source (optional columns may be absent).
        nullable: nulls are allowed in the column when present.
        allowed: the only values allowed (strings), if set.
        min_value / max_value: inclusive numeric bounds, if set.
    """

    name: str
    kind: Kind
    required: bool = True
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None


@dataclass(frozen=True)
class Table:
    """One contract table.

    Attributes:
        name: contract table name (also the default file name).
        columns: contract columns, required first.
        key: columns that identify a row; later duplicates are quarantined.
        time_column: the column that orders rows in time (used by point-in-time features).
        ordered_pairs: (earlier, later) timestamp columns where later >= earlier must hold.
        keep_extra: carry source columns that are not in the contract (accounts' static columns).
    """

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    time_column: str | None = None
    ordered_pairs: tuple[tuple[str, str], ...] = ()
    keep_extra: bool = False
    description: str = ""
    column_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_names", tuple(c.name for c in self.columns))

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no contract column {name!r}")

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


PAYMENT_STATUSES = ("succeeded", "failed", "refunded")
ARMS = ("treatment", "control")

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "accounts",
            (
                Column("account_id", "string"),
                Column("created_at", "timestamp"),
                Column("region", "string", required=False, nullable=True),
                Column("country", "string", required=False, nullable=True),
                Column("acquisition_channel", "string", required=False, nullable=True),
                Column("industry", "string", required=False, nullable=True),
            ),
            key=("account_id",),
            time_column="created_at",
            keep_extra=True,
            description="one row per customer (merchant) account",
        ),
        Table(
            "subscriptions",
            (
                Column("account_id", "string"),
                Column("started_at", "timestamp"),
                Column("ended_at", "timestamp", nullable=True),
                Column("arr", "float", min_value=0),
                Column("plan", "string", required=False, nullable=True),
                Column("seats", "int", required=False, nullable=True, min_value=0),
                Column("renews_at", "timestamp", required=False, nullable=True),
            ),
            key=("account_id", "started_at"),
            time_column="started_at",
            ordered_pairs=(("started_at", "ended_at"),),
            description="subscription periods; a plan or ARR change closes one row and opens the "
            "next; ended_at is null while active",
        ),
        Table(
            "onboarding",
            (
                Column("account_id", "string"),
                Column("milestone", "string"),
                Column("completed_at", "timestamp"),
            ),
            key=("account_id", "milestone"),
            time_column="completed_at",
            description="onboarding milestones completed (order and activation are config)",
        ),
        Table(
            "events",
            (
                Column("account_id", "string"),
                Column("occurred_at", "timestamp"),
                Column("event_type", "string"),
                Column("user_id", "string", required=False, nullable=True),
                Column("quantity", "float", required=False, nullable=True, min_value=0),
            ),
            time_column="occurred_at",
            description="product usage: logins, orders, feature use, any other event types",
        ),
        Table(
            "tickets",
            (
                Column("account_id", "string"),
                Column("opened_at", "timestamp"),
                Column("closed_at", "timestamp", required=False, nullable=True),
                Column("priority", "string", required=False, nullable=True),
                Column("category", "string", required=False, nullable=True),
                Column("csat", "float", required=False, nullable=True, min_value=1, max_value=5),
            ),
            time_column="opened_at",
            ordered_pairs=(("opened_at", "closed_at"),),
            description="support tickets",
        ),
        Table(
            "payments",
            (
                Column("account_id", "string"),
                Column("attempted_at", "timestamp"),
                Column("amount", "float"),
                Column("status", "string", allowed=PAYMENT_STATUSES),
                Column("failure_code", "string", required=False, nullable=True),
                Column("gateway", "string", required=False, nullable=True),
                Column("method", "string", required=False, nullable=True),
            ),
            time_column="attempted_at",
            description="payment attempts, including failures and retries",
        ),
        Table(
            "surveys",
            (
                Column("account_id", "string"),
                Column("responded_at", "timestamp"),
                Column("score", "float", min_value=0, max_value=10),
                Column("comment", "string", required=False, nullable=True),
            ),
            time_column="responded_at",
            description="NPS responses (0-10)",
        ),
        Table(
            "interventions",
            (
                Column("account_id", "string"),
                Column("started_at", "timestamp"),
                Column("playbook", "string"),
                Column("arm", "string", allowed=ARMS),
            ),
            time_column="started_at",
            description="outreach experiments: treatment/control arms of a playbook",
        ),
    )
}

REQUIRED_TABLES = ("accounts",)
"""Always required; `subscriptions` (contractual churn) or `events` (inactivity churn) as well."""


# --------------------------------------------------------------------------------------------
# Validation: one SQL pass per table -> quarantine (row + reasons) and a clean, typed view
# --------------------------------------------------------------------------------------------
FUTURE_OK = {("subscriptions", "renews_at")}
"""Timestamps that legitimately lie after the data horizon (a renewal date is a plan)."""

QUARANTINE_COLUMNS = ["table", "source", "row", "reason", "record"]


@dataclass
class ValidationReport:
    """What validation found.

    Attributes:
        quarantine: one row per rejected input row: table, source, row (1-based), reason(s),
            record (the row's original values as JSON).
        rows_in / rows_clean: per table.
        skipped: optional tables absent or empty (their feature family is skipped).
    """

    quarantine: pd.DataFrame
    rows_in: dict[str, int]
    rows_clean: dict[str, int]
    skipped: dict[str, str]

    def summary(self) -> pd.DataFrame:
        rows = []
        for t, n in self.rows_in.items():
            q = self.quarantine[self.quarantine["table"] == t]
            top = q["reason"].str.split("; ").explode().value_counts().head(3)
            rows.append({
                "table": t, "rows": n, "clean": self.rows_clean[t], "quarantined": len(q),
                "top_reasons": "; ".join(f"{r} ({c})" for r, c in top.items()),
            })
        return pd.DataFrame(rows)


def required_tables(churn_definition: str = "contractual") -> tuple[str, ...]:
    """Tables a run needs: accounts + subscriptions, or accounts + events for inactivity churn."""
    return ("accounts", "events") if churn_definition == "inactivity" else (
        "accounts", "subscriptions")


def validate(
    tables: Tables,
    horizon: datetime | pd.Timestamp | None = None,
    required: Sequence[str] = ("accounts", "subscriptions"),
    max_example_rows: int = 3,
) -> ValidationReport:
    """Check every table against the contract; create clean typed views named after the tables.

    Rows that break a rule are quarantined with the reason(s), never silently dropped. Accounts
    are validated first so that orphan checks use only clean accounts.

    Raises:
        DataContractError: a required table is missing or ends up empty, naming table and source.
    """
    from churnseg.data.io import DataContractError

    horizon_ts = pd.Timestamp(horizon if horizon is not None else pd.Timestamp.now(tz="UTC"))
    if horizon_ts.tzinfo is not None:
        horizon_ts = horizon_ts.tz_convert("UTC").tz_localize(None)
    missing = [t for t in required if not tables.has(t)]
    if missing:
        where = ", ".join(sorted(set(tables.origins.values()))) or "the data folder"
        raise DataContractError(
            f"required table(s) {missing} not found (tables found: {list(tables.present)} in "
            f"{where})"
        )
    con = tables.con
    quarantines: list[pd.DataFrame] = []
    rows_in: dict[str, int] = {}
    rows_clean: dict[str, int] = {}
    skipped: dict[str, str] = {}
    present = [t for t in TABLES if tables.has(t)]
    for name in present:
        spec = TABLES[name]
        n = con.execute(f'SELECT count(*) FROM "raw_{name}"').fetchone()[0]
        if n == 0:
            if name in required:
                raise DataContractError(
                    f"required table '{name}' ({tables.origins[name]}) is empty"
                )
            skipped[name] = "empty"
            continue
        types = {r[0]: r[1] for r in con.execute(f'DESCRIBE "raw_{name}"').fetchall()}
        typed = _typed_select(tables, spec, types)
        con.execute(f'CREATE OR REPLACE TEMP VIEW "_typed_{name}" AS SELECT {typed} '
                    f'FROM "raw_{name}"')
        reasons = _reason_exprs(tables, spec, horizon_ts)
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE "_q_{name}" AS
            SELECT _row, reason FROM (
                SELECT _row, concat_ws('; ', {", ".join(reasons)}) AS reason
                FROM ({_with_checks_source(tables, spec)})
            ) WHERE reason <> ''
        """)
        nq = con.execute(f'SELECT count(*) FROM "_q_{name}"').fetchone()[0]
        cols = ", ".join(f'"{c}"' for c in tables.columns(name))
        if nq:
            con.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS SELECT {cols} FROM '
                        f'"_typed_{name}" ANTI JOIN "_q_{name}" USING (_row)')
            quarantines.append(_quarantine_frame(tables, name))
        else:
            con.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS SELECT {cols} '
                        f'FROM "_typed_{name}"')
        rows_in[name] = int(n)
        rows_clean[name] = int(n - nq)
        if rows_clean[name] == 0 and name in required:
            first = con.execute(f'SELECT reason FROM "_q_{name}" LIMIT {max_example_rows}'
                                ).fetchall()
            raise DataContractError(
                f"required table '{name}' ({tables.origins[name]}): all {n} rows break the "
                f"contract, e.g. {[r[0] for r in first]}"
            )
    tables.present = tuple(t for t in present if t not in skipped)
    tables.validated = True
    quarantine = (pd.concat(quarantines, ignore_index=True) if quarantines
                  else pd.DataFrame(columns=QUARANTINE_COLUMNS))
    return ValidationReport(quarantine, rows_in, rows_clean, skipped)


def _typed_select(tables: Tables, spec: Table, types: dict[str, str]) -> str:
    """SELECT list casting each contract column to its kind; unparseable values become NULL."""
    out = ["_row"]
    for col in tables.columns(spec.name):
        kind = spec.column(col).kind if col in spec.column_names else None
        out.append(f'{_cast(col, kind, types.get(col, "VARCHAR"))} AS "{col}"')
        if kind is not None:
            out.append(f'"{col}" AS "{col}__raw"')
    return ", ".join(out)


def _cast(col: str, kind: str | None, source_type: str) -> str:
    q = f'"{col}"'
    st = source_type.upper()
    if kind == "timestamp":
        if st.startswith("TIMESTAMP") or st == "DATE":
            return f"CAST({q} AS TIMESTAMP)"
        return f"TRY_CAST(TRY_CAST(CAST({q} AS VARCHAR) AS TIMESTAMPTZ) AS TIMESTAMP)"
    if kind in ("float", "int"):
        target = "DOUBLE" if kind == "float" else "BIGINT"
        numeric = any(st.startswith(p) for p in (
            "DOUBLE", "FLOAT", "REAL", "DECIMAL", "INT", "BIGINT", "SMALLINT", "TINYINT",
            "HUGEINT", "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT"))
        if numeric:
            return f"CAST({q} AS {target})"
        return f"TRY_CAST(CAST({q} AS VARCHAR) AS {target})"
    if kind == "string":
        return f"CAST({q} AS VARCHAR)"
    return q


def _with_checks_source(tables: Tables, spec: Table) -> str:
    """The typed rows, with the duplicate rank and orphan flag the reason expressions need."""
    head = f"SELECT t.*, {_dup_expr(spec)} AS _dup_n"
    if spec.name == "accounts":
        return f'{head}, FALSE AS _orphan FROM "_typed_accounts" t'
    return (f'{head}, (a.account_id IS NULL) AS _orphan FROM "_typed_{spec.name}" t LEFT JOIN '
            "(SELECT DISTINCT account_id FROM accounts) a USING (account_id)")


def _dup_expr(spec: Table) -> str:
    if not spec.key:
        return "1"
    keys = ", ".join(f't."{k}"' for k in spec.key)
    return f"row_number() OVER (PARTITION BY {keys} ORDER BY t._row)"


def _reason_exprs(tables: Tables, spec: Table, horizon: pd.Timestamp) -> list[str]:
    """One SQL expression per rule, each yielding a reason string or NULL."""
    present = set(tables.columns(spec.name))
    out: list[str] = []
    for col in spec.columns:
        if col.name not in present:
            continue
        q, raw = f'"{col.name}"', f'"{col.name}__raw"'
        if not col.nullable:
            out.append(f"CASE WHEN {raw} IS NULL THEN '{col.name} is missing' END")
        if col.kind != "string":
            what = {"timestamp": "a timestamp", "float": "a number", "int": "an integer"}[col.kind]
            out.append(
                f"CASE WHEN {raw} IS NOT NULL AND {q} IS NULL THEN "
                f"'{col.name}: not {what} (' || left(CAST({raw} AS VARCHAR), 40) || ')' END"
            )
        if col.allowed:
            allowed = ", ".join(f"'{v}'" for v in col.allowed)
            out.append(
                f"CASE WHEN {q} IS NOT NULL AND {q} NOT IN ({allowed}) THEN "
                f"'{col.name}: ''' || left({q}, 40) || ''' not one of {'/'.join(col.allowed)}' END"
            )
        if col.min_value is not None or col.max_value is not None:
            lo = col.min_value if col.min_value is not None else "-'infinity'::DOUBLE"
            hi = col.max_value if col.max_value is not None else "'infinity'::DOUBLE"
            out.append(
                f"CASE WHEN {q} IS NOT NULL AND ({q} < {lo} OR {q} > {hi}) THEN "
                f"'{col.name}: ' || CAST({q} AS VARCHAR) || ' outside [{_fmt(col.min_value)}, "
                f"{_fmt(col.max_value)}]' END"
            )
        if col.kind == "timestamp" and (spec.name, col.name) not in FUTURE_OK:
            out.append(
                f"CASE WHEN {q} > TIMESTAMP '{horizon.isoformat(sep=' ')}' THEN "
                f"'{col.name}: after the data horizon {horizon.date()}' END"
            )
    for earlier, later in spec.ordered_pairs:
        if earlier in present and later in present:
            out.append(
                f'CASE WHEN "{later}" < "{earlier}" THEN \'{later} before {earlier}\' END'
            )
    if spec.key:
        out.append(f"CASE WHEN _dup_n > 1 THEN 'duplicate key ({', '.join(spec.key)})' END")
    if spec.name != "accounts":
        out.append("CASE WHEN _orphan AND account_id IS NOT NULL THEN "
                   "'account_id ''' || account_id || ''' not in accounts' END")
    return out


def _fmt(value: float | None) -> str:
    if value is None:
        return "inf"
    return str(int(value)) if float(value).is_integer() else str(value)


def _quarantine_frame(tables: Tables, name: str) -> pd.DataFrame:
    """Rejected rows with reasons and their original values (as JSON text)."""
    cols = tables.columns(name)
    struct = ", ".join(f"'{c}': CAST(r.\"{c}\" AS VARCHAR)" for c in cols)
    df = tables.con.execute(f"""
        SELECT q._row AS row, q.reason, to_json({{{struct}}})::VARCHAR AS record
        FROM "_q_{name}" q JOIN "raw_{name}" r USING (_row) ORDER BY q._row
    """).df()
    return df.assign(table=name, source=tables.origins[name])[QUARANTINE_COLUMNS]
