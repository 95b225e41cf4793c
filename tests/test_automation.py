"""Schedules and sensors produce the right run requests (Dagster's build contexts)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    AssetMaterialization,
    DagsterInstance,
    Definitions,
    SensorResult,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
)

from pipelines import automation

GOLD = """\
name: gold-test
pool: {series: dc_plans}
adoption: {curve: linear, start: 2026-03-31, years: 1, plan_share: 0.5}
allocations: {gold: 0.01}
horizon_years: 1
"""


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory) -> Definitions:
    from pipelines.definitions import build_definitions

    path = tmp_path_factory.mktemp("wh") / "altflow.duckdb"
    return build_definitions(path)  # the code location merges automation.automation()


def _selected(defs: Definitions, job: str) -> set[str]:
    job_def = defs.resolve_job_def(job)
    return {k.to_user_string() for k in job_def.asset_layer.selected_asset_keys}


def test_daily_market_schedule_runs_live_market_sources_and_downstream(defs: Definitions) -> None:
    schedule = defs.resolve_schedule_def("daily_market_data")
    assert schedule.cron_schedule == "0 6 * * *" and schedule.execution_timezone == "UTC"
    result = schedule.evaluate_tick(
        build_schedule_context(scheduled_execution_time=datetime(2026, 12, 2, 6, 0))
    )
    [request] = result.run_requests
    assert request.run_config["resources"]["sources"]["config"]["mode"] == "live"
    assert request.tags["altflow/writer"] == "warehouse"
    selected = _selected(defs, "market_data_live")
    assert {"raw/lbma_prices", "raw/coingecko_market_chart", "raw/fred_observations"} <= selected
    assert {"marts/market_snapshot", "marts/scenario_impact", "publish/warehouse"} <= selected
    assert "raw/ici_retirement_assets" not in selected
    job = defs.resolve_job_def("market_data_live")
    assert job.op_retry_policy == automation.FETCH_RETRY and job.op_retry_policy.max_retries == 3


def test_quarterly_schedule_follows_ici_and_z1_release_months(defs: Definitions) -> None:
    schedule = defs.resolve_schedule_def("quarterly_retirement_data")
    assert list(schedule.cron_schedule) == list(automation.QUARTERLY_CRONS)
    ticks = []
    for cron in automation.QUARTERLY_CRONS:
        minute, hour, day, months, _ = cron.split()
        ticks += [(int(m), int(day)) for m in months.split(",")]
    # after Z.1 (second week) and ICI (third/fourth week) of Mar/Jun/Sep/Dec, plus a late pass
    assert sorted(ticks) == [(1, 10), (3, 28), (4, 10), (6, 28), (7, 10), (9, 28), (10, 10),
                             (12, 28)]
    result = schedule.evaluate_tick(
        build_schedule_context(scheduled_execution_time=datetime(2026, 12, 28, 7, 0))
    )
    [request] = result.run_requests
    assert request.run_config["resources"]["sources"]["config"]["mode"] == "live"
    selected = _selected(defs, "retirement_data_live")
    assert {"raw/ici_retirement_assets", "raw/fred_observations",
            "marts/retirement_assets", "marts/pool_growth"} <= selected
    assert "raw/lbma_prices" not in selected


def _tick(sensor, instance: DagsterInstance, cursor: str | None):  # noqa: ANN001, ANN202
    result = sensor(build_sensor_context(instance=instance, cursor=cursor))
    if isinstance(result, SensorResult):  # apply partition changes as the daemon would
        for req in result.dynamic_partitions_requests or []:
            if type(req).__name__ == "AddDynamicPartitionsRequest":
                instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
            else:
                for key in req.partition_keys:
                    instance.delete_dynamic_partition(req.partitions_def_name, key)
    return result


def test_scenario_sensor_adds_reruns_and_removes_partitions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "gold-test.yaml").write_text(GOLD)
    (folder / "other.yml").write_text(GOLD.replace("gold-test", "other"))
    monkeypatch.setenv("ALTFLOW_SCENARIOS", str(folder))
    instance = DagsterInstance.ephemeral()
    sensor = automation.scenario_sensor()

    first = _tick(sensor, instance, None)
    assert sorted(r.partition_key for r in first.run_requests) == ["gold-test", "other"]
    assert all(r.tags["altflow/writer"] == "warehouse" for r in first.run_requests)
    assert sorted(instance.get_dynamic_partitions("scenarios")) == ["gold-test", "other"]

    # nothing changed: skip, and the cursor stays valid
    again = _tick(sensor, instance, first.cursor)
    assert isinstance(again, SkipReason)

    # one file edited: only that partition reruns, with a new run key
    (folder / "other.yml").write_text(GOLD.replace("gold-test", "other").replace("0.01", "0.02"))
    edited = _tick(sensor, instance, first.cursor)
    [rerun] = edited.run_requests
    assert rerun.partition_key == "other"
    before = {r.partition_key: r.run_key for r in first.run_requests}
    assert rerun.run_key != before["other"]

    # one file removed: its partition goes, and the file list (which drops its rows) runs
    (folder / "gold-test.yaml").unlink()
    removed = _tick(sensor, instance, edited.cursor)
    [prune] = removed.run_requests
    assert prune.partition_key is None
    assert AssetKey(["marts", "scenario_files"]) in prune.asset_selection
    assert instance.get_dynamic_partitions("scenarios") == ["other"]
    assert json.loads(removed.cursor) == {"other": automation.file_digests(folder)["other"]}


def test_scenario_sensor_first_tick_leaves_registered_partitions_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`altflow run` registers every partition; a new daemon must not rerun them all."""
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "gold-test.yaml").write_text(GOLD)
    (folder / "new.yaml").write_text(GOLD.replace("gold-test", "new"))
    monkeypatch.setenv("ALTFLOW_SCENARIOS", str(folder))
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("scenarios", ["gold-test"])
    result = _tick(automation.scenario_sensor(), instance, None)
    assert [r.partition_key for r in result.run_requests] == ["new"]
    assert set(json.loads(result.cursor)) == {"gold-test", "new"}


