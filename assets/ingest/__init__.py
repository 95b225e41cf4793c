"""Ingest assets: one per source dataset group, each tagged with its source id."""

from collections.abc import Iterator, Mapping

import polars as pl
from dagster import MaterializeResult


def table_results(
    tables: Mapping[str, pl.DataFrame], **metadata: object
) -> Iterator[MaterializeResult]:
    """One MaterializeResult per raw table a multi-asset wrote, with its row count."""
    for table, frame in tables.items():
        yield MaterializeResult(
            asset_key=table.split("."), metadata={"dagster/row_count": frame.height, **metadata}
        )
