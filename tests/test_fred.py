"""FRED's fredgraph.csv: parser on real-format payloads and the live fetcher on a local server."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pytest_httpserver import HTTPServer

from altflow.sources import fred
from altflow.sources.base import Payload
from altflow.sources.errors import SourceError
from tests.conftest import FIXTURES


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
