"""The retirement-pool marts on the real snapshot and on small synthetic inputs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from dagster import materialize

from altflow.sources import fred, ici
from altflow.sources.base import Payload
from altflow.sqlmodels import discover
from altflow.warehouse import Warehouse, build_model, load_raw
from assets.ingest.ici import ici_retirement_assets
from assets.publish import publish_asset
from pipelines.resources import SourcesResource, WarehouseResource
from tests.fixtures.ici import make_workbook

MODELS = (
    "staging.fred_observations",
    "staging.ici_retirement_assets",
    "staging.z1_retirement_series",
    "marts.retirement_assets",
    "marts.retirement_vintages",
    "marts.pool_growth",
    "marts.pool_reconciliation",
)
CONTRACT_SERIES = ("total_retirement", "ira", "dc_plans", "401k", "403b", "457", "tsp")


def fred_registry() -> dict[str, pl.DataFrame]:
    """The FRED series registry table the Z.1 staging joins (H1's raw.fred_series), if any."""
    frame = getattr(fred, "registry_frame", None)
    return {fred.REGISTRY_TABLE: frame()} if frame else {}


def build_marts(wh: Warehouse) -> None:
    models = {m.table: m for m in discover()}
    with wh.writer() as con:
        for table in MODELS:
            build_model(con, table, models[table].sql)


def load_snapshot(path: Path) -> Warehouse:
    wh = Warehouse(path)
    ici_frame, ici_payloads = ici.fetch_all(ici.Ici("snapshot"))
    source = fred.Fred("snapshot")
    fred_frame, fred_payloads = fred.fetch_all(source, source.split_available([*fred.SERIES])[0])
    load_raw(wh, {"raw.ici_retirement_assets": ici_frame, "raw.fred_observations": fred_frame,
                  **fred_registry()},
             [*ici_payloads, *fred_payloads], [1] * (len(ici_payloads) + len(fred_payloads)))
    build_marts(wh)
    return wh


@pytest.fixture(scope="module")
def snapshot_wh(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return load_snapshot(tmp_path_factory.mktemp("snap") / "a.duckdb")


def assets_at(wh: Warehouse, series: str, period_end: str) -> float:
    return wh.query(
        "SELECT assets_usd FROM marts.retirement_assets WHERE series = ? AND period_end = ?",
        [series, period_end],
    )["assets_usd"][0]


def test_2025_q1_pool_as_published(snapshot_wh: Warehouse) -> None:
    # ICI, "Retirement Assets Total $43.4 Trillion in First Quarter 2025" (ret_25_q1)
    assert assets_at(snapshot_wh, "dc_plans", "2025-03-31") == pytest.approx(12.2e12, abs=5e10)
    assert assets_at(snapshot_wh, "401k", "2025-03-31") == pytest.approx(8.7e12, abs=5e10)
    # the total was revised to 43,050bn in ret_26_q1 (Table 1 via ghost-allocator): latest wins
    assert assets_at(snapshot_wh, "total_retirement", "2025-03-31") == pytest.approx(43.05e12)
    first = snapshot_wh.query(
        "SELECT release, assets_usd FROM marts.retirement_vintages WHERE series ="
        " 'total_retirement' AND period_end = DATE '2025-03-31' ORDER BY vintage")
    assert first.rows() == [("ret_25_q1", pytest.approx(43.4e12)),
                            ("ret_26_q1", pytest.approx(43.05e12))]


def test_2025_q4_from_icis_march_2026_release(snapshot_wh: Warehouse) -> None:
    """ret_25_q4 (2026-03-26): DC 14,197bn and IRA 19,220bn; total 49,124bn then, 48,798bn in
    ret_26_q1."""
    assert assets_at(snapshot_wh, "dc_plans", "2025-12-31") == pytest.approx(14.197e12)
    assert assets_at(snapshot_wh, "ira", "2025-12-31") == pytest.approx(19.22e12)
    assert assets_at(snapshot_wh, "total_retirement", "2025-12-31") == pytest.approx(48.798e12)
    row = snapshot_wh.query(
        "SELECT release, release_date FROM marts.retirement_assets WHERE series = 'dc_plans'"
        " AND period_end = DATE '2025-12-31'").row(0)
    assert row == ("ret_25_q4", date(2026, 3, 26))


def test_dc_plans_quarters_since_2015(snapshot_wh: Warehouse) -> None:
    quarters = snapshot_wh.query(
        "SELECT period_end FROM marts.retirement_assets WHERE series = 'dc_plans'"
        " AND period_end BETWEEN DATE '2015-03-31' AND DATE '2025-12-31'")["period_end"]
    assert quarters.len() == 39  # of 44; docs/data.md lists the 5 without a public copy
    since_2015 = snapshot_wh.query(
        "SELECT count(*) AS n FROM marts.retirement_assets WHERE series = 'dc_plans'"
        " AND period_end >= DATE '2015-01-01'")["n"][0]
    assert since_2015 == 40  # ... plus 2026-03-31 (ret_26_q1)
    assert {date(2016, 9, 30), date(2018, 6, 30), date(2018, 12, 31), date(2019, 6, 30),
            date(2023, 12, 31), date(2024, 9, 30), date(2024, 12, 31),
            date(2025, 12, 31)} <= set(quarters)
    # year-ends 2023 and 2024 come from ICI's workbooks (ret_26_q1, ret_26_q2); the latest wins
    row = snapshot_wh.query(
        "SELECT assets_usd, release, vintages FROM marts.retirement_assets"
        " WHERE series = 'dc_plans' AND period_end = DATE '2023-12-31'").row(0, named=True)
    assert row == {"assets_usd": pytest.approx(11.243e12), "release": "ret_26_q2", "vintages": 2}


def test_retirement_vintages_show_how_a_quarter_moved(snapshot_wh: Warehouse) -> None:
    v = snapshot_wh.query("SELECT * FROM marts.retirement_vintages")
    for column in ("period_end", "series", "release", "release_date", "assets_usd", "source"):
        assert column in v.columns
    assert v.filter(pl.col("is_latest")).height == snapshot_wh.query(
        "SELECT count(*) AS n FROM marts.retirement_assets WHERE source = 'ici'")["n"][0]
    ira = v.filter(pl.col("series") == "ira", pl.col("period_end") == date(2017, 12, 31))
    assert ira.select("release", "release_date", "assets_usd", "revision_usd").rows() == [
        ("ret_17_q4", date(2018, 3, 22), pytest.approx(8.9e12), None),
        ("ret_17_q4", date(2018, 4, 19), pytest.approx(9.2e12), pytest.approx(0.3e12)),
    ]
    assert v.group_by("period_end", "series", "release", "release_date").len()["len"].max() == 1


def test_retirement_assets_contract_columns_and_provenance(snapshot_wh: Warehouse) -> None:
    frame = snapshot_wh.query("SELECT * FROM marts.retirement_assets")
    for column in ("period_end", "series", "assets_usd", "source", "dataset", "release", "url",
                   "as_of"):
        assert column in frame.columns
    assert frame.schema["period_end"] == pl.Date
    assert frame.filter(pl.col("source") == "ici")["url"].str.starts_with("http").all()
    assert frame["url"].null_count() == 0 and frame["as_of"].null_count() == 0
    assert set(CONTRACT_SERIES) <= set(frame["series"])
    assert frame.group_by("series", "period_end").len()["len"].max() == 1
    assert (frame["period_end"].dt.month().is_in([3, 6, 9, 12])).all()
    assert (frame["period_end"] == frame["period_end"].dt.month_end()).all()


def test_each_series_spans_2015_q1_to_latest_without_filling_gaps(snapshot_wh: Warehouse) -> None:
    raw = pl.read_csv(Path(ici.__file__).parents[2] / "snapshot/ici/retirement_quarterly.csv",
                      try_parse_dates=True)
    mart = snapshot_wh.query("SELECT * FROM marts.retirement_assets WHERE source = 'ici'")
    for series in CONTRACT_SERIES:
        got = mart.filter(pl.col("series") == series)
        published = raw.filter(pl.col("series") == series)["period_end"].unique()
        assert got["period_end"].min() == date(2015, 3, 31), series
        assert got["period_end"].max() == published.max(), series
        assert got.height == published.len(), series  # nothing interpolated, nothing lost
    # 2024-09-30: ret_24_q3's DC figure, "$12.5 trillion", as relayed by Crane Data
    assert mart.filter(pl.col("series") == "dc_plans", pl.col("period_end") == date(2024, 9, 30)
                       )["assets_usd"].to_list() == [pytest.approx(12.5e12)]


def test_latest_release_wins_where_ici_revised_a_quarter(snapshot_wh: Warehouse) -> None:
    row = snapshot_wh.query(
        "SELECT assets_usd, release, vintages FROM marts.retirement_assets"
        " WHERE series = 'ira' AND period_end = DATE '2015-12-31'"
    ).row(0, named=True)
    assert row == {"assets_usd": pytest.approx(7.33e12), "release": "ret_16_q4", "vintages": 2}


def test_z1_levels_are_quarter_ends_in_usd(snapshot_wh: Warehouse) -> None:
    z1 = snapshot_wh.query(
        "SELECT * FROM marts.retirement_assets WHERE series = 'pension_funds_z1'"
        " AND period_end = DATE '2025-09-30'")
    # FRED dates Q3 2025 as 2025-07-01; 29,564,700 millions of dollars
    assert z1["assets_usd"][0] == pytest.approx(29_564_700e6)
    assert z1["source"][0] == "fred" and z1["dataset"][0] == "BOGZ1FL594090005Q"


def test_pool_growth_on_the_snapshot(snapshot_wh: Warehouse) -> None:
    growth = snapshot_wh.query("SELECT * FROM marts.pool_growth")
    for column in ("series", "latest_period_end", "latest_assets_usd", "cagr_1y", "cagr_5y",
                   "cagr_10y", "net_contribution_rate", "note", "source"):
        assert column in growth.columns
    dc = growth.filter(pl.col("series") == "dc_plans").row(0, named=True)
    assert dc["latest_period_end"] == date(2026, 3, 31)
    assert (dc["latest_release"], dc["latest_release_date"]) == ("ret_26_q1", date(2026, 6, 18))
    assert "latest value from ICI release ret_26_q1 of 2026-06-18" in dc["note"]
    latest = assets_at(snapshot_wh, "dc_plans", "2026-03-31")
    assert latest == pytest.approx(13.802e12)  # ret_26_q1 Table 1, via ghost-allocator
    base = assets_at(snapshot_wh, "dc_plans", "2021-03-31")
    assert dc["cagr_5y_from"] == date(2021, 3, 31)
    assert dc["cagr_5y"] == pytest.approx((latest / base) ** (365.25 / 1826) - 1)
    assert dc["cagr_1y_from"] == date(2025, 3, 31)
    year = assets_at(snapshot_wh, "dc_plans", "2025-03-31")
    assert dc["cagr_1y"] == pytest.approx((latest / year) ** (365.25 / 365) - 1)
    # 10 years back (2016-03-31) exists; no base note
    assert "no figure for" not in dc["note"]
    assert dc["net_contribution_rate"] is None
    assert "ICI publishes levels only" in dc["note"]
    assert set(CONTRACT_SERIES) <= set(growth["series"])


def test_pool_reconciliation_on_the_snapshot(snapshot_wh: Warehouse) -> None:
    rec = snapshot_wh.query(
        "SELECT * FROM marts.pool_reconciliation WHERE comparison = 'employer_plans'"
        " AND period_end = DATE '2025-03-31'").row(0, named=True)
    ici_sum = 12.2e12 + 3.2e12 + 8.9e12
    assert rec["ici_usd"] == pytest.approx(ici_sum)
    assert rec["z1_usd"] == pytest.approx(27_948_000e6)
    assert rec["difference_usd"] == pytest.approx(ici_sum - 27_948_000e6)
    assert rec["ratio"] == pytest.approx(ici_sum / 27_948_000e6)


# --- synthetic Z.1 flows and a live workbook --------------------------------------------------


def fred_rows(series_id: str, points: dict[str, float]) -> pl.DataFrame:
    return pl.DataFrame({
        "series_id": series_id,
        "date": [date.fromisoformat(d) for d in points],
        "value": list(points.values()),
        "units": "Millions of Dollars",
        "frequency": "quarterly",
        "usd_per_unit": 1e6,
    })


def test_net_contribution_rate_and_dc_reconciliation_from_z1(tmp_path: Path) -> None:
    quarters = ["2024-01-01", "2024-04-01", "2024-07-01", "2024-10-01", "2025-01-01"]
    levels = dict(zip(quarters, [10_000_000, 10_200_000, 10_500_000, 10_400_000, 10_800_000],
                      strict=True))
    flows = dict(zip(quarters[1:], [20_000, 30_000, 25_000, 25_000], strict=True))
    fred_frame = pl.concat([
        fred_rows("BOGZ1FL574090055Q", levels),
        fred_rows("BOGZ1FU574090055Q", flows),
        fred_rows("BOGZ1FL224090055Q", {"2025-01-01": 600_000}),
        fred_rows("BOGZ1FL344090055Q", {"2025-01-01": 950_000}),
    ])
    workbook = Payload("ici", ici.DATASET, "https://x/system/files/2025-06/ret_25_q1_data.xls",
                       make_workbook.build(), datetime.now(UTC), "live")
    ici_frame = ici.parse_workbook(workbook, ici.Release(2025, 1))
    wh = Warehouse(tmp_path / "w.duckdb")
    load_raw(wh, {"raw.ici_retirement_assets": ici_frame, "raw.fred_observations": fred_frame,
                  **fred_registry()},
             [workbook], [ici_frame.height])
    build_marts(wh)

    growth = wh.query("SELECT * FROM marts.pool_growth WHERE series = 'private_dc_z1'").row(
        0, named=True)
    assert growth["latest_period_end"] == date(2025, 3, 31)
    assert growth["net_contribution_rate"] == pytest.approx(100_000 / 10_000_000)
    assert growth["cagr_1y"] == pytest.approx(10_800_000 / 10_000_000 - 1, rel=1e-3)
    assert "sum of 4 quarters of Z.1 transactions" in growth["note"]

    rec = wh.query("SELECT * FROM marts.pool_reconciliation WHERE period_end = DATE '2025-03-31'"
                   " AND comparison = 'dc_plans'").row(0, named=True)
    z1_dc = (10_800_000 + 600_000 + 950_000) * 1e6
    assert rec["z1_usd"] == pytest.approx(z1_dc)
    assert rec["ici_usd"] == pytest.approx(12_248e9)  # the workbook's 2025:Q1 DC plans
    assert rec["ratio"] == pytest.approx(12_248e9 / z1_dc)
    # the workbook's year-end 2024 row and its 2024:Q4 row collapse to one quarter-end
    dc = wh.query("SELECT * FROM marts.retirement_assets WHERE series = 'dc_plans'"
                  " AND period_end = DATE '2024-12-31'")
    assert dc.height == 1
    assert dc["document"][0] == "ret_25_q1_data.xls, sheet 'Table 1' (Table 1)"
    q1 = wh.query("SELECT series, assets_usd FROM marts.retirement_assets"
                  " WHERE period_end = DATE '2025-03-31' AND source = 'ici'")
    got = dict(q1.iter_rows())
    assert got["dc_plans"] == pytest.approx(12.2e12, abs=5e10)
    assert got["401k"] == pytest.approx(8.7e12, abs=5e10)
    assert {"state_local_db", "federal_db", "government_db"} <= set(got)


def test_failed_live_fetch_keeps_the_last_good_rows(
    tmp_path: Path, httpserver, monkeypatch
) -> None:
    """A broken workbook is refused: the raw table keeps the previous good data, the failure is
    logged and the fetch_fresh check fails with the reason (the run goes on)."""
    path = tmp_path / "w.duckdb"
    resources = {"warehouse": WarehouseResource(path=str(path))}
    assets = [ici_retirement_assets, publish_asset([ici_retirement_assets])]
    first = materialize(assets,
                        resources={**resources, "sources": SourcesResource(mode="snapshot")})
    assert first.success
    before = Warehouse(path).query("SELECT count(*) AS n FROM raw.ici_retirement_assets")["n"][0]

    def drop_table_1(name: str, grid: list) -> str | None:
        return "" if name == "Table 1" else None

    monkeypatch.setenv("ALTFLOW_ICI_BASE_URL", httpserver.url_for("/"))
    monkeypatch.setattr(ici.Ici, "min_interval", 0.0)
    monkeypatch.setattr(ici.Ici, "today", staticmethod(lambda: date(2025, 4, 2)))
    httpserver.expect_request("/statistical-report/ret_25_q1").respond_with_data("<html>")
    httpserver.expect_request("/system/files/2025-06/ret_25_q1_data.xls").respond_with_data(
        make_workbook.build(mutate=drop_table_1))
    result = materialize(assets, raise_on_error=False,
                         resources={**resources, "sources": SourcesResource(mode="live")})
    check = next(c for c in result.get_asset_check_evaluations()
                 if c.check_name == "fetch_fresh")
    assert not check.passed
    assert "no sheet titled like" in (check.description or ""), check.description
    after = Warehouse(path).query("SELECT count(*) AS n FROM raw.ici_retirement_assets")["n"][0]
    assert after == before
    log = Warehouse(path).query("SELECT mode, status FROM raw.fetch_log ORDER BY loaded_at")
    assert log["mode"].to_list() == ["snapshot"] * len(ici.SNAPSHOT_DATASETS) + ["live"]
    assert log["status"].to_list()[-1] == "failed"


def test_saar_flows_and_combined_z1_dc(tmp_path: Path) -> None:
    """FA (annual-rate) transactions: the year's flow is the mean of four quarters."""
    quarters = ["2024-01-01", "2024-04-01", "2024-07-01", "2024-10-01", "2025-01-01"]
    fred_frame = pl.concat([
        fred_rows("BOGZ1FL574090055Q", dict.fromkeys(quarters, 10_000_000)),
        fred_rows("BOGZ1FA574090055Q", dict(zip(quarters[1:], [80_000, 120_000, 100_000,
                                                               100_000], strict=True))),
        fred_rows("BOGZ1FL224090055Q", dict.fromkeys(quarters, 600_000)),
        fred_rows("BOGZ1FA224090055Q", dict.fromkeys(quarters[1:], 12_000)),
        fred_rows("BOGZ1FL344090055Q", dict.fromkeys(quarters, 1_000_000)),
        fred_rows("BOGZ1FA344090055Q", dict.fromkeys(quarters[1:], 40_000)),
    ])
    empty_ici = pl.DataFrame(schema=ici.RAW_SCHEMA)
    wh = Warehouse(tmp_path / "w.duckdb")
    fetched = Payload("fred", "BOGZ1FL574090055Q", "http://x", b"x", datetime.now(UTC), "live")
    load_raw(wh, {"raw.ici_retirement_assets": empty_ici, "raw.fred_observations": fred_frame,
                  **fred_registry()},
             [fetched], [fred_frame.height])
    build_marts(wh)
    growth = {r["series"]: r for r in wh.query("SELECT * FROM marts.pool_growth").iter_rows(
        named=True)}
    assert growth["private_dc_z1"]["net_contribution_rate"] == pytest.approx(0.01)
    assert growth["dc_plans_z1"]["net_contribution_rate"] == pytest.approx(
        (100_000 + 12_000 + 40_000) / 11_600_000)
    assert growth["dc_plans_z1"]["cagr_1y"] == pytest.approx(0.0)
    assert "seasonally adjusted annual rate" in growth["dc_plans_z1"]["note"]
    row = wh.query("SELECT * FROM marts.retirement_assets WHERE series = 'dc_plans_z1'"
                   " AND period_end = DATE '2025-03-31'").row(0, named=True)
    assert row["assets_usd"] == pytest.approx(11_600_000e6)
    assert row["url"] == ("https://fred.stlouisfed.org/graph/fredgraph.csv?id="
                          "BOGZ1FL224090055Q,BOGZ1FL344090055Q,BOGZ1FL574090055Q")
