"""The HTML report: self-contained, honest about gaps, readable amounts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from altflow.report import _cell, _segments, build_report, usd, write_report
from altflow.warehouse import Warehouse, replace_table


def test_amounts_read_as_people_write_them() -> None:
    assert usd(12.2e12) == "$12.20 trillion"
    assert usd(7.625e9) == "$7.62 billion"
    assert usd(None) == "—"
    assert _cell("total_flow_usd_p05", 1.22e9) == "$1.22 billion"
    assert _cell("share_of_market_cap", 0.0939) == "9.39 %"


def test_lines_break_over_missing_quarters() -> None:
    points = [(2020.0, 1.0), (2020.25, 1.1), (2021.0, 1.3), (2021.25, 1.4)]
    assert [len(s) for s in _segments(points)] == [2, 2]


def test_report_on_a_partial_warehouse_names_what_is_missing(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "a.duckdb")
    frame = pl.DataFrame({
        "period_end": [date(2025, 3, 31), date(2025, 6, 30)],
        "series": ["dc_plans", "dc_plans"],
        "assets_usd": [12.2e12, 12.9e12],
        "source": ["ici", "ici"],
    })
    with wh.writer() as con:
        replace_table(con, "marts.retirement_assets", frame)
    page = build_report(wh)
    assert page.startswith("<!doctype html>") and "<script" not in page and "http" not in page
    assert "<polyline" in page
    assert "marts.market_snapshot is not in the warehouse yet" in page
    out = write_report(wh, tmp_path / "r" / "report.html")
    assert out.read_text().startswith("<!doctype html>")
