"""Dagster metadata from the table entries: column schema and grain for each asset."""

from __future__ import annotations

from typing import Any

from dagster import (
    MetadataValue,
    TableColumn,
    TableColumnConstraints,
    TableConstraints,
    TableSchema,
)

from altflow import metadata


def _bounds(col: metadata.Column) -> list[str]:
    other = [f"unit: {col.unit}"]
    if col.range is not None:
        low, high = col.range
        other.append(f"range: [{'' if low is None else low}, {'' if high is None else high}]")
    if col.values is not None:
        other.append("values: " + ", ".join(map(str, col.values)))
    return other


def column_schema(table: str) -> TableSchema:
    """The table's columns as Dagster shows them (type, description, unit, constraints)."""
    item = metadata.entry(table)
    unique_alone = item.grain[0] if len(item.grain) == 1 else None
    columns = [
        TableColumn(
            name=col.name,
            type=col.type,
            description=f"{col.description} [{col.unit}]",
            constraints=TableColumnConstraints(
                nullable=col.nullable,
                unique=col.name == unique_alone,
                other=_bounds(col),
            ),
        )
        for col in item.columns
    ]
    constraints = TableConstraints(
        other=[f"grain: one row per ({', '.join(item.grain)})"] if item.grain else []
    )
    return TableSchema(columns=columns, constraints=constraints)


def table_metadata(table: str) -> dict[str, Any]:
    """Asset definition metadata for ``table``: column schema, grain and the entry's file.

    Empty when the table has no entry yet (the metadata test reports that).
    """
    try:
        item = metadata.entry(table)
    except KeyError:
        return {}
    return {
        "dagster/column_schema": column_schema(table),
        "grain": MetadataValue.text(", ".join(item.grain) or "none"),
        "metadata_entry": MetadataValue.path(str(item.path.relative_to(item.path.parents[2]))),
    }


def description(table: str, fallback: str | None = None) -> str | None:
    """The entry's description (the asset description), else ``fallback``."""
    try:
        return metadata.entry(table).description
    except KeyError:
        return fallback
