"""Warehouse assets: one per SQL model file, built atomically in DuckDB."""

from __future__ import annotations

from collections.abc import Iterable

from dagster import AssetKey, AssetsDefinition, MaterializeResult, asset

from altflow.sqlmodels import SqlModel, discover
from altflow.warehouse import build_model
from assets.ui_metadata import table_metadata
from pipelines.resources import WarehouseResource

FETCH_LOG = "raw.fetch_log"  # written by every ingest asset


def table_key(table: str) -> AssetKey:
    return AssetKey(table.split("."))


def _model_asset(model: SqlModel, ingest_keys: Iterable[AssetKey]) -> AssetsDefinition:
    deps = [table_key(d) for d in model.deps if d != FETCH_LOG]
    if FETCH_LOG in model.deps:
        deps.extend(ingest_keys)

    @asset(
        key=table_key(model.table),
        deps=deps,
        group_name="warehouse",
        kinds={"duckdb", "sql"},
        description=model.description,
        metadata={"sql_file": str(model.path.relative_to(model.path.parents[2]))},
    )
    def _build(warehouse: WarehouseResource) -> MaterializeResult:
        with warehouse.get().writer() as con:
            build_model(con, model.table, model.sql)
            metadata = table_metadata(con, model.table)
        return MaterializeResult(metadata=metadata)

    return _build


def sql_model_assets(ingest_keys: Iterable[AssetKey]) -> list[AssetsDefinition]:
    keys = list(ingest_keys)
    return [_model_asset(m, keys) for m in discover()]
