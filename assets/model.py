"""Model assets: every scenario file run against the pool and market marts.

Each scenario file is one partition (Dagster dynamic partitions ``scenarios``, key = the file
name without .yaml), so the UI shows each scenario's history, metadata and charts, and one
scenario can be re-run alone. How a run is partitioned decides what it writes:

- no partition key (``altflow run``, "Materialize" of the unpartitioned selection): every
  scenario of ALTFLOW_SCENARIOS, the four marts replaced whole; the run also registers the
  partitions and records one materialization per scenario partition, so the UI's partition
  view is current after a CLI run;
- one key or a range (the UI, the scenarios sensor, a backfill in one run): those scenarios
  only, delete-then-insert by scenario in one writer transaction; the other scenarios' rows
  stay as they are.

``marts.scenario_files`` is its own unpartitioned asset: it lists every file with ok or the
reason it is invalid, and drops the rows of scenarios whose file is gone.
"""


import inspect
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    DynamicPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)

from altflow import config
from altflow.scenarios import inputs as scenario_inputs
from altflow.scenarios.batch import MART_TABLES, BatchResult, run_folder
from altflow.scenarios.inputs import read_inputs
from altflow.scenarios.spec import scenario_files
from altflow.warehouse import list_tables, replace_table
from assets.ui_metadata import OWNER, table_metadata
from pipelines.resources import WarehouseResource

PARTITIONS_NAME = "scenarios"
SCENARIO_PARTITIONS = DynamicPartitionsDefinition(name=PARTITIONS_NAME)
WRITER_POOL = "altflow_warehouse"  # concurrency pool: one step at a time writes the warehouse
# Every table the engine reads. One list, kept by the engine (scenarios.inputs.READS); the
# fallback is what inputs.py queried when this module was written.
MODEL_READS: tuple[str, ...] = tuple(
    getattr(
        scenario_inputs,
        "READS",
        (
            "marts.retirement_assets",
            "marts.pool_growth",
            "marts.market_snapshot",
            "marts.market_history",
        ),
    )
)
FILES_TABLE = "marts.scenario_files"
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
    "scenario_files": "Every scenario file of ALTFLOW_SCENARIOS seen by the last run: ok, or "
    "invalid with the key path and reason (an invalid file never blocks the valid ones).",
}
# mart -> (metadata key, function of altflow.charts, title); by name, so that loading the
# definitions does not import matplotlib (0.75 s): only a step that draws does
CHARTS = {
    "scenario_flows": ("flows_chart", "scenario_flows", "Flow by quarter and asset"),
    "scenario_impact": ("impact_chart", "impact_bands", "Price impact p05/central/p95"),
    "scenario_sensitivity": (
        "sensitivity_chart", "sensitivity_heatmap", "Total flow, scale x uptake",
    ),
}


def _chart(name: str) -> tuple[str, Any, str]:
    """``CHARTS[name]`` with the drawing function itself."""
    from altflow import charts

    key, function, title = CHARTS[name]
    return key, getattr(charts, function), title


def _markdown_image(png: bytes, alt: str) -> MetadataValue:
    from altflow import charts

    return MetadataValue.md(charts.markdown_image(png, alt))


def partition_key(path: str | Path) -> str:
    """A scenario file's partition key: its name without the .yaml/.yml suffix."""
    return Path(path).stem


def folder_keys(folder: Path | None = None) -> list[str]:
    """The partition keys of the scenario files in the folder, sorted, without duplicates."""
    return sorted({partition_key(p) for p in scenario_files(folder or config.scenarios_dir())})


def _deps(defined_tables: Iterable[str]) -> list[AssetKey]:
    defined = set(defined_tables)  # a set first: the argument may be a one-shot generator
    return [AssetKey(t.split(".")) for t in MODEL_READS if t in defined]


def _run(folder: Path, inputs: Any, keys: Collection[str] | None) -> BatchResult:
    """The batch for every file, or only the files of `keys` (all files are still validated,
    so a duplicate scenario name in another file is caught)."""
    if keys is not None and "only" in inspect.signature(run_folder).parameters:
        return run_folder(folder, inputs, only=set(keys))  # type: ignore[call-arg]
    batch = run_folder(folder, inputs)
    if keys is None:
        return batch
    names = _names_of(batch.files, keys)
    tables = {t: f.filter(pl.col("scenario").is_in(names)) for t, f in batch.tables.items()}
    return BatchResult(tables, batch.problems, [s for s in batch.scenarios if s in names],
                       batch.files)


