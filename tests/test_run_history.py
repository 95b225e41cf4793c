"""Run history: the event-log storage keeps connections open and writes what Dagster reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetCheckResult, DagsterInstance, Definitions, asset, asset_check
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from pipelines.instance import ensure_dagster_home
from pipelines.run_history import KeptOpenSqliteEventLogStorage


@asset
def numbers() -> int:
    return 3


@asset_check(asset=numbers)
def positive() -> AssetCheckResult:
    return AssetCheckResult(passed=True)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    return ensure_dagster_home()


def _run(instance: DagsterInstance) -> str:
    defs = Definitions(assets=[numbers], asset_checks=[positive])
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(instance=instance)
    assert result.success
    return result.run_id


def test_the_written_instance_uses_the_kept_open_storage(home: Path) -> None:
    instance = DagsterInstance.get()
    storage = instance.event_log_storage
    assert isinstance(storage, KeptOpenSqliteEventLogStorage)
    assert Path(storage._base_dir) == home / "history" / "runs"
    run_id = _run(instance)
    # one engine per shard, kept: the run's file and index.db, not one per event
    assert set(storage._engines) == {run_id, "index"}
    instance.dispose()


def test_a_plain_dagster_storage_reads_every_event(home: Path) -> None:
    """What `dagster dev` (default storage) or an older altflow would read from the files."""
    instance = DagsterInstance.get()
    run_id = _run(instance)
    written = [e.dagster_event_type for e in instance.all_logs(run_id)]
    instance.dispose()
    plain = SqliteEventLogStorage(str(home / "history" / "runs"))
    read = [e.dagster_event_type for e in plain.get_logs_for_run(run_id)]
    assert read == written
    kinds = {str(k) for k in read}
    assert {"DagsterEventType.ASSET_MATERIALIZATION",
            "DagsterEventType.ASSET_CHECK_EVALUATION"} <= kinds


def test_wipe_closes_the_files_and_storage_goes_on(home: Path) -> None:
    instance = DagsterInstance.get()
    first = _run(instance)
    instance.event_log_storage.wipe()
    assert not (home / "history" / "runs" / f"{first}.db").exists()
    assert instance.all_logs(first) == []
    second = _run(instance)
    assert instance.all_logs(second)
    instance.dispose()


def test_a_copied_dagster_home_writes_beside_itself(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(home, copy)
    monkeypatch.setenv("DAGSTER_HOME", str(copy))
    instance = DagsterInstance.get()
    run_id = _run(instance)
    instance.dispose()
    assert (copy / "history" / "runs" / f"{run_id}.db").exists()
    assert not (home / "history" / "runs" / f"{run_id}.db").exists()