def test_scenario_marts_are_partitioned(defs: Definitions) -> None:
    graph = defs.resolve_asset_graph()
    flows = graph.get(AssetKey(["marts", "scenario_flows"]))
    assert flows.partitions_def is not None and flows.partitions_def.name == "scenarios"
    # the engine's inputs are all upstream (issue 11: lineage of the scenario marts)
    parents = {k.to_user_string() for k in flows.parent_keys}
    assert {"marts/retirement_assets", "marts/pool_growth", "marts/market_snapshot"} <= parents
    files = graph.get(AssetKey(["marts", "scenario_files"]))
    assert files.partitions_def is None
    sensor = defs.resolve_sensor_def("scenario_files_sensor")
    assert sensor.job_name == "scenario_refresh"


def test_inputs_sensor_rebuilds_scenarios_after_newer_input_marts() -> None:
    instance = DagsterInstance.ephemeral()
    sensor = automation.inputs_sensor()
    for key in automation.SCENARIO_KEYS:
        instance.report_runless_asset_event(AssetMaterialization(key))
    assert isinstance(sensor(build_sensor_context(instance=instance)), SkipReason)
    instance.report_runless_asset_event(AssetMaterialization(["marts", "market_snapshot"]))
    request = sensor(build_sensor_context(instance=instance))
    assert request.partition_key is None  # every scenario, with publish and the report
    assert "marts.market_snapshot" in request.tags["altflow/trigger"]
    for key in automation.SCENARIO_KEYS:
        instance.report_runless_asset_event(AssetMaterialization(key))
    assert isinstance(sensor(build_sensor_context(instance=instance)), SkipReason)
