"""Data-quality asset checks: a Great Expectations suite per table, blocking downstream."""

from __future__ import annotations

from collections.abc import Iterable

from dagster import AssetCheckResult, AssetChecksDefinition, MetadataValue, asset_check

from altflow.quality import TableSuite, validate
from assets.warehouse import table_key
from pipelines.resources import WarehouseResource

SUITES: tuple[TableSuite, ...] = (
    TableSuite(
        "raw.fred_observations",
        not_null=("series_id", "date"),
        unique_key=("series_id", "date"),
    ),
    TableSuite(
        "marts.retirement_assets",
        not_null=("period_end", "series", "assets_usd", "source"),
        unique_key=("series", "period_end"),
        between={"assets_usd": (0, 1e15)},
    ),
    TableSuite(
        "marts.sources",
        not_null=("source", "dataset", "url", "retrieved_at", "rows", "sha256"),
        unique_key=("source", "dataset"),
        between={"rows": (1, None)},
    ),
)


def _check(suite: TableSuite) -> AssetChecksDefinition:
    @asset_check(
        asset=table_key(suite.table),
        name="expectations",
        blocking=True,
        description=f"Great Expectations suite for {suite.table}: non-null columns, unique key,"
        " value ranges and a minimum row count.",
    )
    def _run(warehouse: WarehouseResource) -> AssetCheckResult:
        frame = warehouse.get().query(f"SELECT * FROM {suite.table}")
        report = validate(frame, suite)
        return AssetCheckResult(
            passed=report.success,
            metadata={
                "expectations": report.evaluated,
                "failures": MetadataValue.md(
                    "\n".join(f"- {f}" for f in report.failures) or "none"
                ),
            },
            description="; ".join(report.failures) or None,
        )

    return _run


def quality_checks(known_tables: Iterable[str]) -> list[AssetChecksDefinition]:
    """One check per suite whose table some asset builds."""
    tables = set(known_tables)
    return [_check(s) for s in SUITES if s.table in tables]
