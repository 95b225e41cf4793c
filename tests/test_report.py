"""The HTML report: self-contained, every section and chart, readable amounts and percentages."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from altflow import charts
from altflow.display import pct, usd
from altflow.report import _cell, build_report, link, long_text, write_report
from altflow.warehouse import Warehouse, replace_table
from pipelines.cli import main


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("run") / "altflow.duckdb"
    assert main(["run", "--source", "snapshot", "--warehouse", str(path)]) == 0
    return path


def test_amounts_and_percentages_read_as_people_write_them() -> None:
    assert usd(12.2e12) == "$12.20 trillion"
    assert usd(None) == "—"
    assert pct(1.148) == "114.8 %"  # a headline impact of +115 %, not "1.148"
    assert pct(0.0939) == "9.39 %"
    assert _cell("total_flow_usd_p05", 1.22e9) == ("$1.22 billion", True)
    assert _cell("headline_price_impact", 1.148) == ("114.8 %", True)
    assert _cell("annual_volatility", 0.4631)[0] == "46.3 %"


def test_long_text_and_urls_go_behind_links() -> None:
    url = "https://www.ici.org/research/stats/retirement/ret_25_q2"
    assert link(url) == f'<a href="{url}" title="{url}">source</a>'
    assert link(f"{url} ; https://fred.stlouisfed.org/x").count("<a href") == 2
    folded = long_text("x" * 200)
    assert folded.startswith("<details><summary>note</summary>") and "x" * 200 in folded
    assert long_text("short") == "short"


def test_lines_break_over_missing_quarters() -> None:
    dates = [date(2020, 3, 31), date(2020, 6, 30), date(2021, 3, 31), date(2021, 6, 30)]
    assert [len(x) for x, _ in charts._segments(dates, [1.0, 1.1, 1.3, 1.4])] == [2, 2]
    # an isolated point is its own segment (drawn as a marker, never vanishes)
    assert [len(x) for x, _ in charts._segments(dates[:3], [1.0, None, 1.3])] == [1, 1]


def test_report_on_a_partial_warehouse_names_what_is_missing(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "a.duckdb")
    frame = pl.DataFrame({
        "period_end": [date(2025, 3, 31), date(2025, 6, 30)],
        "series": ["dc_plans", "dc_plans"],
        "assets_usd": [12.2e12, 12.9e12],
        "source": ["ici", "ici"],
        "url": ["https://www.ici.org/a", "https://www.ici.org/a"],
        "as_of": [date(2025, 6, 30)] * 2,
    })
    with wh.writer() as con:
        replace_table(con, "marts.retirement_assets", frame)
    page = build_report(wh)
    assert page.startswith("<!doctype html>") and "<script" not in page
    assert page.count('src="data:image/png;base64,') == 1
    assert "marts.market_snapshot is not in the warehouse yet" in page
    assert "Sources: ici" in page and "As of 2025-06-30" in page
    out = write_report(wh, tmp_path / "r" / "report.html")
    assert out.read_text().startswith("<!doctype html>")


def test_report_on_a_built_warehouse_has_every_section_and_chart(built: Path) -> None:
    wh = Warehouse(built)
    page = build_report(wh)
    # self-contained: no scripts, stylesheets or images fetched from anywhere
    assert "<script" not in page and "<link" not in page
    assert not re.search(r'src="(?!data:)', page)
    for anchor in ("pool", "markets", "scenarios", "method", "sources"):
        assert f'id="{anchor}"' in page, anchor
    scenarios = wh.query("SELECT scenario FROM marts.scenario_summary")["scenario"].to_list()
    assert len(scenarios) >= 5
    for name in scenarios:
        section = page.split(f'id="scenario-{name}"')[1].split("<h3")[0]
        assert f'alt="Flows of {name}"' in section, name
        assert "Pool:" in section and "markets as of" in section
    images = page.count('src="data:image/png;base64,')
    # pool + prices + per scenario (flows, impact, sensitivity) where the scenario has them
    assert images >= 2 + 2 * len(scenarios)
    assert "no data to draw" not in page.split('id="scenarios"')[0]
    # method: every default with its source, multipliers included
    assert "multiplier_bitcoin" in page and "multiplier_gold" in page
    assert "https://www.nber.org/papers/w28967" in page
    # percentages as percentages: the biggest headline impact is printed with a % sign
    top = wh.query("SELECT max(headline_price_impact) AS m FROM marts.scenario_summary")["m"][0]
    assert pct(top) in page
    # every figure has sources and an as-of date under it
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page, flags=re.S)
    assert len(captions) >= images  # a figure with no data says so, with its caption
    assert all("as of" in c.lower() for c in captions)


def test_a_scenario_chart_is_drawn_once_for_the_ui_and_the_report(built: Path) -> None:
    """The UI metadata draws from the in-memory mart, the report from the published table:
    the same rows (other types, order and memory layout) give the same chart, drawn once."""
    wh = Warehouse(built)
    table = wh.query("SELECT * FROM marts.scenario_flows")
    name = table["scenario"][0]
    in_memory = pl.concat([table.filter(pl.col("scenario") == name).reverse(), table.head(0)],
                          rechunk=False)
    charts._DRAWN.clear()
    first = charts.scenario_flows(in_memory, name)
    again = charts.scenario_flows(table, name)
    assert first is not None and again is first
    assert len(charts._DRAWN) == 1
    other = table.filter(pl.col("scenario") != name)["scenario"][0]
    assert charts.scenario_flows(table, other) != first
    assert len(charts._DRAWN) == 2
