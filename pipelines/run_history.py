"""Dagster's SQLite event log, with one open connection per database instead of one per event.

Why: Dagster's ``SqliteEventLogStorage`` creates an engine, connects, checks a table exists
and disposes the engine for every event it stores; a cold ``altflow run`` writes ~800 events
(one planned and one evaluated per check), and that bookkeeping cost about a third of the run.
This subclass keeps one connection per shard (the run's file and ``index.db``) and remembers
which tables exist. Writes stay serialised by the storage's own lock, every event is still
committed in its own transaction (without an fsync each: see ``_no_fsync_per_commit``), and
the files are the ones Dagster reads (WAL mode, set by Dagster), so ``altflow ui`` and
``dagster dev`` read them unchanged.

Selected by the ``dagster.yaml`` that ``pipelines/instance.py`` writes.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster import Field, StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

OPEN_SHARDS = 8  # run files a webserver keeps open at once (least recently used closed)


def _no_fsync_per_commit(dbapi_connection: Any, _record: Any) -> None:
    """WAL with ``synchronous=NORMAL``: a commit no longer waits for an fsync (the WAL is
    synced at checkpoints). A killed process loses nothing; a power cut can lose the last
    events, never corrupt the file. The warehouse does not depend on them (its publish is
    recorded in ``meta.publish_log`` inside the DuckDB file)."""
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class KeptOpenSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` that keeps each shard's connection open between events."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()  # before: __init__ connects
        self._tables: set[str] = set()
        super().__init__(base_dir, inst_data)

    @classmethod
    def config_type(cls) -> dict[str, Field]:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Any
    ) -> KeptOpenSqliteEventLogStorage:
        """``base_dir`` defaults to Dagster's own place, ``$DAGSTER_HOME/history/runs``, so a
        copied or moved DAGSTER_HOME keeps writing beside itself."""
        base_dir = config_value.get("base_dir") or os.path.join(
            os.environ["DAGSTER_HOME"], "history", "runs"
        )
        return cls(base_dir, inst_data=inst_data)

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = create_engine(
            self.conn_string_for_shard(shard),
            poolclass=StaticPool,  # one connection; the storage lock serialises its use
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        event.listen(engine, "connect", _no_fsync_per_commit)
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        self._engines[shard] = engine
        while len(self._engines) > OPEN_SHARDS:
            _, oldest = self._engines.popitem(last=False)
            oldest.dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock, self._engine(shard).connect() as conn, conn.begin():
            yield conn

    def has_table(self, table_name: str) -> bool:
        """A table, once there, stays: remember it (asked once per stored event)."""
        if table_name in self._tables:
            return True
        found = super().has_table(table_name)
        if found:
            self._tables.add(table_name)
        return found

    def _close_all(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def dispose(self) -> None:
        self._close_all()
        super().dispose()

    def wipe(self) -> None:
        """Close the kept connections before Dagster deletes the run files under them."""
        self._close_all()
        super().wipe()
