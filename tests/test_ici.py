"""ICI source: workbook parser on ICI's layout, snapshot parser, release discovery, failures."""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from altflow.sources import ici
from altflow.sources.base import Payload, read_snapshot
from altflow.sources.errors import SourceError
from tests.conftest import FIXTURES
from tests.fixtures.ici import make_workbook

WORKBOOK_URL = "https://www.ici.org/system/files/2025-06/ret_25_q1_data.xls"
Q1_2025 = ici.Release(2025, 1)


def workbook_payload(content: bytes, url: str = WORKBOOK_URL) -> Payload:
    return Payload("ici", ici.DATASET, url, content, datetime.now(UTC), "live")


def parse(content: bytes, release: ici.Release = Q1_2025) -> pl.DataFrame:
    return ici.parse_workbook(workbook_payload(content), release)


def value(frame: pl.DataFrame, series: str, period: str) -> float:
    rows = frame.filter((pl.col("series") == series) & (pl.col("period") == period))
    assert rows.height == 1, (series, period, rows)
    return rows["value_usd"][0]


# --- the workbook ------------------------------------------------------------------------------


def test_fixture_file_is_the_generated_layout() -> None:
    """tests/fixtures/ici/ret_25_q1_data.xls is what make_workbook.build() writes."""
    fixture = (FIXTURES / "ici" / "ret_25_q1_data.xls").read_bytes()
    assert parse(fixture).equals(parse(make_workbook.build()))


def test_parses_table_1_and_dc_table_in_icis_layout() -> None:
    frame = parse((FIXTURES / "ici" / "ret_25_q1_data.xls").read_bytes())
    assert frame.columns == list(ici.RAW_SCHEMA)
    assert set(frame["series"]) == set(ici.SERIES)
    # 2025:Q1 as ICI's release text states it: DC $12.2 trillion, 401(k) $8.7 trillion
    assert value(frame, "dc_plans", "2025:Q1") == pytest.approx(12.248e12)
    assert value(frame, "401k", "2025:Q1") == pytest.approx(8.7e12)
    assert value(frame, "ira", "2025:Q1") == pytest.approx(16.8e12)
    assert value(frame, "tsp", "2025:Q1") == pytest.approx(936e9)
    assert value(frame, "government_db", "2025:Q1") == pytest.approx(8.9e12)  # 6,100 + 2,800
    # the synthetic total is the sum of the components; ICI states $43.4 trillion
    assert value(frame, "total_retirement", "2025:Q1") == pytest.approx(43.548e12)


def test_annual_and_quarterly_rows_and_period_ends() -> None:
    frame = parse(make_workbook.build())
    ira = frame.filter(pl.col("series") == "ira").sort("period_end", "frequency")
    assert ira.filter(pl.col("frequency") == "annual")["period"].to_list() == [
        "2019", "2020", "2021", "2022", "2023", "2024"]
    quarterly = ira.filter(pl.col("frequency") == "quarterly")
    assert quarterly["period"].to_list()[-2:] == ["2024:Q4", "2025:Q1"]
    assert quarterly["period_end"].to_list()[:4] == [
        date(2023, 3, 31), date(2023, 6, 30), date(2023, 9, 30), date(2023, 12, 31)]
    # the year-end row of 2024 and the 2024:Q4 row share their period end
    assert ira.filter(pl.col("period_end") == date(2024, 12, 31)).height == 2
    assert frame["release"].unique().to_list() == ["ret_25_q1"]
    assert frame["as_of"].unique().to_list() == [date(2025, 3, 31)]
    assert frame["url"].unique().to_list() == [WORKBOOK_URL]
    assert frame.filter(pl.col("series") == "401k")["document"][0] == (
        "ret_25_q1_data.xls, sheet 'Table 4' (DC plans by type)")


def test_unit_conversion_billions_to_usd() -> None:
    frame = parse(make_workbook.build())
    assert (frame["value_usd"] == frame["value_billions_usd"] * 1e9).all()
    assert frame.filter(pl.col("period") == "2025:Q1", pl.col("series") == "457")[
        "value_billions_usd"][0] == 477.0


