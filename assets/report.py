"""Report assets: the self-contained HTML report, drawn from the published warehouse."""

from __future__ import annotations

from collections.abc import Iterable

from dagster import (
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from pipelines.resources import WarehouseResource

REPORT_READS = (
    "marts.retirement_assets",
    "marts.pool_growth",
    "marts.market_prices",
    "marts.market_snapshot",
    "marts.scenario_summary",
    "marts.scenario_flows",
    "marts.scenario_impact",
    "marts.scenario_sensitivity",
    "marts.sources",
)
# After the publish step: the report shows only what readers of the warehouse can see.
PUBLISH_KEY = AssetKey(["publish", "warehouse"])


def report_asset(defined_tables: Iterable[str]) -> AssetsDefinition:
    tables = set(defined_tables)

    @asset(
        key=["report", "altflow_html"],
        deps=[*(AssetKey(t.split(".")) for t in REPORT_READS if t in tables), PUBLISH_KEY],
        group_name="report",
        kinds={"html", "python"},
        owners=["team:altflow"],
        description="Self-contained HTML report (pool, price history, each scenario's flows, "
        "impact bands and sensitivity, method with every default and its source, sources) "
        "written as report.html beside the published warehouse file.",
    )
    def altflow_html(warehouse: WarehouseResource) -> MaterializeResult:
        published = getattr(warehouse, "published", None)
        wh = published() if callable(published) else warehouse.get()
        from altflow.report import write_report  # matplotlib: only when the report is drawn

        out = write_report(wh, wh.path.with_name("report.html"))
        page = out.read_text(encoding="utf-8")
        return MaterializeResult(
            metadata={
                "path": MetadataValue.path(str(out)),
                "bytes": out.stat().st_size,
                "charts": page.count('src="data:image/png;base64,'),
                "scenarios": page.count('id="scenario-'),
            }
        )

    return altflow_html
