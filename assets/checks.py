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
        "raw.ici_retirement_assets",
        not_null=("period_end", "series", "value_usd", "release", "as_of", "url"),
        unique_key=("period_end", "series", "release", "frequency"),
        between={"value_usd": (0, 1e15)},
    ),
    TableSuite(
        "marts.pool_growth",
        not_null=("series", "latest_period_end", "latest_assets_usd", "source", "note"),
        unique_key=("series",),
        between={"cagr_1y": (-0.9, 2), "cagr_5y": (-0.9, 2), "cagr_10y": (-0.9, 2),
                 "net_contribution_rate": (-1, 1)},
    ),
    TableSuite(
        "marts.pool_reconciliation",
        not_null=("period_end", "comparison"),
        unique_key=("comparison", "period_end"),
        between={"ratio": (0.1, 10)},
    ),
    TableSuite(
        "raw.lbma_prices",
        not_null=("dataset", "asset", "fixing", "date"),
        unique_key=("dataset", "date"),
        between={"usd": (0, None)},
    ),
    TableSuite(
        "raw.coingecko_market_chart",
        not_null=("coin_id", "asset", "date", "price_usd"),
        unique_key=("coin_id", "date"),
        between={"price_usd": (0, None)},
    ),
    TableSuite(
        "raw.reference_facts",
        not_null=("asset", "metric", "unit"),
        unique_key=("asset", "metric", "as_of"),
    ),
    TableSuite(
        "marts.market_prices",
        not_null=("date", "asset", "price_usd", "source", "primary_source"),
        unique_key=("asset", "source", "date"),
        between={"price_usd": (0, None)},
    ),
    TableSuite(
        "marts.market_snapshot",
        not_null=("asset", "asset_class", "pricing", "as_of", "source"),
        unique_key=("asset",),
        between={"annual_volatility": (0, 10), "market_cap_usd": (0, 1e15),
                 "daily_volume_usd": (0, 1e13)},
        in_set={"asset_class": ("precious_metals", "crypto", "private_markets"),
                "pricing": ("market", "appraisal")},
    ),
    TableSuite(
        "marts.asset_returns",
        not_null=("asset", "source", "month_end", "price_usd"),
        unique_key=("asset", "source", "month_end"),
    ),
    TableSuite(
        "marts.sources",
        not_null=("source", "dataset", "url", "retrieved_at", "rows", "sha256"),
        unique_key=("source", "dataset"),
        between={"rows": (1, None)},
    ),
    TableSuite(
        "marts.scenario_flows",
        not_null=("scenario", "period_end", "asset", "flow_usd", "holdings_usd"),
        unique_key=("scenario", "period_end", "asset"),
        between={"holdings_usd": (0, None)},
    ),
    TableSuite(
        "marts.scenario_impact",
        not_null=("scenario", "asset", "asset_class", "horizon_end", "cumulative_flow_usd"),
        unique_key=("scenario", "asset", "horizon_end"),
        between={"share_of_market_cap": (0, None), "days_of_volume": (0, None)},
    ),
    TableSuite(
        "marts.scenario_summary",
        not_null=("scenario", "total_flow_usd", "quarters"),
        unique_key=("scenario",),
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