def test_estimate_markers_beside_values_and_in_labels() -> None:
    def mark(name: str, grid: list[list[Any]]) -> None:
        if name == "Table 1":
            for row in grid:
                if row and row[0] == "2024:Q3":
                    row[0] = "2024:Q3e"  # marker typed into the period label
                    row[1] = "16,950e"  # a number stored as text with its marker

    frame = parse(make_workbook.build(mutate=mark))
    est = dict(frame.filter(pl.col("series") == "ira").select("period", "estimated").iter_rows())
    assert est["2025:Q1"] is True and est["2024:Q4"] is True  # "e" in the marker column
    assert est["2024:Q3"] is True and est["2024:Q2"] is False
    assert value(frame, "ira", "2024:Q3") == pytest.approx(16.95e12)


def test_footnote_markers_superscripts_and_wrapped_headers() -> None:
    def relabel(name: str, grid: list[list[Any]]) -> None:
        if name == "Table 1":
            grid[4][1] = "IRAs\u00b9"
            grid[4][7] = "State and local\ngovernment DB plans\u2074"
        if name == "Table 4":
            grid[4][9] = "TSP\u2074"
        if name in ("Table 1", "Table 4"):
            for row in grid:
                if row and row[0] == "2019":
                    row[0] = 2019.0  # a year stored as a number

    frame = parse(make_workbook.build(mutate=relabel))
    assert value(frame, "ira", "2025:Q1") == pytest.approx(16.8e12)
    assert value(frame, "tsp", "2019") > 0
    assert value(frame, "state_local_db", "2025:Q1") == pytest.approx(6.1e12)


def test_normalise_label() -> None:
    assert ici.normalise_label("DC plans2") == "dc plans"
    assert ici.normalise_label("401(k) plans") == "401(k) plans"
    assert ici.normalise_label("457 plans3") == "457 plans"
    assert ici.normalise_label(" Private\u2013sector  DB plans\u00b3 ") == "private-sector db plans"


# --- layout changes fail with one line naming file, sheet, row and cell ---------------------


def _drop_table_1(name: str, grid: list[list[Any]]) -> str | None:
    return "" if name == "Table 1" else None


def _move_header(name: str, grid: list[list[Any]]) -> None:
    if name == "Table 1":
        header = grid[4]
        grid[4] = []
        grid.extend([[], [], header])


def _non_numeric(name: str, grid: list[list[Any]]) -> None:
    if name == "Table 1":
        for row in grid:
            if row and row[0] == "2024:Q2":
                row[3] = "n/a"


def _rename_column(name: str, grid: list[list[Any]]) -> None:
    if name == "Table 4":
        grid[4][3] = "Other DC plans"


def _shift_header(name: str, grid: list[list[Any]]) -> None:
    if name == "Table 1":
        grid[4] = [None, *grid[4][:-1]]  # labels now sit over the marker columns


def _components_do_not_add(name: str, grid: list[list[Any]]) -> None:
    if name == "Table 1":
        for row in grid:
            if row and row[0] == "2023:Q2":
                row[5] = row[5] * 2  # private-sector DB doubled: total no longer matches


def _bad_period(name: str, grid: list[list[Any]]) -> None:
    if name == "Table 4":
        for row in grid:
            if row and row[0] == "2024:Q1":
                row[0] = "2024:Q5"


