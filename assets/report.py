"""Report assets: the self-contained HTML report, rebuilt after the marts it reads."""

from __future__ import annotations

from collections.abc import Iterable

from dagster import AssetKey, AssetsDefinition, MaterializeResult, MetadataValue, asset

from altflow.report import write_report
from pipelines.resources import WarehouseResource

REPORT_READS = (
    "marts.retirement_assets",
    "marts.pool_growth",
    "marts.market_snapshot",
    "marts.scenario_summary",
    "marts.scenario_impact",
    "marts.sources",
)


def report_asset(defined_tables: Iterable[str]) -> AssetsDefinition:
    tables = set(defined_tables)

    @asset(
        key=["report", "altflow_html"],
        deps=[AssetKey(t.split(".")) for t in REPORT_READS if t in tables],
        group_name="report",
        kinds={"html", "python"},
        description="Self-contained HTML report (pool, markets, scenario flows and impact, "
        "sources) written as report.html beside the warehouse file.",
    )
    def altflow_html(warehouse: WarehouseResource) -> MaterializeResult:
        wh = warehouse.get()
        out = write_report(wh, wh.path.with_name("report.html"))
        return MaterializeResult(
            metadata={"path": MetadataValue.path(str(out)), "bytes": out.stat().st_size}
        )

    return altflow_html
