"""FRED's fredgraph.csv: parser on real-format payloads and the live fetcher on a local server."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pytest_httpserver import HTTPServer

from altflow.sources import fred
from altflow.sources.base import Payload
from altflow.sources.errors import SourceError
from tests.conftest import FIXTURES, PROJECT_ROOT


def payload(dataset: str, content: bytes) -> Payload:
    return Payload("fred", dataset, "http://x", content, datetime.now(UTC), "live")


def test_parses_observation_date_header_and_dot_missing() -> None:
    content = (FIXTURES / "fred" / "CPIAUCSL_observation_date.csv").read_bytes()
    frame = fred.parse_fredgraph_csv(payload("CPIAUCSL", content))
    assert frame["date"].to_list() == [date(2024, m, 1) for m in (1, 2, 3, 4)]
    assert frame["value"].to_list() == [309.685, 311.054, None, 313.016]


def test_parses_legacy_date_header_with_crlf() -> None:
    content = (FIXTURES / "fred" / "BOGZ1_DATE_header.csv").read_bytes()
    frame = fred.parse_fredgraph_csv(payload("BOGZ1FL574090055Q", content))
    assert frame["value"].to_list() == [13091254.0, 13340125.0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<!DOCTYPE html><html><body>Error</body></html>", "got an HTML page where CSV"),
        (b"observation_date,CPI_RENAMED\n2024-01-01,1\n", "CSV has no column 'CPIAUCSL'"),
        (b"observation_date,CPIAUCSL\n2024-01-01,abc\n", "line 2: non-numeric value 'abc'"),
        (b"observation_date,CPIAUCSL\n01/02/2024,1\n", "line 2: bad date '01/02/2024'"),
        (b"observation_date,CPIAUCSL\n2024-01-01,1\n2024-01-01,2\n", "duplicated observation"),
        (b"observation_date,CPIAUCSL\n2024-01-01\n", "line 2: row ['2024-01-01'] is short"),
        (b"", "empty response"),
    ],
)
def test_bad_payloads_fail_with_one_line_naming_series(content: bytes, message: str) -> None:
    with pytest.raises(SourceError) as err:
        fred.parse_fredgraph_csv(payload("CPIAUCSL", content))
    assert str(err.value).startswith("fred CPIAUCSL: ")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def live_fred(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> fred.Fred:
    monkeypatch.setenv("ALTFLOW_FRED_BASE_URL", httpserver.url_for("/"))
    monkeypatch.setattr(fred, "today", lambda: date(2024, 6, 1))  # the fixtures' present
    return fred.Fred("live")


def test_live_fetch_uses_documented_path_and_query(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = (FIXTURES / "fred" / "CPIAUCSL_observation_date.csv").read_bytes()
    httpserver.expect_request(
        "/graph/fredgraph.csv", query_string={"id": "CPIAUCSL"}
    ).respond_with_data(body, content_type="text/csv")
    got = live_fred(httpserver, monkeypatch).fetch_series("CPIAUCSL")
    assert got.content == body and got.mode == "live"
    assert got.url.endswith("/graph/fredgraph.csv?id=CPIAUCSL")


def test_live_503_then_200_is_retried(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = (FIXTURES / "fred" / "CPIAUCSL_observation_date.csv").read_bytes()
    httpserver.expect_ordered_request("/graph/fredgraph.csv").respond_with_data("", status=503)
    httpserver.expect_ordered_request("/graph/fredgraph.csv").respond_with_data(body)
    frame = fred.parse_fredgraph_csv(live_fred(httpserver, monkeypatch).fetch_series("CPIAUCSL"))
    assert frame.height == 4


def test_live_404_names_the_series(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_request("/graph/fredgraph.csv").respond_with_data("Not Found", status=404)
    with pytest.raises(SourceError, match=r"^fred NOSUCH: HTTP 404"):
        live_fred(httpserver, monkeypatch).fetch_series("NOSUCH")


def test_live_html_instead_of_csv(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_request("/graph/fredgraph.csv").respond_with_data(
        "<html><head><title>Just a moment...</title></head></html>", content_type="text/html"
    )
    source = live_fred(httpserver, monkeypatch)
    with pytest.raises(SourceError, match="fred CPIAUCSL: got an HTML page where CSV"):
        fred.parse_fredgraph_csv(source.fetch_series("CPIAUCSL"))


def test_live_payload_as_of_is_latest_observation(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = (FIXTURES / "fred" / "CPIAUCSL_observation_date.csv").read_bytes()
    httpserver.expect_request("/graph/fredgraph.csv").respond_with_data(body)
    frame, payloads = fred.fetch_all(live_fred(httpserver, monkeypatch), ["CPIAUCSL"])
    assert payloads[0].as_of == date(2024, 4, 1)
    assert frame["units"][0].startswith("Index 1982-1984=100")


def test_live_payloads_are_archived_as_fetched(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    import json

    body = (FIXTURES / "fred" / "CPIAUCSL_observation_date.csv").read_bytes()
    httpserver.expect_request("/graph/fredgraph.csv").respond_with_data(body)
    monkeypatch.setenv("ALTFLOW_FRED_BASE_URL", httpserver.url_for("/"))
    source = fred.Fred("live", archive_root=tmp_path / "archive")
    got = source.fetch_series("CPIAUCSL")
    [kept] = (tmp_path / "archive" / "fred" / "CPIAUCSL").glob("*.bin")
    assert kept.read_bytes() == body
    meta = json.loads(kept.with_suffix(".json").read_text())
    assert meta["sha256"] == got.sha256 and meta["url"] == got.url and meta["bytes"] == len(body)


def test_snapshot_reads_are_not_archived(tmp_path) -> None:
    fred.Fred("snapshot", archive_root=tmp_path / "archive").fetch_series("CPIAUCSL")
    assert not (tmp_path / "archive").exists()


# --- values, signs and truncation ---------------------------------------------------------


@pytest.mark.parametrize("token", ["NaN", "nan", "inf", "-Infinity", "1e999"])
def test_non_finite_values_are_refused(token: str) -> None:
    content = f"observation_date,CPIAUCSL\n2024-01-01,309.685\n2024-02-01,{token}\n".encode()
    with pytest.raises(SourceError) as err:
        fred.parse_fredgraph_csv(payload("CPIAUCSL", content))
    assert str(err.value) == f"fred CPIAUCSL: line 3: non-finite value {token!r}"


def test_negative_cpi_is_refused_but_negative_z1_flows_are_kept() -> None:
    bad = b"observation_date,CPIAUCSL\n2024-01-01,309.685\n2024-02-01,-311.054\n"
    with pytest.raises(SourceError) as err:
        fred.parse_fredgraph_csv(payload("CPIAUCSL", bad))
    assert str(err.value) == (
        "fred CPIAUCSL: line 3: value -311.054 on 2024-02-01 is not positive (cpi must be > 0)"
    )
    flows = b"observation_date,BOGZ1FA574090055Q\n2024-01-01,-20331\n2024-04-01,15122\n"
    frame = fred.parse_fredgraph_csv(payload("BOGZ1FA574090055Q", flows))
    assert frame["value"].to_list() == [-20331.0, 15122.0]
    level = b"observation_date,BOGZ1FL574090055Q\n2024-01-01,-1\n"
    with pytest.raises(SourceError, match="private_dc_z1 must be > 0"):
        fred.parse_fredgraph_csv(payload("BOGZ1FL574090055Q", level))


def test_a_body_cut_at_a_line_boundary_is_refused_by_its_recency() -> None:
    lines = ["observation_date,CPIAUCSL"] + [
        f"{year}-{month:02d}-01,{100 + year - 1980 + month / 12:.3f}"
        for year in range(1980, 2026) for month in range(1, 13)
    ]
    whole = ("\n".join(lines) + "\n").encode()
    cut = ("\n".join(lines[: 1 + 12 * 23]) + "\n").encode()  # ends 2002-12-01
    assert fred.parse_fredgraph_csv(payload("CPIAUCSL", whole), date(2026, 1, 20)).height == 552
    with pytest.raises(SourceError) as err:
        fred.parse_fredgraph_csv(payload("CPIAUCSL", cut), date(2026, 1, 20))
    assert str(err.value) == (
        "fred CPIAUCSL: history ends 2002-12-01, 8451 days before 2026-01-20 for a monthly"
        " series (at most 200 expected); truncated response?"
    )


def test_all_missing_values_are_refused() -> None:
    content = b"observation_date,CPIAUCSL\n2024-01-01,.\n2024-02-01,.\n"
    with pytest.raises(SourceError, match=r"every observation is missing \('\.'\)"):
        fred.parse_fredgraph_csv(payload("CPIAUCSL", content))


# --- the registry ----------------------------------------------------------------------


def test_registry_is_one_list_for_fetching_and_the_z1_mapping() -> None:
    frame = fred.registry_frame()
    assert frame["series_id"].to_list() == list(fred.SERIES)
    z1 = frame.filter(frame["z1_code"].is_not_null())
    assert z1.height == 11  # H4: + BOGZ1FA594090005Q (pension flows to 2026:Q1)
    assert set(z1["series"]) == {"private_dc_z1", "state_local_dc_z1", "federal_dc_z1",
                                 "pension_funds_z1"}
    row = frame.filter(frame["series_id"] == "BOGZ1FU574090055Q").row(0, named=True)
    assert row["z1_code"] == "FU574090055" and row["measure"] == "transactions_quarterly"
    assert row["allow_negative"] is True and row["usd_per_unit"] == 1e6
    cpi = frame.filter(frame["series_id"] == "CPIAUCSL").row(0, named=True)
    assert cpi["allow_negative"] is False and cpi["z1_code"] is None
    sql = (PROJECT_ROOT / "sql" / "staging" / "z1_retirement_series.sql").read_text()
    assert "raw.fred_series" in sql and "VALUES" not in sql


def test_batch_isolates_a_failing_series_and_notes_optional_404s(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = (FIXTURES / "fred" / "CPIAUCSL_observation_date.csv").read_bytes()
    httpserver.expect_request(
        "/graph/fredgraph.csv", query_string={"id": "CPIAUCSL"}
    ).respond_with_data(body)
    httpserver.expect_request(
        "/graph/fredgraph.csv", query_string={"id": "CBBTCUSD"}
    ).respond_with_data("observation_date,CBBTCUSD\n2024-05-30,NaN\n")
    httpserver.expect_request(
        "/graph/fredgraph.csv", query_string={"id": "BOGZ1FU224090055Q"}
    ).respond_with_data("Not Found", status=404)
    batch = live_fred(httpserver, monkeypatch).batch(
        ["CPIAUCSL", "CBBTCUSD", "BOGZ1FU224090055Q"]
    )
    assert [p.dataset for p in batch.payloads] == ["CPIAUCSL"]
    assert batch.rows == [4]
    [failure] = batch.failures
    assert failure.message == "fred CBBTCUSD: line 2: non-finite value 'NaN'"
    assert failure.key == {"series_id": "CBBTCUSD"}
    assert failure.url.endswith("/graph/fredgraph.csv?id=CBBTCUSD")
    assert any("optional series not on FRED: fred BOGZ1FU224090055Q: HTTP 404" in n
               for n in batch.notes)
    assert batch.tables["raw.fred_series"].height == len(fred.SERIES)
    assert batch.payloads[0].retrieved_from == batch.payloads[0].url
    assert batch.payloads[0].provenance == f"fetched live from {batch.payloads[0].url}"
