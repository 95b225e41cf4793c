"""Write, audit, publish: a run publishes all of its results at once, or nothing.

Kill tests start a real `altflow run --force` in a subprocess and SIGKILL it in each phase
(ingest write, mart build, check, the publish rename itself); the published file must stay
byte-identical, readable and consistent. A failed blocking check must publish nothing, and an
unchanged re-run must build nothing (asserted from the instance's events).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
from dagster import (
    AssetCheckResult,
    DagsterEventType,
    DagsterInstance,
    Definitions,
    EventRecordsFilter,
    asset_check,
)

from altflow.warehouse import Warehouse
from pipelines.cli import main

ROOT = Path(__file__).resolve().parents[1]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def state(path: Path) -> dict[str, object]:
    """What a reader sees: last publishing run, fetch-log runs, and every table's row count."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_schema || '.' || table_name FROM information_schema.tables"
                " WHERE table_schema IN ('raw', 'staging', 'marts') ORDER BY 1"
            ).fetchall()
        ]
        return {
            "published_by": con.execute(
                "SELECT run_id FROM meta.publish_log ORDER BY published_at DESC LIMIT 1"
            ).fetchone()[0],
            "fetch_runs": sorted(
                r[0] for r in con.execute("SELECT DISTINCT run_id FROM raw.fetch_log").fetchall()
            ),
            "rows": {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables},
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wap") / "altflow.duckdb"
    env = {**os.environ, "ALTFLOW_WAREHOUSE": str(path)}
    env.pop("DAGSTER_HOME", None)
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--source", "snapshot"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return path


def _consistent(path: Path) -> None:
    """Every raw fetch the published file logs was made by a run that published."""
    seen = state(path)
    con = duckdb.connect(str(path), read_only=True)
    try:
        publishers = {r[0] for r in con.execute("SELECT run_id FROM meta.publish_log").fetchall()}
    finally:
        con.close()
    assert set(seen["fetch_runs"]) <= publishers


KILL_WHEN = {
    "ingest": lambda line: line.lstrip().startswith("ok   raw/"),
    "mart build": lambda line: "] marts/" in line,
    "check": lambda line: line.lstrip().startswith("checks "),
}


@pytest.mark.parametrize("phase", sorted(KILL_WHEN))
def test_sigkill_in_a_phase_publishes_nothing(published: Path, phase: str) -> None:
    before_hash, before = sha256(published), state(published)
    env = {**os.environ, "ALTFLOW_WAREHOUSE": str(published), "PYTHONUNBUFFERED": "1"}
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "run", "--source", "snapshot", "--force"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    killed_at = None
    assert proc.stdout is not None
    for line in proc.stdout:
        if KILL_WHEN[phase](line):
            # a reader is never refused while the run writes, and sees the published state
            assert state(published) == before
            proc.send_signal(signal.SIGKILL)
            killed_at = line.strip()
            break
    proc.wait(timeout=60)
    assert killed_at, f"the run never reached phase {phase!r}"
    assert proc.returncode == -signal.SIGKILL
    assert sha256(published) == before_hash, f"published file changed after a kill at {killed_at}"
    assert state(published) == before
    _consistent(published)


def test_sigkill_during_the_publish_rename_keeps_the_previous_state(published: Path) -> None:
    before_hash, before = sha256(published), state(published)
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        import altflow.warehouse as wh
        real = os.replace
        def replace(src, dst):
            if str(dst) == {str(published)!r}:
                os.kill(os.getpid(), signal.SIGKILL)  # the instant before the rename
            return real(src, dst)
        wh.os.replace = replace
        from pipelines.cli import main
        args = ["run", "--source", "snapshot", "--force", "--warehouse", {str(published)!r}]
        sys.exit(main(args))
        """
    )
    env = {**os.environ, "ALTFLOW_WAREHOUSE": str(published)}
    env.pop("DAGSTER_HOME", None)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=600,
    )
    assert done.returncode == -signal.SIGKILL, done.stdout[-2000:] + done.stderr[-2000:]
    assert "publish/warehouse" in done.stdout
    assert sha256(published) == before_hash
    assert state(published) == before
    _consistent(published)


def test_a_failed_blocking_check_publishes_nothing(published: Path, capsys) -> None:
    from pipelines.definitions import build_definitions
    from pipelines.runner import run_assets

    @asset_check(asset=["marts", "market_prices"], name="always_fails", blocking=True)
    def always_fails() -> AssetCheckResult:
        return AssetCheckResult(passed=False, description="injected failure")

    defs = Definitions.merge(
        build_definitions(warehouse=published), Definitions(asset_checks=[always_fails])
    )
    before_hash = sha256(published)
    outcome = run_assets(defs, None, warehouse=published, force=True)
    assert not outcome.published and not outcome.success
    assert any("always_fails" in line and "injected failure" in line for line in outcome.failures)
    assert outcome.steps  # the run did build into its working copy ...
    assert sha256(published) == before_hash  # ... and published none of it
    assert outcome.working_copy is not None and outcome.working_copy.exists()
    with duckdb.connect(str(outcome.working_copy), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.market_prices").fetchone()[0] > 0
    runs = DagsterInstance.get().get_run_records()
    refused = next(r for r in runs if r.dagster_run.run_id == outcome.run_id)
    assert refused.dagster_run.tags.get("altflow/published") == "false"


def _materialized(instance: DagsterInstance) -> list[str]:
    """Every asset materialization the instance recorded, oldest first."""
    records = instance.get_event_records(
        EventRecordsFilter(event_type=DagsterEventType.ASSET_MATERIALIZATION),
        ascending=True,
        limit=100_000,
    )
    return [r.asset_key.to_user_string() for r in records]


def test_unchanged_rerun_builds_nothing_and_a_changed_scenario_rebuilds_only_its_marts(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    shipped = ROOT / "scenarios" / "gold-sleeve.yaml"
    (scenarios / shipped.name).write_text(shipped.read_text())
    path = tmp_path / "wh2" / "altflow.duckdb"
    args = ["run", "--source", "snapshot", "--warehouse", str(path), "--scenarios", str(scenarios)]
    assert main(args) == 0
    monkeypatch.setenv("DAGSTER_HOME", str(path.parent / "dagster_home"))
    instance = DagsterInstance.get()
    first = _materialized(instance)
    assert "marts/market_prices" in first
    runs_before = len(instance.get_run_records())
    published_hash = sha256(path)
    capsys.readouterr()

    assert main(args) == 0
    assert "nothing to build" in capsys.readouterr().out
    assert len(instance.get_run_records()) == runs_before  # no run at all
    assert _materialized(instance) == first
    assert sha256(path) == published_hash

    (scenarios / shipped.name).write_text(shipped.read_text() + "\n# edited\n")
    assert main(args) == 0
    rebuilt = set(_materialized(instance)[len(first):])
    assert "marts/scenario_impact" in rebuilt
    assert all(k.startswith(("marts/scenario_", "publish/", "report/")) for k in rebuilt), rebuilt


def test_readers_open_the_published_file_while_a_run_writes(published: Path) -> None:
    env = {**os.environ, "ALTFLOW_WAREHOUSE": str(published)}
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "run", "--source", "snapshot", "--force"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    reads = 0
    try:
        while proc.poll() is None:
            assert Warehouse(published).query("SELECT count(*) AS n FROM marts.sources")["n"][0]
            reads += 1
            time.sleep(0.05)
    finally:
        proc.wait(timeout=300)
    assert proc.returncode == 0
    assert reads > 5


def _duckdb_cli() -> str:
    found = Path(sys.executable).with_name("duckdb")
    if not found.exists():
        pytest.fail("duckdb-cli (dev extra) is not installed beside this Python")
    return str(found)


def test_the_published_file_opens_in_the_duckdb_1_5_cli(published: Path) -> None:
    done = subprocess.run(
        [_duckdb_cli(), "-readonly", "-csv", str(published), "-c",
         "SELECT count(*) FROM marts.market_prices; SELECT version();"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "v1.5." in done.stdout
    assert int(done.stdout.splitlines()[1]) > 1000


def test_a_warehouse_in_a_newer_storage_format_is_republished_readable(tmp_path: Path) -> None:
    path = tmp_path / "wh" / "altflow.duckdb"
    path.parent.mkdir()
    con = duckdb.connect(str(path))  # DuckDB 2.x default: storage 2.0, unreadable by 1.5
    con.execute("CREATE SCHEMA raw; CREATE TABLE raw.keep AS SELECT 42 AS answer")
    con.close()
    with Warehouse(path).writer() as writer:
        writer.execute("CREATE TABLE raw.more AS SELECT 1 AS one")
    done = subprocess.run(
        [_duckdb_cli(), "-readonly", "-csv", str(path), "-c", "SELECT answer FROM raw.keep"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1] == "42"