def _names_of(files: pl.DataFrame, keys: Collection[str]) -> list[str]:
    """Scenario names of the valid files whose partition key is in `keys`."""
    return [
        row["scenario"]
        for row in files.iter_rows(named=True)
        if row["status"] == "ok" and row["scenario"] and partition_key(row["file"]) in keys
    ]


def _stale_names(con: Any, keys: Collection[str]) -> list[str]:
    """Names last recorded for these files (the name inside a file may have changed)."""
    if FILES_TABLE not in list_tables(con):
        return []
    files = con.sql(f"SELECT file, scenario, status FROM {FILES_TABLE}").pl()
    return [
        r["scenario"] for r in files.iter_rows(named=True)
        if r["scenario"] and partition_key(r["file"]) in keys
    ]


def _write_partitions(con: Any, batch: BatchResult, keys: Collection[str]) -> None:
    """Delete the scenarios of these partitions, insert their new rows (same transaction)."""
    present = set(list_tables(con))
    drop = sorted({*_names_of(batch.files, keys), *_stale_names(con, keys)})
    for name in MART_TABLES:
        table = f"marts.{name}"
        new = batch.tables.get(name)
        old = (
            con.sql(f"SELECT * FROM {table}").pl().filter(~pl.col("scenario").is_in(drop))
            if table in present
            else None
        )
        parts = [f for f in (old, new) if f is not None and f.width]
        if parts:
            replace_table(con, table, pl.concat(parts, how="diagonal_relaxed"))


def _register(context: AssetExecutionContext, keys: Iterable[str]) -> None:
    """Add partitions for files that appeared, drop those whose file is gone."""
    wanted = set(keys)
    have = set(context.instance.get_dynamic_partitions(PARTITIONS_NAME))
    if wanted - have:
        context.instance.add_dynamic_partitions(PARTITIONS_NAME, sorted(wanted - have))
    for gone in sorted(have - wanted):
        context.instance.delete_dynamic_partition(PARTITIONS_NAME, gone)


def _scenario_metadata(name: str, frame: pl.DataFrame | None, scenario: str) -> dict[str, Any]:
    """One scenario's rows of one mart: table metadata plus its chart."""
    if frame is None:
        return {"dagster/row_count": 0}
    part = frame.filter(pl.col("scenario") == scenario)
    meta = table_metadata(part, f"marts.{name}", scenario=scenario)
    if name in CHARTS:
        key, draw, title = _chart(name)
        meta[key] = _markdown_image(draw(part, scenario), f"{title}: {scenario}")
    return meta


def _draw_charts(tables: dict[str, pl.DataFrame], scenarios: Iterable[str]) -> None:
    """Every scenario's charts at once, on the worker processes (the metadata and the
    report then find them drawn)."""
    from altflow import charts

    charts.draw_all([
        (_chart(name)[1], frame, (scenario,))
        for scenario in scenarios
        for name, frame in tables.items()
        if name in CHARTS and frame is not None and frame.height
    ])


