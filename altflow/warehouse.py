"""The DuckDB warehouse: write, audit, publish; readers are never refused.

DuckDB lets one process hold a database file for writing and refuses every other process's
connection meanwhile, so altflow never writes the published file in place. A *run* works on
one private working copy (:class:`WorkingCopy`, made once per run from the published file):
every ingest, model and check step of the run writes and reads there. Only when every
blocking check has passed does the run's publish step rename the working copy over the
published file, in one atomic step. A run that fails or is killed at any point publishes
nothing: the published file stays byte-identical and readable throughout. Readers
(``altflow query``, BI tools, notebooks) open the published file read-only at any time.

Two runs may not publish over each other: a working copy remembers the published file it was
made from, and publishing refuses when the published file changed meanwhile (optimistic
concurrency, the same rule a catalog with snapshots applies; see docs/scale-out.md).

:class:`Warehouse` is the one interface assets and SQL use (``writer``, ``reader``,
``query``); a shared backend (DuckLake, MotherDuck) would be another implementation of it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

SCHEMAS = ("raw", "staging", "marts", "meta")
_TABLE_NAME = re.compile(r"^(raw|staging|marts|meta)\.[a-z_][a-z0-9_]*$")
# Storage format readable by the DuckDB CLI and BI tools of the 1.5 line (duckdb-cli 1.5.x on
# PyPI): DuckDB 2.x would otherwise write storage version 69, which 1.5 cannot open.
STORAGE_VERSION = "v1.5.0"
_CONNECT_CONFIG = {"storage_compatibility_version": STORAGE_VERSION}

FETCH_LOG_DDL = """
CREATE TABLE IF NOT EXISTS raw.fetch_log (
    source VARCHAR NOT NULL,
    dataset VARCHAR NOT NULL,
    url VARCHAR NOT NULL,
    mode VARCHAR NOT NULL,
    retrieved_at TIMESTAMPTZ,
    as_of DATE,
    rows BIGINT,
    sha256 VARCHAR,
    loaded_at TIMESTAMPTZ NOT NULL,
    retrieved_from VARCHAR,
    provenance VARCHAR,
    status VARCHAR NOT NULL DEFAULT 'ok',
    reason VARCHAR,
    run_id VARCHAR
)
"""
# Columns added since the first release, for warehouses built before them.
_FETCH_LOG_MIGRATION = (
    "ALTER TABLE raw.fetch_log ADD COLUMN IF NOT EXISTS retrieved_from VARCHAR",
    "ALTER TABLE raw.fetch_log ADD COLUMN IF NOT EXISTS provenance VARCHAR",
    "ALTER TABLE raw.fetch_log ADD COLUMN IF NOT EXISTS status VARCHAR DEFAULT 'ok'",
    "ALTER TABLE raw.fetch_log ADD COLUMN IF NOT EXISTS reason VARCHAR",
    "ALTER TABLE raw.fetch_log ADD COLUMN IF NOT EXISTS run_id VARCHAR",
    "ALTER TABLE raw.fetch_log ALTER COLUMN retrieved_at DROP NOT NULL",
    "ALTER TABLE raw.fetch_log ALTER COLUMN rows DROP NOT NULL",
    "ALTER TABLE raw.fetch_log ALTER COLUMN sha256 DROP NOT NULL",
)

PUBLISH_LOG_DDL = """
CREATE TABLE IF NOT EXISTS meta.publish_log (
    run_id VARCHAR NOT NULL,
    published_at TIMESTAMPTZ NOT NULL,
    base_run_id VARCHAR,
    assets_built BIGINT NOT NULL,
    assets VARCHAR NOT NULL
)
"""
ASSET_VERSIONS_DDL = """
CREATE TABLE IF NOT EXISTS meta.asset_versions (
    asset_key VARCHAR NOT NULL PRIMARY KEY,
    version VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    built_at TIMESTAMPTZ NOT NULL
)
"""


class WarehouseError(RuntimeError):
    """The warehouse is missing or cannot be used; the message says which file and why."""


class PublishRefused(WarehouseError):
    """The working copy cannot be published (another run published meanwhile, or it is gone)."""


def check_table_name(name: str) -> str:
    if not _TABLE_NAME.match(name):
        raise ValueError(f"table name {name!r} is not schema.table in raw, staging or marts")
    return name


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """The one way altflow opens a DuckDB file (new files get the compatible storage version)."""
    if read_only:
        return duckdb.connect(str(path), read_only=True)
    return duckdb.connect(str(path), config=_CONNECT_CONFIG)


@contextmanager
def _flock(path: Path, exclusive: bool = True) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):  # gone already (a discarded run): nothing to flush
        _fsync(path)


def _init_schemas(con: duckdb.DuckDBPyConnection) -> None:
    for schema in SCHEMAS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")


def _storage_version(path: Path) -> str | None:
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute(
            "SELECT tags['storage_version'] FROM duckdb_databases()"
            " WHERE database_name = current_database()"
        ).fetchone()
        return row[0] if row else None
    finally:
        con.close()


def _copy_database(source: Path, target: Path) -> None:
    """Copy `source` to `target`, rewriting it in the compatible storage version if needed."""
    if _storage_version(source) == f"{STORAGE_VERSION}+":
        shutil.copyfile(source, target)
        return
    con = connect(target)
    try:
        name = con.execute("SELECT current_database()").fetchone()[0]
        con.execute(f"ATTACH '{source}' AS old (READ_ONLY)")
        con.execute(f"COPY FROM DATABASE old TO {name}")
        con.execute("DETACH old")
        con.execute("CHECKPOINT")
    finally:
        con.close()


def _meta_rows(path: Path, table: str, sql: str) -> list[tuple]:
    """Rows of a `meta` bookkeeping table of the file at `path` (none if it has no such table)."""
    if not path.exists():
        return []
    con = duckdb.connect(str(path), read_only=True)
    try:
        has = con.execute(
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema = 'meta' AND table_name = ?",
            [table],
        ).fetchone()[0]
        return con.execute(sql).fetchall() if has else []
    finally:
        con.close()


def published_run_id(path: Path) -> str | None:
    """The run that published `path` (None for a warehouse never published by a run)."""
    latest = "SELECT run_id FROM meta.publish_log ORDER BY published_at DESC LIMIT 1"
    rows = _meta_rows(path, "publish_log", latest)
    return rows[0][0] if rows else None


class _Reads:
    """Queries over whatever state `reader()` opens (the published file, or a run's copy)."""

    def reader(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        raise NotImplementedError

    def query(self, sql: str, params: Sequence[object] | None = None) -> pl.DataFrame:
        with self.reader() as con:
            relation = con.sql(sql, params=list(params) if params else None)
            return relation.pl() if relation is not None else pl.DataFrame()

    def tables(self) -> list[str]:
        with self.reader() as con:
            return list_tables(con)


class Warehouse(_Reads):
    """The published DuckDB file with schemas raw, staging, marts (and meta: publish records)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @property
    def published_path(self) -> Path:
        return self.path

    def _lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def _remove_stale_copies(self) -> None:
        """Temporary copies left by killed writers (we hold the lock, so none is live)."""
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp*"):
            stale.unlink(missing_ok=True)

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One atomic write outside a run: a private copy, published if the block succeeds."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _flock(self._lock_path()):
            self._remove_stale_copies()
            work = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp")
            try:
                if self.path.exists():
                    _copy_database(self.path, work)
                con = connect(work)
                try:
                    _init_schemas(con)
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

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection to the last published state."""
        if not self.path.exists():
            raise WarehouseError(
                f"no warehouse at {self.path}: run `altflow run` first (or set ALTFLOW_WAREHOUSE)"
            )
        try:
            con = duckdb.connect(str(self.path), read_only=True)
        except duckdb.Error as exc:
            raise WarehouseError(
                f"{self.path} is not a readable DuckDB warehouse: {' '.join(str(exc).split())}"
            ) from None
        try:
            yield con
        finally:
            con.close()

    def tables(self) -> list[str]:
        return super().tables() if self.path.exists() else []

    # -- runs -------------------------------------------------------------------------------

    def working_path(self, run_id: str) -> Path:
        return self.path.with_name(f".{self.path.name}.run-{run_id}.duckdb")

    def working(self, run_id: str) -> WorkingCopy:
        """The run's working copy, made from the published file on first use."""
        return WorkingCopy(self, run_id)

    def working_copies(self) -> list[Path]:
        """Working copies on disk (of runs that failed, were refused or are running)."""
        return sorted(self.path.parent.glob(f".{self.path.name}.run-*.duckdb"))


@dataclass(frozen=True)
class PublishResult:
    run_id: str
    published_at: datetime
    assets: tuple[str, ...]
    path: Path


class WorkingCopy(_Reads):
    """One run's private state: written in place by the run's steps, published atomically."""

    def __init__(self, published: Warehouse, run_id: str) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", run_id):
            raise ValueError(f"run id {run_id!r} is not a plain identifier")
        self.published = published
        self.run_id = run_id
        self.path = published.working_path(run_id)
        self._base_file = self.path.with_name(self.path.name + ".base.json")
        self._lock = self.path.with_name(self.path.name + ".lock")

    @property
    def published_path(self) -> Path:
        return self.published.path

    def ensure(self) -> None:
        """Make the working copy from the published file, once per run (first step wins)."""
        if self.path.exists():
            return
        with _flock(self.published._lock_path()):
            if self.path.exists():
                return
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.unlink(missing_ok=True)
            base = published_run_id(self.published.path)
            if self.published.path.exists():
                _copy_database(self.published.path, tmp)
            con = connect(tmp)
            try:
                _init_schemas(con)
                con.execute("CHECKPOINT")
            finally:
                con.close()
            self._base_file.write_text(json.dumps({"base_run_id": base}))
            os.replace(tmp, self.path)
            # Flush the copy to disk while the run works (fsync releases the GIL), so the
            # fsync before publishing only waits for what the run changed: on a 1 GB file
            # that final fsync otherwise waits seconds for the whole copy.
            threading.Thread(target=_fsync_quietly, args=(self.path,), daemon=True).start()

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A transaction on the working copy; rolled back if the block fails."""
        self.ensure()
        with _flock(self._lock):
            con = connect(self.path)
            try:
                con.execute("BEGIN TRANSACTION")
                try:
                    yield con
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
            finally:
                con.close()

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection to the run's current (unpublished) state."""
        self.ensure()
        with _flock(self._lock):
            con = duckdb.connect(str(self.path), read_only=True)
            try:
                yield con
            finally:
                con.close()

    def base_run_id(self) -> str | None:
        if not self._base_file.exists():
            return None
        return json.loads(self._base_file.read_text()).get("base_run_id")

    def publish(
        self, assets: Sequence[str] = (), versions: dict[str, str | None] | None = None
    ) -> PublishResult:
        """Rename the working copy over the published file: all of the run's results at once.

        Refused (nothing changes) if another run published since this copy was made.
        """
        if not self.path.exists():
            raise PublishRefused(f"run {self.run_id} has no working copy at {self.path}")
        published_at = datetime.now(UTC)
        with _flock(self.published._lock_path()):
            current = published_run_id(self.published.path)
            base = self.base_run_id()
            if current != base:
                raise PublishRefused(
                    f"run {self.run_id} was built on the state published by {base or 'nobody'},"
                    f" but {current} has published since; nothing was published (re-run)"
                )
            with _flock(self._lock):
                con = connect(self.path)
                try:
                    con.execute("BEGIN TRANSACTION")
                    con.execute(PUBLISH_LOG_DDL)
                    con.execute(ASSET_VERSIONS_DDL)
                    con.execute(
                        "INSERT INTO meta.publish_log VALUES (?, ?, ?, ?, ?)",
                        [self.run_id, published_at, base, len(assets), ", ".join(assets)],
                    )
                    for key, version in (versions or {}).items():
                        if version is None:  # built from inputs with no version (live data)
                            con.execute("DELETE FROM meta.asset_versions WHERE asset_key = ?",
                                        [key])
                            continue
                        con.execute(
                            "INSERT OR REPLACE INTO meta.asset_versions VALUES (?, ?, ?, ?)",
                            [key, version, self.run_id, published_at],
                        )
                    con.execute("COMMIT")
                    con.execute("CHECKPOINT")
                finally:
                    con.close()
                _fsync(self.path)
                os.replace(self.path, self.published.path)
                _fsync(self.published.path.parent)
                self._cleanup()
        return PublishResult(self.run_id, published_at, tuple(assets), self.published.path)

    def discard(self) -> None:
        """Delete the working copy (a refused run's state, once the user no longer needs it)."""
        self.path.unlink(missing_ok=True)
        self._cleanup()

    def _cleanup(self) -> None:
        for leftover in (
            self._base_file,
            self._lock,
            self.path.with_name(self.path.name + ".wal"),
        ):
            leftover.unlink(missing_ok=True)


def list_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The schema.table names in raw, staging and marts, sorted."""
    rows = con.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables"
        " WHERE table_schema IN ('raw', 'staging', 'marts') ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def stored_versions(path: Path) -> dict[str, str]:
    """The input versions of every asset as last published (empty for a new warehouse)."""
    return dict(
        _meta_rows(path, "asset_versions", "SELECT asset_key, version FROM meta.asset_versions")
    )


def replace_table(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> int:
    """Replace `table` with the rows of `frame` (inside the caller's transaction)."""
    check_table_name(table)
    view = f"_altflow_frame_{uuid.uuid4().hex}"
    con.register(view, frame.to_arrow())
    try:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {view}")
    finally:
        con.unregister(view)
    _comment(con, table)
    return frame.height


def _comment(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """COMMENT ON the table and its columns from its metadata entry (a rebuild drops them)."""
    from altflow.metadata import apply_comments

    apply_comments(con, [table])


def build_model(con: duckdb.DuckDBPyConnection, table: str, select_sql: str) -> int:
    """(Re)build `table` from a SELECT, inside the caller's transaction; returns its rows."""
    check_table_name(table)
    con.execute(f"CREATE OR REPLACE TABLE {table} AS\n{select_sql.strip().rstrip(';')}")
    _comment(con, table)
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _ensure_fetch_log(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(FETCH_LOG_DDL)
    for statement in _FETCH_LOG_MIGRATION:
        con.execute(statement)
    _comment(con, "raw.fetch_log")


def record_fetches(
    con: duckdb.DuckDBPyConnection,
    payloads: Sequence[object],
    rows: Sequence[int],
    run_id: str | None = None,
) -> None:
    """Append one row per fetched payload to raw.fetch_log (source of marts.sources)."""
    _ensure_fetch_log(con)
    if not payloads:
        return
    loaded_at = datetime.now(UTC)
    con.executemany(
        "INSERT INTO raw.fetch_log (source, dataset, url, mode, retrieved_at, as_of, rows,"
        " sha256, loaded_at, retrieved_from, provenance, status, reason, run_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok', NULL, ?)",
        [
            (
                p.source,
                p.dataset,
                p.url,
                p.mode,
                p.retrieved_at,
                p.as_of,
                n,
                p.sha256,
                loaded_at,
                getattr(p, "retrieved_from", None) or p.url,
                getattr(p, "provenance", None),
                run_id,
            )
            for p, n in zip(payloads, rows, strict=True)
        ],
    )


def record_failure(
    con: duckdb.DuckDBPyConnection,
    source: str,
    dataset: str,
    url: str,
    reason: str,
    mode: str = "live",
    run_id: str | None = None,
) -> None:
    """Log a dataset that could not be fetched or was refused: it keeps its last good rows."""
    _ensure_fetch_log(con)
    con.execute(
        "INSERT INTO raw.fetch_log (source, dataset, url, mode, loaded_at, status, reason,"
        " run_id) VALUES (?, ?, ?, ?, ?, 'failed', ?, ?)",
        [source, dataset, url, mode, datetime.now(UTC), " ".join(reason.split()), run_id],
    )


def load_raw(
    warehouse: Warehouse | WorkingCopy,
    tables: dict[str, pl.DataFrame],
    payloads: Sequence[object],
    rows: Sequence[int],
) -> None:
    """Replace raw tables and log their fetches in one transaction: all of it or nothing."""
    with warehouse.writer() as con:
        for table, frame in tables.items():
            replace_table(con, table, frame)
        record_fetches(con, payloads, rows, run_id=getattr(warehouse, "run_id", None))
