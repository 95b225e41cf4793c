"""Model assets: every scenario file run against the pool and market marts."""

from collections.abc import Iterable
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    MaterializeResult,
    multi_asset,
)

from altflow import config
from altflow.scenarios.batch import MART_TABLES, run_folder
from altflow.scenarios.inputs import read_inputs
from altflow.warehouse import replace_table
from pipelines.resources import WarehouseResource

MODEL_READS = ("marts.retirement_assets", "marts.pool_growth", "marts.market_snapshot")
DESCRIPTIONS = {
    "scenario_flows": "Quarterly flow and holdings per scenario and asset (central path, with "
    "p05/p50/p95 bands where the scenario has Monte Carlo draws), US dollars.",
    "scenario_impact": "Per scenario, asset and horizon: cumulative flow, share of market cap, "
    "days of volume, permanent price impact p05/p50/p95 (inelastic-markets multiplier), "
    "execution impact (square-root law); private markets: shares of AUM, fundraising and "
    "dry powder, price impact NULL with a note.",
    "scenario_summary": "One row per scenario: total flow, flow per asset class, peak "
    "quarterly flow and headline impact.",
    "scenario_sensitivity": "Per scenario, total flow and impact over a grid of allocation "
    "scale x uptake.",
    "scenario_files": "Every scenario file seen in the last run: ok, or invalid with the "
    "key path and reason (an invalid file never blocks the valid ones).",
}


def scenario_assets(defined_tables: Iterable[str]) -> AssetsDefinition:
    deps = [AssetKey(t.split(".")) for t in MODEL_READS if t in set(defined_tables)]
    specs = [
        AssetSpec(
            ["marts", name],
            deps=deps,
            group_name="model",
            kinds={"python", "duckdb"},
            description=DESCRIPTIONS[name],
        )
        for name in (*MART_TABLES, "scenario_files")
    ]

    @multi_asset(specs=specs, name="scenario_marts")
    def scenario_marts(context: AssetExecutionContext, warehouse: WarehouseResource):
        """Run every scenario of ALTFLOW_SCENARIOS; write all its marts in one atomic write."""
        wh = warehouse.get()
        folder = Path(config.scenarios_dir())
        with wh.reader() as con:
            inputs = read_inputs(con)
        batch = run_folder(folder, inputs)
        for problem in batch.problems:
            context.log.warning(f"scenario skipped: {problem}")
        with wh.writer() as con:
            for name, frame in batch.tables.items():
                replace_table(con, f"marts.{name}", frame)
            replace_table(con, "marts.scenario_files", batch.files)
        for name in (*MART_TABLES, "scenario_files"):
            frame = batch.files if name == "scenario_files" else batch.tables.get(name)
            yield MaterializeResult(
                asset_key=["marts", name],
                metadata={
                    "dagster/row_count": 0 if frame is None else frame.height,
                    "scenarios": ", ".join(batch.scenarios) or "none",
                    "invalid_files": len(batch.problems),
                    "folder": str(folder),
                },
            )

    return scenario_marts