def scenario_assets(defined_tables: Iterable[str]) -> list[AssetsDefinition]:
    """The scenario marts (partitioned by scenario file) and the file listing."""
    deps = _deps(defined_tables)
    specs = [
        AssetSpec(
            ["marts", name],
            deps=deps,
            group_name="model",
            kinds={"python", "duckdb", "table"},
            owners=[OWNER],
            description=DESCRIPTIONS[name],
            partitions_def=SCENARIO_PARTITIONS,
        )
        for name in MART_TABLES
    ]

    @multi_asset(
        specs=specs,
        name="scenario_marts",
        backfill_policy=BackfillPolicy.single_run(),
        pool=WRITER_POOL,
    )
    def scenario_marts(context: AssetExecutionContext, warehouse: WarehouseResource):
        """Run the scenarios of this run's partitions (all when it has none) and write them."""
        wh = warehouse.get()
        folder = Path(config.scenarios_dir())
        partitioned = context.has_partition_key or context.has_partition_key_range
        keys = list(context.partition_keys) if partitioned else None
        with wh.reader() as con:
            inputs = read_inputs(con)
        batch = _run(folder, inputs, keys)
        for problem in batch.problems:
            context.log.warning(f"scenario skipped: {problem}")
        if keys is not None:
            missing = sorted(set(keys) - set(folder_keys(folder)))
            if missing:
                context.log.warning(f"no scenario file for partition(s): {', '.join(missing)}")
        with wh.writer() as con:
            if keys is None:
                for name in MART_TABLES:
                    frame = batch.tables.get(name)
                    if frame is not None:
                        replace_table(con, f"marts.{name}", frame)
            else:
                _write_partitions(con, batch, keys)
            tables = set(list_tables(con))
            whole = {
                name: table_metadata(con, f"marts.{name}")
                for name in MART_TABLES
                if f"marts.{name}" in tables
            }
        _draw_charts(batch.tables, batch.scenarios)
        if keys is None:
            _register(context, folder_keys(folder))
            by_file = {
                r["scenario"]: partition_key(r["file"])
                for r in batch.files.iter_rows(named=True)
                if r["status"] == "ok"
            }
            for scenario in batch.scenarios:
                for name in MART_TABLES:
                    meta = _scenario_metadata(name, batch.tables.get(name), scenario)
                    meta["rows"] = meta.pop("dagster/row_count", 0)  # keep run row totals true
                    context.log_event(
                        AssetMaterialization(
                            asset_key=["marts", name], partition=by_file[scenario], metadata=meta
                        )
                    )
        for name in MART_TABLES:
            meta = dict(whole.get(name, {"dagster/row_count": 0}))
            table_rows = meta.get("dagster/row_count", 0)
            if keys is not None:
                frame = batch.tables.get(name)
                part = frame.filter(pl.col("scenario").is_in(batch.scenarios)) if (
                    frame is not None) else pl.DataFrame()
                meta = table_metadata(part, f"marts.{name}") if part.width else {
                    "dagster/row_count": 0}
                if name in CHARTS and part.height:
                    key, draw, title = _chart(name)
                    for scenario in batch.scenarios:
                        label = f"{key}_{scenario}" if len(batch.scenarios) > 1 else key
                        meta[label] = _markdown_image(draw(part, scenario),
                                                      f"{title}: {scenario}")
            meta["table_rows"] = table_rows
            meta["scenarios"] = ", ".join(batch.scenarios) or "none"
            meta["invalid_files"] = len(batch.problems)
            meta["folder"] = str(folder)
            yield MaterializeResult(asset_key=["marts", name], metadata=meta)

    @asset(
        key=["marts", "scenario_files"],
        deps=deps,
        group_name="model",
        kinds={"python", "duckdb", "table"},
        owners=[OWNER],
        description=DESCRIPTIONS["scenario_files"],
        pool=WRITER_POOL,
    )
    def scenario_file_list(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> MaterializeResult:
        """Validate every file; list it; drop mart rows of scenarios whose file is gone."""
        from altflow.scenarios.spec import load_scenarios

        wh = warehouse.get()
        folder = Path(config.scenarios_dir())
        with wh.reader() as con:
            inputs = read_inputs(con)
        paths = scenario_files(folder)
        scenarios, problems = load_scenarios(paths, inputs.known_series, inputs.known_assets)
        rows = [{"file": s.file, "scenario": s.name, "status": "ok", "problem": None}
                for s in scenarios]
        rows += [{"file": p.file, "scenario": None, "status": "invalid",
                  "problem": f"{p.key}: {p.reason}"} for p in problems]
        schema = {"file": pl.Utf8, "scenario": pl.Utf8, "status": pl.Utf8, "problem": pl.Utf8}
        files = pl.DataFrame(rows, schema=schema).sort("file")
        valid = [s.name for s in scenarios]
        dropped = 0
        with wh.writer() as con:
            replace_table(con, FILES_TABLE, files)
            present = set(list_tables(con))
            for name in MART_TABLES:
                table = f"marts.{name}"
                if table in present:
                    frame = con.sql(f"SELECT * FROM {table}").pl()
                    kept = frame.filter(pl.col("scenario").is_in(valid))
                    if kept.height != frame.height:
                        dropped += frame.height - kept.height
                        replace_table(con, table, kept)
            meta = table_metadata(con, FILES_TABLE)
        for problem in problems:
            context.log.warning(f"scenario file invalid: {problem}")
        _register(context, folder_keys(folder))
        meta.update({"valid": len(scenarios), "invalid": len(problems),
                     "stale_rows_dropped": dropped, "folder": str(folder)})
        return MaterializeResult(metadata=meta)

    return [scenario_marts, scenario_file_list]
