"""End to end: `altflow run --source snapshot` into a temporary warehouse, twice; then a
failed live refresh that must leave the earlier rows in place."""

from __future__ import annotations

from datetime import date, timedelta
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
    assert cpi["value"].to_list() == [309.794, 325.031]  # as in snapshot/fred/CPIAUCSL.csv


def test_sources_mart_records_every_snapshot_file(built: Path) -> None:
    sources = Warehouse(built).query("SELECT * FROM marts.sources")
    fred = sources.filter(sources["source"] == "fred")
    assert "CPIAUCSL" in fred["dataset"].to_list()
    fetched = sources.filter(sources["source"] != "reference")  # curated: a URL per row
    assert all(u.startswith("https://") for u in fetched["url"].to_list())
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


def test_live_run_with_one_source_down_refreshes_the_others_and_marks_it_stale(
    built: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """FRED is down, LBMA serves one new day: LBMA's new row reaches the marts, FRED keeps
    its rows and shows stale in marts.sources, the run publishes and exits 1."""
    import json

    from tests.conftest import PROJECT_ROOT

    wh = Warehouse(built)
    fred_before = table_dump(wh, "raw.fred_observations")
    retirement_before = table_dump(wh, "marts.retirement_assets")
    new_day = (date.today() - timedelta(days=1)).isoformat()  # live payloads must be recent
    from altflow.sources.lbma import FILES

    folder = PROJECT_ROOT / "snapshot" / "lbma"
    stand_in = {"gold_am": "gold_pm"}  # test only: files the snapshot lacks get a stand-in
    for name in FILES:
        stored = folder / f"{name}.json"
        if not stored.exists():
            stored = folder / f"{stand_in.get(name, 'silver')}.json"
        records = json.loads(stored.read_text())
        usd_gbp_eur = [4410.0, 3250.0, 3801.0] if name == "gold_pm" else [50.0, 37.0, 43.0]
        records.append({"is_cms_locked": 0, "d": new_day, "v": usd_gbp_eur})
        httpserver.expect_request(f"/json/{name}.json").respond_with_json(records)
    httpserver.expect_request("/graph/fredgraph.csv").respond_with_data("down", status=500)
    monkeypatch.setenv("ALTFLOW_FRED_BASE_URL", httpserver.url_for("/"))
    monkeypatch.setenv("ALTFLOW_LBMA_BASE_URL", httpserver.url_for("/"))
    monkeypatch.setenv("ALTFLOW_HTTP_RETRIES", "1")
    code = main(["run", "--source", "live", "--select", "tag:source=fred+ or tag:source=lbma+",
                 "--warehouse", str(built)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "\npublished:" in out, out[-3000:]
    failed = [line for line in err.splitlines() if line.startswith("FAILED")]
    fred_down = [line for line in failed if line.startswith("FAILED check raw/fred_observations")]
    assert fred_down and "fetch_fresh" in fred_down[0] and "HTTP 500" in fred_down[0]
    assert not [line for line in failed if "lbma_prices:fetch_fresh" in line], failed
    assert table_dump(wh, "raw.fred_observations") == fred_before
    assert table_dump(wh, "marts.retirement_assets") == retirement_before
    gold = wh.query(
        "SELECT price_usd FROM marts.market_prices"
        f" WHERE asset = 'gold' AND date = DATE '{new_day}' AND source = 'lbma'"
    )
    assert gold["price_usd"].to_list() == [4410.0]
    sources = wh.query("SELECT source, dataset, status, stale_since, status_reason, mode"
                       " FROM marts.sources")
    fred = sources.filter(sources["source"] == "fred")
    status = dict(zip(fred["dataset"], fred["status"], strict=True))
    assert status["CPIAUCSL"] == "stale"  # had good data: kept, marked stale
    assert set(status.values()) <= {"stale", "failed"}  # failed: never fetched (not in snapshot)
    assert fred["stale_since"].null_count() == 0
    assert all("500" in r for r in fred["status_reason"].to_list())
    lbma_rows = sources.filter(sources["source"] == "lbma")
    assert set(lbma_rows["status"].to_list()) == {"fresh"}
    assert set(lbma_rows["mode"].to_list()) == {"live"}


def test_every_shipped_scenario_reaches_the_marts(built: Path) -> None:
    from altflow.scenarios.spec import load_scenarios, scenario_files
    from tests.conftest import PROJECT_ROOT

    scenarios, problems = load_scenarios(scenario_files(PROJECT_ROOT / "scenarios"))
    assert not problems
    wh = Warehouse(built)
    files = wh.query("SELECT scenario, status FROM marts.scenario_files")
    assert set(files["status"].to_list()) == {"ok"}
    names = {s.name for s in scenarios}
    for table in ("scenario_flows", "scenario_impact", "scenario_summary", "scenario_sensitivity"):
        got = set(wh.query(f"SELECT DISTINCT scenario FROM marts.{table}")["scenario"].to_list())
        assert got == names, table


def test_example_queries_run_on_the_built_warehouse(built: Path) -> None:
    from tests.conftest import PROJECT_ROOT

    wh = Warehouse(built)
    for path in sorted((PROJECT_ROOT / "sql" / "examples").glob("*.sql")):
        frame = wh.query(path.read_text())
        assert frame.width >= 3, path.name


def test_query_command_is_read_only_and_formats(built: Path, capsys) -> None:
    assert main(["query", "SELECT 1 AS a, 'x' AS b", "--format", "csv",
                 "--warehouse", str(built)]) == 0
    assert capsys.readouterr().out.strip() == "a,b\n1,x"
    assert main(["query", "DROP TABLE marts.sources", "--warehouse", str(built)]) == 2
    assert "read-only" in capsys.readouterr().err
    assert "marts.sources" in Warehouse(built).tables()


def test_scenarios_cli_validate_and_run(built: Path, tmp_path: Path, capsys) -> None:
    import json

    from tests.conftest import PROJECT_ROOT

    shipped = sorted((PROJECT_ROOT / "scenarios").glob("*.yaml"))
    assert main(["scenarios", "validate", *map(str, shipped), "--warehouse", str(built)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\ndescription: x\npool: {series: no_such_series}\nhorizon_years: 1\n"
        "allocations: {gold: 1.5}\nadoption: {curve: immediate}\n"
    )
    capsys.readouterr()
    assert main(["scenarios", "validate", str(bad), "--warehouse", str(built)]) == 2
    lines = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith(f"{bad}: allocations.gold: ") for line in lines), lines
    assert any(line.startswith(f"{bad}: pool.series: ") for line in lines), lines
    assert main(["scenarios", "run", str(shipped[0]), "--json", "--warehouse", str(built)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc and isinstance(doc, dict)


CONTRACT_COLUMNS = {
    "marts.retirement_assets": {"period_end", "series", "assets_usd", "source"},
    "marts.market_prices": {"date", "asset", "price_usd", "source"},
    "marts.market_snapshot": {
        "asset", "asset_class", "as_of", "price_usd", "market_cap_usd", "daily_volume_usd",
        "annual_volatility", "source", "note",
    },
    "marts.scenario_flows": {"scenario", "period_end", "asset", "flow_usd", "holdings_usd"},
    "marts.scenario_impact": {
        "scenario", "asset", "horizon_end", "cumulative_flow_usd", "share_of_market_cap",
        "days_of_volume", "price_impact_p05", "price_impact_p50", "price_impact_p95", "note",
    },
    "marts.sources": {"source", "dataset", "url", "retrieved_at", "as_of", "rows", "sha256"},
}
CONTRACT_ASSETS = {"gold", "silver", "platinum", "bitcoin", "ether", "private_equity",
                   "private_credit"}


def test_marts_have_the_contract_columns_and_types(built: Path) -> None:
    wh = Warehouse(built)
    for table, columns in CONTRACT_COLUMNS.items():
        schema, name = table.split(".")
        types = dict(wh.query(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = ? AND table_name = ?", [schema, name]).rows())
        assert columns <= types.keys(), (table, columns - types.keys())
        for column, kind in types.items():
            if column in ("period_end", "date", "as_of", "horizon_end"):
                assert kind == "DATE", (table, column, kind)


def test_market_snapshot_covers_contract_assets_and_explains_nulls(built: Path) -> None:
    snap = Warehouse(built).query("SELECT * FROM marts.market_snapshot")
    assert set(snap["asset"].to_list()) >= CONTRACT_ASSETS
    classes = dict(zip(snap["asset"].to_list(), snap["asset_class"].to_list(), strict=True))
    assert classes["gold"] == "precious_metals" and classes["bitcoin"] == "crypto"
    assert classes["private_equity"] == "private_markets"
    for row in snap.iter_rows(named=True):
        if row["price_usd"] is None or row["market_cap_usd"] is None:
            assert row["note"], row["asset"]


def test_private_market_price_impact_is_null_with_a_note(built: Path) -> None:
    impact = Warehouse(built).query(
        "SELECT * FROM marts.scenario_impact WHERE asset_class = 'private_markets'"
    )
    assert impact.height > 0
    assert impact["price_impact_p50"].null_count() == impact.height
    assert all("appraisal" in (n or "") for n in impact["note"].to_list())


def test_published_default_flow_estimates(built: Path) -> None:
    summary = Warehouse(built).query("SELECT scenario, total_flow_usd FROM marts.scenario_summary")
    got = dict(summary.rows())
    assert got["bitwise-1pct-bitcoin"] == pytest.approx(122e9, rel=1e-9)
    assert got["default-flows-a0010-u10"] == pytest.approx(1.22e9, rel=1e-9)
    assert got["default-flows-a0025-u25"] == pytest.approx(7.625e9, rel=1e-9)
    assert got["default-flows-a0050-u25"] == pytest.approx(15.25e9, rel=1e-9)
    assert got["default-flows-a0100-u50"] == pytest.approx(61e9, rel=1e-9)


def test_raw_rows_match_the_snapshot_files(built: Path) -> None:
    """Every FRED observation line of the snapshot lands in raw, once."""
    import json

    from tests.conftest import PROJECT_ROOT

    folder = PROJECT_ROOT / "snapshot" / "fred"
    manifest = json.loads((folder / "manifest.json").read_text())
    expected = {
        f["dataset"]: len((folder / f["path"]).read_text().strip().splitlines()) - 1
        for f in manifest["files"]
    }
    got = dict(Warehouse(built).query(
        "SELECT series_id, count(*) FROM raw.fred_observations GROUP BY ALL").rows())
    assert got == expected