def _units_changed(name: str, grid: list[list[Any]]) -> None:
    if name == "Table 1":
        grid[2] = ["Millions of dollars, end-of-period"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_drop_table_1, r"ret_25_q1_data\.xls: no sheet titled like .*\(Table 1\) among sheets"
                        r" \['Contents', 'Table 2', 'Table 3', 'Table 4'\]: sheet missing"),
        (_move_header, r"ret_25_q1_data\.xls, sheet 'Table 1': header row \(IRAs, DC plans, .*\)"
                       r" not found in rows 1-15: header moved\?"),
        (_non_numeric, r"ret_25_q1_data\.xls, sheet 'Table 1', row 19, cell D19: non-numeric"
                       r" value 'n/a' under 'DC plans'"),
        (_rename_column, r"ret_25_q1_data\.xls, sheet 'Table 4', row 5: column 'Other"
                         r" private-sector DC plans' not found in the header .*column renamed\?"),
        (_shift_header, r"ret_25_q1_data\.xls, sheet 'Table 1', row \d+, cell [A-Z]\d+: "
                        r"(non-numeric value 'e'|no values under)"),
        (_components_do_not_add, r"sheet 'Table 1', row 15, cell N15: components add up to"
                                 r" .* but 'Total' is"),
        (_bad_period, r"sheet 'Table 4', row 18, cell A18: unrecognised period label '2024:Q5'"),
        (_units_changed, r"sheet 'Table 1': title block does not say 'Billions of dollars'"),
    ],
)
def test_layout_changes_fail_with_one_line(mutate: Any, message: str) -> None:
    with pytest.raises(SourceError) as err:
        parse(make_workbook.build(mutate=mutate))
    text = str(err.value)
    assert text.startswith("ici retirement_quarterly: "), text
    assert "\n" not in text
    assert re.search(message, text), text


