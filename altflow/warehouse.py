"""The DuckDB warehouse: atomic writes by copy-and-swap, so readers are never refused.

DuckDB lets one process hold a database file for writing and refuses every other process's
connection meanwhile. altflow never writes the published file in place: a writer takes an
exclusive lock file, copies the warehouse to a private temporary file, writes there inside
a transaction, checkpoints, and atomically renames the copy over the warehouse. Readers
(``altflow query``, BI tools, notebooks) open the published file read-only at any time and
see the last completed state; a failed or killed write leaves the published file untouched.
The cost is one file copy per write, which is small for a warehouse of this size.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

SCHEMAS = ("raw", "staging", "marts")
_TABLE_NAME = re.compile(r"^(raw|staging|marts)\.[a-z_][a-z0-9_]*$")

FETCH_LOG_DDL = """
CREATE TABLE IF NOT EXISTS raw.fetch_log (
    source VARCHAR NOT NULL,
    dataset VARCHAR NOT NULL,
    url VARCHAR NOT NULL,
    mode VARCHAR NOT NULL,
    retrieved_at TIMESTAMPTZ NOT NULL,
    as_of DATE,
    rows BIGINT NOT NULL,
    sha256 VARCHAR NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL
)
"""


class WarehouseError(RuntimeError):
    """The warehouse is missing or cannot be used; the message says which file and why."""


def check_table_name(name: str) -> str:
    if not _TABLE_NAME.match(name):
        raise ValueError(f"table name {name!r} is not schema.table in raw, staging or marts")
    return name


class Warehouse:
    """One DuckDB file with schemas raw, staging and marts."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def _lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def _remove_stale_copies(self) -> None:
        """Temporary copies left by killed writers (we hold the lock, so none is live)."""
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp*"):
            stale.unlink(missing_ok=True)

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to a private copy, published atomically if the block succeeds."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path(), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self._remove_stale_copies()
                work = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp")
                if self.path.exists():
                    shutil.copyfile(self.path, work)
                try:
                    con = duckdb.connect(str(work))
                    try:
                        for schema in SCHEMAS:
                            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                        con.execute("BEGIN TRANSACTION")
                        yield con
                        con.execute("COMMIT")
                        con.execute("CHECKPOINT")
                    finally:
                        con.close()
                    _fsync(work)
                    os.replace(work, self.path)
                    _fsync(self.path.parent)
                finally:
                    for leftover in (work, work.with_name(work.name + ".wal")):
                        leftover.unlink(missing_ok=True)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection to the last published state."""
        if not self.path.exists():
            raise WarehouseError(
                f"no warehouse at {self.path}: run `altflow run` first (or set ALTFLOW_WAREHOUSE)"
            )
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            yield con
        finally:
            con.close()

    def query(self, sql: str, params: Sequence[object] | None = None) -> pl.DataFrame:
        with self.reader() as con:
            relation = con.sql(sql, params=list(params) if params else None)
            return relation.pl() if relation is not None else pl.DataFrame()

    def tables(self) -> list[str]:
        if not self.path.exists():
            return []
        with self.reader() as con:
            return list_tables(con)


def list_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The schema.table names in raw, staging and marts, sorted."""
    rows = con.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables"
        " WHERE table_schema IN ('raw', 'staging', 'marts') ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_table(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> int:
    """Replace `table` with the rows of `frame` (inside the caller's transaction)."""
    check_table_name(table)
    view = f"_altflow_frame_{uuid.uuid4().hex}"
    con.register(view, frame.to_arrow())
    try:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {view}")
    finally:
        con.unregister(view)
    return frame.height


def build_model(con: duckdb.DuckDBPyConnection, table: str, select_sql: str) -> int:
    """(Re)build `table` from a SELECT, inside the caller's transaction; returns its rows."""
    check_table_name(table)
    con.execute(f"CREATE OR REPLACE TABLE {table} AS\n{select_sql.strip().rstrip(';')}")
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def record_fetches(
    con: duckdb.DuckDBPyConnection, payloads: Sequence[object], rows: Sequence[int]
) -> None:
    """Append one row per fetched payload to raw.fetch_log (source of marts.sources)."""
    con.execute(FETCH_LOG_DDL)
    if not payloads:
        return
    loaded_at = datetime.now(UTC)
    con.executemany(
        "INSERT INTO raw.fetch_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (p.source, p.dataset, p.url, p.mode, p.retrieved_at, p.as_of, n, p.sha256, loaded_at)
            for p, n in zip(payloads, rows, strict=True)
        ],
    )


def load_raw(
    warehouse: Warehouse,
    tables: dict[str, pl.DataFrame],
    payloads: Sequence[object],
    rows: Sequence[int],
) -> None:
    """Replace raw tables and log their fetches in one atomic write: all of it or nothing."""
    with warehouse.writer() as con:
        for table, frame in tables.items():
            replace_table(con, table, frame)
        record_fetches(con, payloads, rows)
