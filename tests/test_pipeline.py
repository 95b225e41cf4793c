"""End to end: `altflow run --source snapshot` into a temporary warehouse, twice; then a
failed live refresh that must leave the earlier rows in place."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from altflow.warehouse import Warehouse
from pipelines.cli import main

CONTRACT_MARTS = {
    "marts.retirement_assets",
    "marts.market_prices",
    "marts.market_snapshot",
    "marts.scenario_flows",
    "marts.scenario_impact",
    "marts.sources",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("run") / "altflow.duckdb"
    assert main(["run", "--source", "snapshot", "--warehouse", str(path)]) == 0
    return path


def table_dump(wh: Warehouse, table: str) -> list[tuple]:
    frame = wh.query(f"SELECT * FROM {table}")
    drop = [c for c in frame.columns if c in ("loaded_at",)]
    return sorted(frame.drop(drop).rows(), key=repr)


def test_snapshot_run_builds_every_contract_mart(built: Path) -> None:
    tables = set(Warehouse(built).tables())
    assert tables >= CONTRACT_MARTS, CONTRACT_MARTS - tables


def test_cpi_reaches_staging_with_real_values(built: Path) -> None:
    wh = Warehouse(built)
    cpi = wh.query(
        "SELECT date, value FROM staging.fred_observations"
        " WHERE series_id = 'CPIAUCSL' AND date IN ('2024-01-01', '2025-11-01') ORDER BY date"
    )
    assert cpi["value"].to_list() == [309.685, 325.031]


def test_sources_mart_records_every_snapshot_file(built: Path) -> None:
    sources = Warehouse(built).query("SELECT * FROM marts.sources")
    fred = sources.filter(sources["source"] == "fred")
    assert "CPIAUCSL" in fred["dataset"].to_list()
    assert all(u.startswith("https://") for u in sources["url"].to_list())
    assert sources["sha256"].str.len_chars().min() == 64
    assert (sources["rows"] > 0).all()


def test_second_run_gives_identical_tables(built: Path, tmp_path: Path) -> None:
    wh = Warehouse(built)
    before = {t: table_dump(wh, t) for t in wh.tables() if t != "raw.fetch_log"}
    assert main(["run", "--source", "snapshot", "--warehouse", str(built)]) == 0
    after = {t: table_dump(wh, t) for t in wh.tables() if t != "raw.fetch_log"}
    assert before.keys() == after.keys()
    for table in before:
        assert before[table] == after[table], table


def test_failed_live_fetch_keeps_earlier_rows(
    built: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    wh = Warehouse(built)
    raw_before = table_dump(wh, "raw.fred_observations")
    mart_before = table_dump(wh, "marts.retirement_assets")
    httpserver.expect_request("/graph/fredgraph.csv").respond_with_data("down", status=500)
    monkeypatch.setenv("ALTFLOW_FRED_BASE_URL", httpserver.url_for("/"))
    monkeypatch.setenv("ALTFLOW_HTTP_RETRIES", "1")
    code = main(
        ["run", "--source", "live", "--select", "tag:source=fred", "--warehouse", str(built)]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "FAILED raw/fred_observations: fred " in err and "HTTP 500" in err
    assert table_dump(wh, "raw.fred_observations") == raw_before
    assert table_dump(wh, "marts.retirement_assets") == mart_before
