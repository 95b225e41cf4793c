"""The Dagster webserver on 127.0.0.1 shows the data: every asset, check, schedule, sensor and
scenario partition, and materializations that carry a chart image and a column schema.

One snapshot run is recorded in a temporary instance; the webserver is started on a free port
against it and asked over GraphQL (a plain POST to /graphql). If the webserver cannot start on
this machine the tests are skipped, with its log, instead of failing.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from altflow import config
from assets.model import folder_keys
from pipelines.cli import main

START_TIMEOUT_S = 180


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/graphql"

    def query(self, text: str) -> dict:
        request = urllib.request.Request(
            self.url, data=json.dumps({"query": text}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            body = json.load(response)
        assert "errors" not in body, body["errors"]
        return body["data"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A snapshot run recorded in its own instance: (warehouse, DAGSTER_HOME)."""
    root = tmp_path_factory.mktemp("ui")
    warehouse, home = root / "altflow.duckdb", root / "dagster_home"
    saved = {k: os.environ.get(k) for k in ("DAGSTER_HOME", "ALTFLOW_WAREHOUSE")}
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["ALTFLOW_WAREHOUSE"] = str(warehouse)
    try:
        assert main(["run", "--source", "snapshot", "--warehouse", str(warehouse)]) == 0
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return warehouse, home


@pytest.fixture(scope="module")
def server(built: tuple[Path, Path]) -> Iterator[Server]:
    warehouse, home = built
    root = warehouse.parent
    home.mkdir(exist_ok=True)
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "ALTFLOW_WAREHOUSE": str(warehouse),
           "DAGSTER_DISABLE_TELEMETRY": "1"}
    log = root / "webserver.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dagster_webserver", "-m", "pipelines.definitions",
             "-h", "127.0.0.1", "-p", str(port)],
            cwd=config.PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    srv = Server(port)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text()[-1500:]
                pytest.skip(f"dagster webserver did not start on 127.0.0.1:{port}: {tail}")
            try:
                nodes = srv.query("{ assetNodes { id } }")["assetNodes"]
                if nodes:
                    break
            except (urllib.error.URLError, ConnectionError, OSError, AssertionError):
                pass
            time.sleep(1)
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _defs():  # noqa: ANN202
    from pipelines.definitions import build_definitions

    return build_definitions()


def test_every_asset_and_check_is_served(server: Server) -> None:
    nodes = server.query(
        "{ assetNodes { assetKey { path } groupName owners { ... on TeamAssetOwner { team } }"
        " description assetChecksOrError { ... on AssetChecks { checks { name } } } } }"
    )["assetNodes"]
    served = {"/".join(n["assetKey"]["path"]): n for n in nodes}
    defs = _defs()
    graph = defs.resolve_asset_graph()
    expected = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert expected <= set(served), expected - set(served)
    checks = {
        f"{'/'.join(n['assetKey']['path'])}:{c['name']}"
        for n in nodes for c in (n["assetChecksOrError"] or {}).get("checks", [])
    }
    defined = {f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys}
    assert defined and defined <= checks, defined - checks
    for key in expected:
        node = served[key]
        assert node["description"], key
        assert {"team": "altflow"} in node["owners"], key
        assert node["groupName"] in ("raw", "staging", "marts", "model", "publish", "report"), key


def test_schedules_sensors_and_scenario_partitions_are_served(server: Server) -> None:
    repos = server.query(
        "{ repositoriesOrError { ... on RepositoryConnection { nodes {"
        " schedules { name cronSchedule } sensors { name } } } } }"
    )["repositoriesOrError"]["nodes"]
    schedules = {s["name"] for r in repos for s in r["schedules"]}
    sensors = {s["name"] for r in repos for s in r["sensors"]}
    assert {"daily_market_data", "quarterly_retirement_data"} <= schedules
    assert {"scenario_files_sensor", "scenario_inputs_sensor"} <= sensors
    node = server.query(
        '{ assetNodeOrError(assetKey: {path: ["marts", "scenario_flows"]}) {'
        " ... on AssetNode { isPartitioned partitionKeys } } }"
    )["assetNodeOrError"]
    assert node["isPartitioned"]
    assert sorted(node["partitionKeys"]) == folder_keys()  # one partition per scenario file


def test_a_partition_materialization_holds_a_chart_and_a_column_schema(server: Server) -> None:
    asset = server.query(
        '{ assetOrError(assetKey: {path: ["marts", "scenario_impact"]}) { ... on Asset {'
        " assetMaterializations(limit: 50) { partition metadataEntries { label"
        " ... on MarkdownMetadataEntry { mdStr }"
        " ... on TableSchemaMetadataEntry { schema { columns { name description } } } } } } } }"
    )["assetOrError"]
    events = asset["assetMaterializations"]
    partitions = {e["partition"] for e in events if e["partition"]}
    assert partitions and partitions <= set(folder_keys())
    event = next(e for e in events if e["partition"])
    entries = {m["label"]: m for m in event["metadataEntries"]}
    chart = entries.get("impact_chart", {}).get("mdStr", "")
    preview = entries["preview"]["mdStr"]
    assert chart.startswith("![") and "(data:image/png;base64," in chart or "no data" in chart
    assert preview.startswith("| scenario |")
    columns = {c["name"]: c["description"] for c in
               entries["dagster/column_schema"]["schema"]["columns"]}
    assert "price_impact" in columns and "[unit: fraction]" in columns["price_impact"]
    # at least one scenario has a drawn chart
    charts = [
        m for e in events for m in e["metadataEntries"]
        if m["label"] == "impact_chart" and "data:image/png;base64," in m.get("mdStr", "")
    ]
    assert charts


def test_one_scenario_partition_reruns_alone_and_publishes(
    built: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partition run deletes and re-inserts that scenario only, then publishes."""
    import shutil

    from dagster import DagsterInstance

    from altflow.warehouse import Warehouse
    from pipelines.definitions import build_definitions

    warehouse = tmp_path / "altflow.duckdb"
    shutil.copyfile(built[0], warehouse)
    monkeypatch.setenv("ALTFLOW_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    wh = Warehouse(warehouse)
    with wh.writer() as con:  # gold-sleeve's rows lost, another scenario's row marked
        con.execute("DELETE FROM marts.scenario_flows WHERE scenario = 'gold-sleeve'")
        con.execute("UPDATE marts.scenario_summary SET description = 'marker' WHERE scenario = "
                    "'tdf-sleeve-2pct'")
    expected = Warehouse(built[0]).query(
        "SELECT count(*) AS n FROM marts.scenario_flows WHERE scenario = 'gold-sleeve'")["n"][0]
    instance = DagsterInstance.get()
    instance.add_dynamic_partitions("scenarios", folder_keys())
    job = build_definitions(warehouse).resolve_job_def("scenario_refresh")
    result = job.execute_in_process(instance=instance, partition_key="gold-sleeve")
    assert result.success
    flows = wh.query("SELECT scenario, count(*) AS n FROM marts.scenario_flows GROUP BY 1")
    rows = {r["scenario"]: r["n"] for r in flows.iter_rows(named=True)}
    assert rows["gold-sleeve"] == expected > 0  # rebuilt and published
    marker = wh.query("SELECT description FROM marts.scenario_summary"
                      " WHERE scenario = 'tdf-sleeve-2pct'")["description"][0]
    assert marker == "marker"  # the other scenarios' rows were not rewritten
    partitions = {
        e.event_specific_data.materialization.partition
        for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"
    }
    assert "gold-sleeve" in partitions