def test_stale_workbook_for_the_release_fails() -> None:
    with pytest.raises(SourceError, match=r"latest period is 2025-03-31 but release ret_25_q2"):
        parse(make_workbook.build(), ici.Release(2025, 2))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<!DOCTYPE html><html><body>Just a moment...</body></html>", "got an HTML page"),
        (b"PK\x03\x04rest-of-an-xlsx", r"is an \.xlsx \(OOXML\) workbook"),
        (b"", "is empty"),
    ],
)
def test_not_a_workbook(content: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        parse(content)


def test_truncated_workbook() -> None:
    content = make_workbook.build()
    with pytest.raises(SourceError, match=r"ret_25_q1_data\.xls is not a readable \.xls"
                                          r" workbook .*truncated download\?"):
        parse(content[: len(content) // 2])


# --- the snapshot ---------------------------------------------------------------------------


def snapshot_frame() -> pl.DataFrame:
    releases = ici.parse_releases_csv(read_snapshot("ici", ici.RELEASES_DATASET))
    return pl.concat([ici.parse_snapshot_csv(read_snapshot("ici", d), releases)
                      for d in ici.FIGURE_DATASETS])


def test_snapshot_files_parse_with_urls_and_releases() -> None:
    frame = snapshot_frame()
    q1 = frame.filter(pl.col("period_end") == date(2025, 3, 31), pl.col("release") == "ret_25_q1")
    got = dict(q1.select("series", "value_usd").iter_rows())
    assert got["dc_plans"] == pytest.approx(12.2e12)
    assert got["401k"] == pytest.approx(8.7e12)
    assert got["government_db"] == pytest.approx(8.9e12)
    assert got["tsp"] == pytest.approx(936e9)  # 401kspecialistmag.com/?p=82203
    assert frame["url"].str.starts_with("http").all()
    assert frame["release"].str.contains(r"^ret_\d\d_q[1-4]$").all()
    assert (frame["period_end"] <= frame["as_of"]).all()
    assert frame["period_end"].min() == date(2015, 3, 31)
    assert (frame["release_date"] > frame["as_of"]).all()  # where known
    # ICI marks IRA figures as estimates; the other series' text says nothing. The one exception
    # is year-end 2023 in ret_26_q2, published after the IRS tax-year-2023 data it rests on
    ira = frame.filter(pl.col("series") == "ira")
    based_on_irs = (pl.col("period_end") == date(2023, 12, 31)) & (pl.col("release") == "ret_26_q2")
    assert ira.filter(~based_on_irs)["estimated"].all()
    assert ira.filter(based_on_irs)["estimated"].to_list() == [None]
    assert frame.filter(pl.col("series") != "ira")["estimated"].null_count() == frame.filter(
        pl.col("series") != "ira").height


def test_snapshot_keeps_every_vintage_of_a_quarter() -> None:
    """2025 Q4 total: $49.1T in ret_25_q4 (2026-03-26), revised to 48,798bn in ret_26_q1; and
    ret_17_q4 was issued twice (2018-03-22, and 2018-04-19 with revised IRA figures)."""
    frame = snapshot_frame()
    q4 = frame.filter(pl.col("period_end") == date(2025, 12, 31),
                      pl.col("series") == "total_retirement").sort("release")
    assert q4.select("release", "release_date", "value_billions_usd").rows() == [
        ("ret_25_q4", date(2026, 3, 26), 49124.0), ("ret_26_q1", date(2026, 6, 18), 48798.0)]
    dc = frame.filter(pl.col("period_end") == date(2025, 12, 31), pl.col("series") == "dc_plans")
    assert dc["value_usd"].to_list() == [pytest.approx(14.197e12)]
    ira_17 = frame.filter(pl.col("period_end") == date(2017, 12, 31), pl.col("series") == "ira")
    assert sorted(ira_17.select("release_date", "value_billions_usd").rows()) == [
        (date(2018, 3, 22), 8900.0), (date(2018, 4, 19), 9200.0)]
    # year-end 2023 DC: ret_26_q1's Table 6 (11,232bn) and ret_26_q2's Table 1 (11,243bn)
    dc_23 = frame.filter(pl.col("period_end") == date(2023, 12, 31), pl.col("series") == "dc_plans")
    assert sorted(dc_23.select("release", "release_date", "value_billions_usd").rows()) == [
        ("ret_26_q1", date(2026, 6, 18), 11232.0), ("ret_26_q2", date(2026, 9, 17), 11243.0)]
    assert set(frame["release_date_basis"]) <= {"stated", "article", "unknown"}
    assert frame.filter(pl.col("release_date").is_null())["release_date_basis"].eq(
        "unknown").all()


def snapshot_payload(text: str, dataset: str = ici.DATASET) -> Payload:
    return Payload("ici", dataset, "http://x", text.encode(), datetime.now(UTC), "snapshot")


HEADER = "period_end,series,value_billions_usd,release,release_date,estimated,url\n"
RELEASES = {("ret_25_q1", date(2025, 6, 18)): "stated"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("period_end,series,value_bn,release,release_date,estimated,url\n",
         r"row 1: header .*column renamed"),
        (HEADER + "2025-03-31,dc_plans,12.2T,ret_25_q1,2025-06-18,,https://x\n",
         r"retirement_quarterly\.csv, row 2, column value_billions_usd: non-numeric value"),
        (HEADER + "2025-03-31,dc,12200,ret_25_q1,2025-06-18,,https://x\n",
         r"row 2, column series: unknown"),
        (HEADER + "2025-03-30,dc_plans,12200,ret_25_q1,2025-06-18,,https://x\n",
         "not a quarter-end date"),
        (HEADER + "2025-03-31,dc_plans,12200,ret_25_q5,2025-06-18,,https://x\n",
         "column release: not a"),
        (HEADER + "2025-06-30,dc_plans,12200,ret_25_q1,2025-06-18,,https://x\n",
         "later than release"),
        (HEADER + "2025-03-31,dc_plans,12200,ret_25_q1,2025-06-18,https://x\n",
         r"6 cells, expected 7"),
        (HEADER + "2025-03-31,dc_plans,12200,ret_25_q1,2025-06-19,,https://x\n",
         r"column release_date: release ret_25_q1 of this date is not listed"),
        (HEADER + "2025-03-31,dc_plans,12200,ret_25_q1,2025-06-18,maybe,https://x\n",
         r"column estimated: not true, false or blank"),
        (HEADER + "2025-03-31,dc_plans,-12200,ret_25_q1,2025-06-18,,https://x\n",
         r"column value_billions_usd: not a positive amount '-12200'"),
        (HEADER + "2025-03-31,dc_plans,1,ret_25_q1,2025-06-18,,https://x\n"
         "2025-03-31,dc_plans,2,ret_25_q1,2025-06-18,,https://y\n", "appears twice"),
    ],
)
def test_bad_snapshot_rows_fail_naming_row_and_column(body: str, message: str) -> None:
    with pytest.raises(SourceError, match=message) as err:
        ici.parse_snapshot_csv(snapshot_payload(body), RELEASES)
    assert "\n" not in str(err.value)


RELEASES_HEADER = "release,release_date,date_basis,url,quote\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (RELEASES_HEADER + "ret_25_q1,2025-06-18,guessed,https://x,q\n", "column date_basis: not"),
        (RELEASES_HEADER + "ret_25_q1,,stated,https://x,q\n", "must be 'unknown' exactly when"),
        (RELEASES_HEADER + "ret_25_q1,2025-03-31,stated,https://x,q\n",
         "column release_date: not after the quarter ret_25_q1 covers"),
        (RELEASES_HEADER + "ret_25_q1,2025-06-18,stated,https://x,q\n"
         "ret_25_q1,2025-06-18,stated,https://x,q\n", "listed twice"),
    ],
)
def test_bad_release_rows_fail(body: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        ici.parse_releases_csv(snapshot_payload(body, ici.RELEASES_DATASET))


# --- releases and live discovery ------------------------------------------------------------


def test_release_ids_order_and_publication_months() -> None:
    assert ici.Release.parse("ret_25_q1") == Q1_2025
    assert ici.Release.last_finished(date(2025, 8, 1)) == ici.Release(2025, 2)
    assert ici.Release.last_finished(date(2026, 1, 5)) == ici.Release(2025, 4)
    assert ici.Release(2025, 1).previous() == ici.Release(2024, 4)
    assert sorted(["ret_25_q1", "ret_16_q4", "ret_24_q4"], key=ici.release_sort_key) == [
        "ret_16_q4", "ret_24_q4", "ret_25_q1"]
    assert ici.Release(2021, 4).data_paths()[0] == "/system/files/2022-03/ret_21_q4_data.xls"
    assert ici.Release(2025, 1).data_paths()[0] == "/system/files/2025-06/ret_25_q1_data.xls"
    assert ici.Release(2011, 1).data_paths()[1] == "/info/ret_11_q1_data.xls"
    with pytest.raises(ValueError):
        ici.Release.parse("ret_2025_q1")


RELEASE_PAGE = """<!DOCTYPE html><html><body>
<p>Release: Quarterly Retirement Market Data</p>
<h1>Retirement Assets Total $43.4 Trillion in First Quarter 2025</h1>
<p>Washington, DC; June 18, 2025 - Total US retirement assets were $43.4 trillion ...</p>
<a href="{href}">Data Tables (xls)</a>
</body></html>"""


@pytest.fixture
def live_ici(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> ici.Ici:
    monkeypatch.setenv("ALTFLOW_ICI_BASE_URL", httpserver.url_for("/"))
    monkeypatch.setattr(ici.Ici, "min_interval", 0.0)
    return ici.Ici("live")


def _not_found_for_everything_else(httpserver: HTTPServer) -> None:
    httpserver.expect_request(re.compile(".*")).respond_with_data("Not Found", status=404)


def test_discovery_steps_back_over_unreleased_quarters(
    httpserver: HTTPServer, live_ici: ici.Ici
) -> None:
    workbook = make_workbook.build()
    httpserver.expect_request("/statistical-report/ret_25_q1").respond_with_data(
        RELEASE_PAGE.format(href="/system/files/2025-06/ret_25_q1_data.xls"),
        content_type="text/html")
    httpserver.expect_request("/system/files/2025-06/ret_25_q1_data.xls").respond_with_data(
        workbook, content_type="application/vnd.ms-excel")
    _not_found_for_everything_else(httpserver)

    frame, payloads = ici.fetch_all(live_ici, today=date(2025, 11, 20))
    paths = [req.path for req, _ in httpserver.log]
    assert paths == [
        "/statistical-report/ret_25_q3",  # 404: not released yet
        "/statistical-report/ret_25_q2",  # 404
        "/statistical-report/ret_25_q1",
        "/system/files/2025-06/ret_25_q1_data.xls",
    ]
    assert payloads[0].dataset == ici.DATASET and payloads[0].mode == "live"
    assert payloads[0].url.endswith("/system/files/2025-06/ret_25_q1_data.xls")
    assert payloads[0].as_of == date(2025, 3, 31)
    assert frame["release_date"].unique().to_list() == [date(2025, 6, 18)]
    assert value(frame, "dc_plans", "2025:Q1") == pytest.approx(12.248e12)


def test_absolute_link_on_the_page_is_fetched_from_the_configured_host(
    httpserver: HTTPServer, live_ici: ici.Ici
) -> None:
    httpserver.expect_request("/statistical-report/ret_25_q1").respond_with_data(
        RELEASE_PAGE.format(href="https://www.ici.org/system/files/2025-05/ret_25_q1_data.xls"))
    httpserver.expect_request("/system/files/2025-05/ret_25_q1_data.xls").respond_with_data(
        make_workbook.build())
    _not_found_for_everything_else(httpserver)
    release, payload, published = live_ici.fetch_latest(today=date(2025, 7, 1))
    assert release == Q1_2025 and published == date(2025, 6, 18)
    assert payload.url.startswith(httpserver.url_for("/system/files/2025-05/"))


def test_page_without_link_falls_back_to_documented_pattern(
    httpserver: HTTPServer, live_ici: ici.Ici
) -> None:
    httpserver.expect_request("/statistical-report/ret_25_q1").respond_with_data(
        "<html><body>Retirement Assets Total</body></html>")
    httpserver.expect_request("/system/files/2025-06/ret_25_q1_data.xls").respond_with_data(
        make_workbook.build())
    _not_found_for_everything_else(httpserver)
    release, payload, published = live_ici.fetch_latest(today=date(2025, 7, 1))
    assert payload.url.endswith("/system/files/2025-06/ret_25_q1_data.xls")
    assert published is None


def test_data_file_pattern_is_overridable(httpserver: HTTPServer,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALTFLOW_ICI_BASE_URL", httpserver.url_for("/mirror"))
    monkeypatch.setattr(ici.Ici, "min_interval", 0.0)
    source = ici.Ici("live", data_file_patterns=("/files/{release}.xls",))
    httpserver.expect_request("/mirror/statistical-report/ret_25_q1").respond_with_data("<html>")
    httpserver.expect_request("/mirror/files/ret_25_q1.xls").respond_with_data(
        make_workbook.build())
    _not_found_for_everything_else(httpserver)
    _, payload, _ = source.fetch_latest(today=date(2025, 4, 2))
    assert payload.url.endswith("/mirror/files/ret_25_q1.xls")


def test_published_release_without_workbook_fails_naming_urls(
    httpserver: HTTPServer, live_ici: ici.Ici
) -> None:
    httpserver.expect_request("/statistical-report/ret_25_q1").respond_with_data("<html>")
    _not_found_for_everything_else(httpserver)
    with pytest.raises(SourceError) as err:
        live_ici.fetch_latest(today=date(2025, 4, 2))
    text = str(err.value)
    assert text.startswith("ici retirement_quarterly: release ret_25_q1 is published but")
    assert "/system/files/2025-06/ret_25_q1_data.xls" in text and "/info/ret_25_q1_data.xls" in text


def test_no_release_within_two_years_fails(httpserver: HTTPServer, live_ici: ici.Ici) -> None:
    _not_found_for_everything_else(httpserver)
    with pytest.raises(SourceError, match=r"no release page found for ret_25_q1, ret_24_q4,"):
        live_ici.fetch_latest(today=date(2025, 4, 2))
    assert len(httpserver.log) == ici.MAX_STEPS_BACK


def test_server_error_is_not_taken_for_unreleased(
    httpserver: HTTPServer, live_ici: ici.Ici, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALTFLOW_HTTP_RETRIES", "1")
    source = ici.Ici("live")
    httpserver.expect_request("/statistical-report/ret_25_q1").respond_with_response(
        Response("busy", status=503))
    with pytest.raises(SourceError, match=r"HTTP 503 .*gave up after 2 attempts"):
        source.fetch_latest(today=date(2025, 4, 2))


def test_html_instead_of_workbook_fails(httpserver: HTTPServer, live_ici: ici.Ici) -> None:
    httpserver.expect_request("/statistical-report/ret_25_q1").respond_with_data("<html>")
    httpserver.expect_request("/system/files/2025-06/ret_25_q1_data.xls").respond_with_data(
        "<html><head><title>Just a moment...</title></head></html>", content_type="text/html")
    _not_found_for_everything_else(httpserver)
    with pytest.raises(SourceError, match="got an HTML page where the workbook ret_25_q1_data"):
        ici.fetch_all(live_ici, today=date(2025, 4, 2))


def test_grouped_two_row_headers_are_combined() -> None:
    """'Government DB plans' over 'State and local' | 'Federal' | 'Total': each sub-column is
    read as its combined name, and the grand Total is the rightmost one."""
    flat = parse(make_workbook.build())

    def group(name: str, grid: list[list[Any]]) -> str | None:
        if name != "Table 1":
            return None
        header = grid[4]
        idx = {h: i for i, h in enumerate(header) if isinstance(h, str)}
        state, federal = idx["State and local government DB plans4"], idx["Federal DB plans5"]
        grid[3] = [None] * len(header)
        grid[3][state] = "Government DB plans"
        header[state], header[federal] = "State and local", "Federal"
        return None

    grouped = parse(make_workbook.build(mutate=group))
    assert grouped.equals(flat)


# --- negative figures and the total check ----------------------------------------------------


def test_negative_figure_fails_naming_the_cell_not_the_total() -> None:
    """A negative amount is a sign or layout error; the message says so (it used to report
    'components add up to -30,483 but Total is -30,483', as if they disagreed)."""
    def negative(name: str, grid: list[list[Any]]) -> None:
        if name == "Table 1":
            for row in grid:
                if row and row[0] == "2023:Q2":
                    row[1:] = [-v if isinstance(v, int | float) else v for v in row[1:]]

    with pytest.raises(SourceError) as err:
        parse(make_workbook.build(mutate=negative))
    text = str(err.value)
    assert re.search(r"sheet 'Table 1', row 15, cell B15: negative amount -14,448 under"
                     r" 'IRAs' \(assets cannot be negative", text), text
    assert "components add up to" not in text


def test_components_that_disagree_report_the_gap() -> None:
    def doubled(name: str, grid: list[list[Any]]) -> None:
        if name == "Table 1":
            for row in grid:
                if row and row[0] == "2023:Q2":
                    row[5] = row[5] * 2

    with pytest.raises(SourceError, match=r"components add up to [\d,]+ but 'Total' is [\d,]+,"
                                          r" \d+\.\d% apart \(more than the 1% rounding"):
        parse(make_workbook.build(mutate=doubled))


# --- faults of the live service, against a local server --------------------------------------


@pytest.fixture
def faulty_ici(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> ici.Ici:
    """A live ICI source on the local server with one retry and short timeouts."""
    monkeypatch.setenv("ALTFLOW_ICI_BASE_URL", httpserver.url_for("/"))
    monkeypatch.setenv("ALTFLOW_HTTP_RETRIES", "1")
    monkeypatch.setenv("ALTFLOW_HTTP_TIMEOUT", "0.3")
    monkeypatch.setenv("ALTFLOW_HTTP_BACKOFF", "0")
    monkeypatch.setattr(ici.Ici, "min_interval", 0.0)
    httpserver.expect_request("/statistical-report/ret_25_q1").respond_with_data(
        RELEASE_PAGE.format(href="/system/files/2025-06/ret_25_q1_data.xls"),
        content_type="text/html")
    return ici.Ici("live")


WORKBOOK_PATH = "/system/files/2025-06/ret_25_q1_data.xls"


def _fails(source: ici.Ici, pattern: str) -> str:
    """A live fault is one DatasetFailure of the workbook dataset, with a one-line reason."""
    batch = source.batch(today=date(2025, 4, 2))
    assert batch.results == [] and len(batch.failures) == 1
    assert batch.failures[0].tables == (ici.RAW_TABLE,)
    with pytest.raises(SourceError) as err:
        batch.raise_failures()
    text = str(err.value)
    assert "\n" not in text and text.startswith("ici "), text
    assert re.search(pattern, text), text
    return text


def test_fault_5xx_gives_up_after_the_retry(httpserver: HTTPServer, faulty_ici: ici.Ici) -> None:
    httpserver.expect_request(WORKBOOK_PATH).respond_with_data("oops", status=502)
    _fails(faulty_ici, r"HTTP 502 .*gave up after 2 attempts")
    assert [r.path for r, _ in httpserver.log].count(WORKBOOK_PATH) == 2


def test_fault_429_is_retried_then_reported(httpserver: HTTPServer, faulty_ici: ici.Ici) -> None:
    httpserver.expect_request(WORKBOOK_PATH).respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "0"}))
    _fails(faulty_ici, r"HTTP 429")
    assert [r.path for r, _ in httpserver.log].count(WORKBOOK_PATH) == 2


def test_fault_429_then_success(httpserver: HTTPServer, faulty_ici: ici.Ici) -> None:
    calls: list[int] = []

    def first_busy(_request: Any) -> Response:
        calls.append(1)
        if len(calls) == 1:
            return Response("slow down", status=429, headers={"Retry-After": "0"})
        return Response(make_workbook.build(), mimetype="application/vnd.ms-excel")

    httpserver.expect_request(WORKBOOK_PATH).respond_with_handler(first_busy)
    batch = faulty_ici.batch(today=date(2025, 4, 2))
    assert batch.rows == [batch.table(ici.RAW_TABLE).height] and batch.rows[0] > 0
    assert len(calls) == 2


def test_fault_timeout(httpserver: HTTPServer, faulty_ici: ici.Ici) -> None:
    def slow(_request: Any) -> Response:
        time.sleep(0.8)
        return Response("late")

    httpserver.expect_request(WORKBOOK_PATH).respond_with_handler(slow)
    _fails(faulty_ici, r"timed out after 0\.3 s")


def test_fault_html_challenge_page(httpserver: HTTPServer, faulty_ici: ici.Ici) -> None:
    httpserver.expect_request(WORKBOOK_PATH).respond_with_data(
        "<!DOCTYPE html><html><title>Just a moment...</title></html>", content_type="text/html")
    _fails(faulty_ici, r"got an HTML page where the workbook ret_25_q1_data\.xls was expected")


def test_fault_truncated_body(httpserver: HTTPServer, faulty_ici: ici.Ici) -> None:
    """The server announces the whole workbook but sends half: the read breaks."""
    content = make_workbook.build()

    def short(_request: Any) -> Response:
        response = Response(content[: len(content) // 2], mimetype="application/vnd.ms-excel")
        response.headers["Content-Length"] = str(len(content))
        return response

    httpserver.expect_request(WORKBOOK_PATH).respond_with_handler(short)
    _fails(faulty_ici, r"connection broken while reading the body|not a readable \.xls")


def test_fault_truncated_file(httpserver: HTTPServer, faulty_ici: ici.Ici) -> None:
    content = make_workbook.build()
    httpserver.expect_request(WORKBOOK_PATH).respond_with_data(
        content[: len(content) // 2], content_type="application/vnd.ms-excel")
    _fails(faulty_ici, r"ret_25_q1_data\.xls is not a readable \.xls workbook .*truncated")


def test_fault_renamed_header(httpserver: HTTPServer, faulty_ici: ici.Ici) -> None:
    httpserver.expect_request(WORKBOOK_PATH).respond_with_data(
        make_workbook.build(mutate=_rename_column), content_type="application/vnd.ms-excel")
    _fails(faulty_ici, r"sheet 'Table 4', row 5: column 'Other private-sector DC plans' not"
                       r" found in the header .*column renamed\?")


def test_fault_connection_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that accepts and resets every connection (SO_LINGER 0): one line, no traceback."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.recv(1024)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("ALTFLOW_ICI_BASE_URL", f"http://127.0.0.1:{listener.getsockname()[1]}")
        monkeypatch.setenv("ALTFLOW_HTTP_RETRIES", "1")
        monkeypatch.setenv("ALTFLOW_HTTP_BACKOFF", "0")
        monkeypatch.setattr(ici.Ici, "min_interval", 0.0)
        _fails(ici.Ici("live"), r"connection (failed|broken|reset)|gave up after 2 attempts")
    finally:
        stop.set()
        thread.join(1)
        listener.close()
