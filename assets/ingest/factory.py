"""One factory for every ingest asset: a source's :class:`~altflow.sources.base.Batch` in, raw
tables, fetch log and a ``fetch_fresh`` check out.

A source module declares a small :class:`IngestSpec` (the source class, its raw tables with
descriptions, an op name); :func:`ingest_asset` builds the Dagster multi-asset. No asset
wrapper knows a source's internals: the source returns one :class:`Batch` and the factory
writes it.

Failure isolation (live mode): a dataset whose fetch fails, or whose payload is refused by
its parser or by the blocking check of its raw table (applied to that dataset's rows before
anything is written), keeps its last good raw rows. The factory writes the other datasets'
new rows beside the failed dataset's old ones (the rows named by its ``key``; a dataset
without a key owns its tables, which are then left as they are), records the failure with
:func:`altflow.warehouse.record_failure` (``marts.sources`` shows it stale, since when and
why) and does not fail the asset, so the rest of the run goes on. Instead its non-blocking
``fetch_fresh`` check fails with severity ERROR and one line naming source, dataset and
reason, so the run ends with exit 1. In snapshot mode every failure fails the asset: the
embedded copy is altflow's own and must load.
"""

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    AssetSpec,
    DataVersion,
    MaterializeResult,
    multi_asset,
)

from altflow import warehouse as wh
from altflow.sources.base import Batch, DatasetFailure, Source
from assets.metadata import description as entry_description
from assets.metadata import table_metadata
from pipelines.resources import SourcesResource, WarehouseResource

KINDS = {"python", "duckdb"}
FRESH_CHECK = "fetch_fresh"


@dataclass(frozen=True)
class IngestSpec:
    """What the factory needs to know about one source.

    ``tables`` maps each raw table the source writes to a fallback description; the table's
    metadata entry (``altflow/tables/raw/<table>.yml``) gives the asset its description and
    column schema when it has one, so the contract is written once. ``collect`` turns the
    configured source into a Batch; by default ``source.batch()``.
    """

    source: type[Source]
    tables: Mapping[str, str]
    name: str
    collect: Callable[[Any], Batch] | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def source_id(self) -> str:
        return self.source.id


def raw_check_failures(table: str, frame: pl.DataFrame) -> list[str]:
    """The blocking rules of a raw table applied to one dataset's rows: its failures (or none).

    One call to :func:`altflow.quality.validate_table` (the table's metadata entry: schema,
    grain, not-null, ranges, values and the rules that read only the table; polars engine, no
    great-expectations import), so a payload is refused by the rules the table's blocking
    asset check applies after the write.
    """
    from altflow.quality import validate_table

    report = validate_table(table, frame)
    return [] if report.success else list(report.failures)


def refuse_by_checks(batch: Batch, check: Callable[[str, pl.DataFrame], list[str]]) -> None:
    """Move each dataset whose rows fail its raw table's blocking check to the failures."""
    kept = []
    for result in batch.results:
        problems = [
            f"{table}: {problem}"
            for table, frame in result.frames.items()
            for problem in check(table, frame)
        ]
        if not problems:
            kept.append(result)
            continue
        payload = result.payload
        batch.failures.append(
            DatasetFailure(
                batch.source,
                payload.dataset,
                payload.url,
                "payload refused by the blocking check on " + "; ".join(problems)[:400],
                tuple(result.frames),
                dict(result.key),
            )
        )
    batch.results[:] = kept


