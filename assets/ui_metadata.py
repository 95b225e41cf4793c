"""What the Dagster UI shows for a table: schema, row count, preview, sources and as-of dates.

Why one module: every asset that writes a table (SQL models, ingest, scenario marts) calls
:func:`table_metadata` so each materialization carries the same keys, and
:func:`decorate` gives every asset definition the same owner, layer group and column schema
(from the per-table metadata YAML of :mod:`altflow.metadata`) before the first run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import duckdb
import polars as pl
from dagster import (
    AssetsDefinition,
    AssetSpec,
    MetadataValue,
    TableColumn,
    TableColumnConstraints,
    TableSchema,
    map_asset_specs,
)

from altflow.display import usd

OWNER = "team:altflow"
LAYERS = ("raw", "staging", "marts")
PREVIEW_ROWS = 5
PREVIEW_WIDTH = 40  # characters of a text cell in the preview; the rest is cut with an ellipsis
SOURCE_COLUMNS = ("source", "source_name", "primary_source", "market_size_source")
URL_COLUMNS = ("url", "market_size_url", "volume_url")
AS_OF_COLUMNS = ("as_of", "market_size_as_of", "period_end", "date", "horizon_end")


def _entry(table: str) -> Any | None:
    try:
        from altflow import metadata
    except ImportError:  # pragma: no cover - metadata module not there yet
        return None
    try:
        return metadata.entry(table)
    except (KeyError, ValueError):
        return None


def column_schema(table: str, types: dict[str, str] | None = None) -> TableSchema | None:
    """The column schema from the table's metadata entry (descriptions with units).

    ``types``: the built table's column types; columns missing from the entry still appear
    (typed, described as undocumented) so the UI never hides a column.
    """
    item = _entry(table)
    columns: list[TableColumn] = []
    seen: set[str] = set()
    if item is not None:
        for col in item.columns:
            if types is not None and col.name not in types:
                continue
            seen.add(col.name)
            unit = f" [unit: {col.unit}]" if col.unit else ""
            columns.append(
                TableColumn(
                    name=col.name,
                    type=(types or {}).get(col.name, col.type),
                    description=f"{col.description}{unit}",
                    constraints=TableColumnConstraints(nullable=col.nullable),
                )
            )
    for name, dtype in (types or {}).items():
        if name not in seen:
            columns.append(TableColumn(name=name, type=dtype, description="(no metadata entry)"))
    return TableSchema(columns=columns) if columns else None


def _cell(column: str, value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        if column.endswith("_usd") or "_usd_" in column:
            return usd(value, short=True)
        if ("share" in column or "impact" in column or "volatility" in column
                or column.startswith("cagr_") or column.endswith("_rate")):
            return f"{100 * value:.3g} %"
        return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= PREVIEW_WIDTH else text[: PREVIEW_WIDTH - 1] + "…"


def markdown_preview(frame: pl.DataFrame, rows: int = PREVIEW_ROWS) -> str:
    """The first rows as a markdown table, amounts and shares formatted for reading."""
    if frame.is_empty():
        return "_no rows_"
    head = frame.head(rows)
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * len(head.columns)]
    for row in head.iter_rows(named=True):
        lines.append("| " + " | ".join(_cell(c, row[c]) for c in head.columns) + " |")
    more = frame.height - head.height
    if more > 0:
        lines.append(f"\n_{more:,} more rows._")
    return "\n".join(lines)


def _distinct(frame: pl.DataFrame, columns: Sequence[str], limit: int) -> list[str]:
    found: list[str] = []
    for column in columns:
        if column in frame.columns and frame.schema[column] == pl.Utf8:
            for value in frame[column].drop_nulls().unique(maintain_order=True).to_list():
                if value not in found:
                    found.append(value)
    return found[:limit]


def _as_of(frame: pl.DataFrame) -> str | None:
    for column in AS_OF_COLUMNS:
        if column in frame.columns and frame.schema[column] in (pl.Date, pl.Datetime):
            latest = frame[column].max()
            if isinstance(latest, date | datetime):
                return f"{latest:%Y-%m-%d} (latest {column})"
    return None


def _read(con: duckdb.DuckDBPyConnection, table: str) -> tuple[pl.DataFrame, int, dict]:
    """Rows enough for preview, sources and as-of, without pulling a large table whole."""
    rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    types = {
        name: dtype
        for name, dtype in con.execute(
            "SELECT column_name, data_type FROM duckdb_columns()"
            " WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
            table.split("."),
        ).fetchall()
    }
    head = con.sql(f"SELECT * FROM {table} LIMIT {PREVIEW_ROWS}").pl()
    wanted = [c for c in (*SOURCE_COLUMNS, *URL_COLUMNS) if c in types]
    extra = [f'max("{c}") AS "{c}"' for c in AS_OF_COLUMNS if c in types]
    parts = {}
    if wanted:
        parts["distinct"] = con.sql(
            f"SELECT DISTINCT {', '.join(chr(34) + c + chr(34) for c in wanted)}"
            f" FROM {table} LIMIT 50"
        ).pl()
    if extra:
        parts["as_of"] = con.sql(f"SELECT {', '.join(extra)} FROM {table}").pl()
    return head, rows, {"types": types, **parts}


def _chart(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, Any]:
    """The table's chart as a markdown image; nothing if the table cannot be drawn."""
    from altflow import charts

    if table not in charts.TABLE_CHARTS:
        return {}
    label, _, sql = charts.TABLE_CHARTS[table]
    try:
        frame = con.sql(sql).pl()
    except duckdb.Error:  # a column the chart needs is not there: no chart, never a failure
        return {}
    png = charts.table_chart(table, frame)
    return {label: MetadataValue.md(charts.markdown_image(png, f"{table}: {label}"))}


