"""Shared fixtures: a temporary warehouse, fast retries, and no accidental network."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every test gets its own warehouse path and quick retry backoff."""
    for var in ("ALTFLOW_SOURCE", "ALTFLOW_SCENARIOS", "DAGSTER_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ALTFLOW_WAREHOUSE", str(tmp_path / "wh" / "altflow.duckdb"))
    monkeypatch.setenv("ALTFLOW_HTTP_BACKOFF", "0.01")
    monkeypatch.setenv("ALTFLOW_HTTP_TIMEOUT", "2")
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "False")


@pytest.fixture
def warehouse_path(tmp_path: Path) -> Path:
    return tmp_path / "wh" / "altflow.duckdb"


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One warehouse built from the snapshot for the whole session (read it, never write it)."""
    from pipelines.cli import main

    path = tmp_path_factory.mktemp("built") / "altflow.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALTFLOW_WAREHOUSE", str(path))
        mp.delenv("DAGSTER_HOME", raising=False)
        assert main(["run", "--source", "snapshot", "--warehouse", str(path)]) == 0
    return path