def _aligned(old: pl.DataFrame, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """Old rows in the new frame's columns and types (a column added since: null)."""
    return old.select(
        [
            pl.col(c).cast(t, strict=False) if c in old.columns else pl.lit(None, t).alias(c)
            for c, t in schema.items()
        ]
    )


def keep_last_good(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    failures: Sequence[DatasetFailure],
) -> pl.DataFrame | None:
    """`frame` plus the failed datasets' rows already in `table`; None: leave the table as is.

    A failed dataset without a key owns the table: nothing new replaces it. Otherwise the
    rows matching each failed dataset's key are read back and kept beside the new rows.
    """
    touching = [f for f in failures if table in f.tables]
    if not touching:
        return frame
    if table not in wh.list_tables(con):
        return frame  # no last good rows to keep (a first run): the table starts as fetched
    if any(not f.key for f in touching):
        return None
    clauses, params = [], []
    for failure in touching:
        clauses.append("(" + " AND ".join(f'"{c}" = ?' for c in failure.key) + ")")
        params.extend(failure.key.values())
    old = con.sql(f"SELECT * FROM {table} WHERE {' OR '.join(clauses)}", params=params).pl()
    return pl.concat([frame, _aligned(old, frame.schema)])


def write_batch(warehouse: Any, batch: Batch) -> dict[str, int]:
    """Write a batch in one transaction: new rows, last good rows of failed datasets, log.

    Returns the rows each table holds afterwards (a table left as it was: its old count).
    """
    written: dict[str, int] = {}
    run_id = getattr(warehouse, "run_id", None)
    with warehouse.writer() as con:
        for table, frame in batch.tables.items():
            final = keep_last_good(con, table, frame, batch.failures)
            if final is None:
                written[table] = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
                continue
            written[table] = wh.replace_table(con, table, final)
        wh.record_fetches(con, batch.payloads, batch.rows, run_id=run_id)
        for failure in batch.failures:
            wh.record_failure(
                con, failure.source, failure.dataset, failure.url, failure.reason,
                mode="live", run_id=run_id,
            )
    return written


def _data_version(batch: Batch) -> str:
    digest = hashlib.sha256()
    for payload in sorted(batch.payloads, key=lambda p: p.dataset):
        digest.update(f"{payload.dataset}:{payload.sha256};".encode())
    for table, frame in sorted(batch.static.items()):
        digest.update(f"{table}:{frame.hash_rows().sum()};".encode())
    return digest.hexdigest()[:16]


def ingest_asset(spec: IngestSpec) -> AssetsDefinition:
    """The multi-asset of one source: one asset per raw table, each with a fetch_fresh check."""
    tags = {"source": spec.source_id}
    keys = {table: table.split(".") for table in spec.tables}

    @multi_asset(
        name=spec.name,
        specs=[
            AssetSpec(keys[table], group_name="ingest", kinds=KINDS, tags=tags,
                      description=entry_description(table, fallback=text),
                      metadata=table_metadata(table))
            for table, text in spec.tables.items()
        ],
        check_specs=[
            AssetCheckSpec(
                FRESH_CHECK,
                asset=keys[table],
                blocking=False,
                description=f"Every {spec.source_id} dataset feeding {table} was fetched and "
                "accepted in this run (live: a failed one keeps its last good rows and fails "
                "this check).",
            )
            for table in spec.tables
        ],
        can_subset=False,
    )
    def _ingest(
        context: AssetExecutionContext, warehouse: WarehouseResource, sources: SourcesResource
    ) -> Iterator[MaterializeResult | AssetCheckResult]:
        source = sources.source(spec.source)
        batch = spec.collect(source) if spec.collect else source.batch()
        for note in batch.notes:
            context.log.warning(note)
        live = source.requested_mode == "live"
        if not live:
            batch.raise_failures()
        else:
            refuse_by_checks(batch, raw_check_failures)
        rows = write_batch(warehouse.get(), batch)
        version = _data_version(batch)
        stale = ", ".join(f.dataset for f in batch.failures) or "none"
        for table in spec.tables:
            metadata: dict[str, Any] = {
                "dagster/row_count": rows.get(table, 0),
                "mode": batch.mode,
                "datasets": ", ".join(p.dataset for p in batch.payloads) or "none",
                "stale_datasets": stale,
                **dict(spec.metadata),
                **batch.metadata,
            }
            if batch.notes:
                metadata["notes"] = " | ".join(batch.notes)
            yield MaterializeResult(
                asset_key=keys[table], metadata=metadata, data_version=DataVersion(version)
            )
        for table in spec.tables:
            failed = [f for f in batch.failures if table in f.tables]
            yield AssetCheckResult(
                asset_key=keys[table],
                check_name=FRESH_CHECK,
                passed=not failed,
                severity=AssetCheckSeverity.ERROR,
                description="; ".join(f.message for f in failed)
                if failed
                else f"{spec.source_id}: every dataset fetched and accepted",
                metadata={
                    "failed_datasets": ", ".join(f.dataset for f in failed) or "none",
                    "kept_last_good": bool(failed),
                },
            )

    return _ingest