def table_metadata(
    con_or_frame: duckdb.DuckDBPyConnection | pl.DataFrame, table: str, **extra: object
) -> dict[str, Any]:
    """Materialization metadata for ``table``: row count, column schema, preview, sources.

    ``con_or_frame``: the writer's connection (the state just built, inside its
    transaction) or the frame that was written. ``extra`` entries are added as given.
    """
    if isinstance(con_or_frame, pl.DataFrame):
        frame = con_or_frame
        head, rows = frame.head(PREVIEW_ROWS), frame.height
        types = {name: str(dtype) for name, dtype in frame.schema.items()}
        distinct, as_of_frame = frame, frame
    else:
        head, rows, parts = _read(con_or_frame, table)
        types = parts["types"]
        distinct = parts.get("distinct", pl.DataFrame())
        as_of_frame = parts.get("as_of", pl.DataFrame())
    meta: dict[str, Any] = {
        "dagster/row_count": rows,
        "dagster/table_name": table,
        "preview": MetadataValue.md(markdown_preview(head) if rows else "_no rows_"),
    }
    if rows > PREVIEW_ROWS:
        meta["preview"] = MetadataValue.md(
            markdown_preview(head) + f"\n\n_{rows - PREVIEW_ROWS:,} more rows._"
        )
    schema = column_schema(table, types)
    if schema is not None:
        meta["dagster/column_schema"] = schema
    sources = _distinct(distinct, SOURCE_COLUMNS, 8)
    if sources:
        meta["sources"] = ", ".join(sources)
    urls = _distinct(distinct, URL_COLUMNS, 6)
    if urls:
        meta["source_urls"] = MetadataValue.md("\n".join(f"- <{u}>" for u in urls))
    as_of = _as_of(as_of_frame)
    if as_of:
        meta["as_of"] = as_of
    if not isinstance(con_or_frame, pl.DataFrame) and rows:
        meta.update(_chart(con_or_frame, table))
    meta.update(extra)
    return meta


def layer_group(key_path: Sequence[str], current: str | None) -> str:
    """The lineage-graph group: the table's layer; Python model and report keep theirs."""
    if current in ("model", "report"):
        return current
    return key_path[0] if key_path and key_path[0] in LAYERS else (current or "default")


def _decorate_spec(spec: AssetSpec) -> AssetSpec:
    table = ".".join(spec.key.path)
    item = _entry(table)
    updates: dict[str, Any] = {
        "group_name": layer_group(spec.key.path, spec.group_name),
        "owners": list(spec.owners) or [OWNER],
    }
    if not spec.description and item is not None:
        updates["description"] = item.description
    spec = spec.replace_attributes(**updates)
    metadata: dict[str, Any] = {}
    if "dagster/column_schema" not in (spec.metadata or {}):
        schema = column_schema(table)
        if schema is not None:
            metadata["dagster/column_schema"] = schema
    if item is not None and item.grain:
        metadata["grain"] = ", ".join(item.grain)
    kinds = {"table"} if spec.key.path[0] in LAYERS else set()
    tags = {"layer": spec.key.path[0]} if spec.key.path[0] in LAYERS else {}
    return spec.merge_attributes(metadata=metadata, kinds=kinds - set(spec.kinds), tags=tags)


def decorate(assets_defs: Iterable[AssetsDefinition]) -> list[AssetsDefinition]:
    """Every asset with an owner, its layer as group, and its column schema from the YAML."""
    return list(map_asset_specs(_decorate_spec, list(assets_defs)))
