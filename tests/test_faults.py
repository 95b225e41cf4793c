"""Fault injection for every live source, against local servers in the services' formats.

Each fault is served by :class:`tests.faults.FaultServer` (a raw socket HTTP server, so a
connection can be reset in the middle of a body) to FRED (fredgraph.csv), LBMA (JSON price
files) and CoinGecko (/global, /coins/markets, /coins/{id}/market_chart), through the same
code path a run uses (``Source.batch()``), and the test asserts either the numbers parsed
after the retries or the one line naming source, dataset and reason. The reference source
has no service (a curated file), so it gets the payload faults only. ICI is H4's: its tests
reuse :mod:`tests.faults`.

Faults covered (test cases per source; keep in step when adding cases):

=======================================  ====  =====  =========  =========
fault                                    FRED  LBMA   CoinGecko  reference
=======================================  ====  =====  =========  =========
connection reset mid-body, then ok       1     1      1          -
connection reset mid-body, every time    1     1      1          -
Content-Length never reached, then ok    1     1      1          -
chunked body cut short, then ok          1     1      1          -
connection refused                       1     1      1          -
HTTP 503 then ok                         1     1      1          -
HTTP 502 every time                      1     1      1          -
HTTP 429 with Retry-After, then ok       1     1      1          -
Retry-After above 120 s is capped        1     -      -          -
timeout, then ok                         1     1      1          -
timeout every time                       1     1      1          -
HTTP 404 (not retried)                   1     1      1          -
HTML page instead of data                1     1      1          1
NaN value                                1     1      1          1
infinite value                           1     1      1          1
wrong sign (negative price / CPI)        1     1      1          1
truncated at a line/record boundary      1     2      2          1
renamed field or column                  1     1      2          1
hourly / 5-minutely points               -     -      2          -
=======================================  ====  =====  =========  =========
total                                    18    18     21         6
=======================================  ====  =====  =========  =========

19 fault kinds, 63 source x fault cases in 61 tests, plus 5 failure-isolation tests through
the ingest factory (6 failed datasets: reset, NaN and refused-by-check FRED series keep their
last good rows beside the fresh series; an HTML /global keeps the old whole table and a NaN
ether chart its old rows beside the fresh bitcoin chart; the asset succeeds, ``fetch_fresh``
fails with one line, ``raw.fetch_log`` records each failure; a snapshot failure fails the
asset with one line). 66 tests in all, about 12 s.

Truncation: FRED's CSV and LBMA's or CoinGecko's JSON cut after a complete line or record is
refused by its recency (the latest point must be within 200 days for a monthly FRED series,
400 quarterly, 45 daily; 30 days for an LBMA file; 3 days for a CoinGecko chart, judged
against the fetch date); a JSON cut without its closing bracket is invalid JSON; the curated
reference file is protected by its manifest sha256.
"""

from __future__ import annotations

import json
import logging
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from dagster import materialize

from altflow.config import HttpSettings
from altflow.sources import coingecko, fred, lbma, reference
from altflow.sources.base import Batch, Payload, Source
from altflow.sources.errors import SourceError
from altflow.sources.http import HttpClient
from altflow.warehouse import Warehouse, replace_table
from assets.ingest.coingecko import coingecko_raw
from assets.ingest.fred import fred_raw
from pipelines.resources import SourcesResource, WarehouseResource
from tests.conftest import FIXTURES
from tests.faults import (
    FaultServer,
    Reply,
    chunked_cut,
    coingecko_chart,
    cut_at_line,
    fredgraph_csv,
    html_challenge,
    lbma_json,
    ok,
    reset_mid_body,
    short_body,
    slow,
    status,
)

TODAY = date(2026, 6, 3)
CHART_END = datetime(2026, 6, 2)  # last 00:00 UTC point of the served charts
TIMEOUT = 0.3
RETRIES = 2  # 3 attempts


@pytest.fixture(autouse=True)
def _pinned_today(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (fred, lbma, coingecko):
        monkeypatch.setattr(module, "today", lambda: TODAY)
    monkeypatch.setenv("ALTFLOW_COINGECKO_MIN_INTERVAL", "0")
    monkeypatch.setattr(lbma.Lbma, "min_interval", 0.0)


# --- one adapter per source: where its dataset is served and what a good parse gives -----


@dataclass(frozen=True)
class Case:
    source: str
    dataset: str
    route: str  # path the dataset is served at (below the base URL)
    prefix: str  # the base URL's own path (CoinGecko's /api/v3)
    kind: str  # CSV or JSON
    good: bytes
    run: Callable[[Source], Batch]
    numbers: Callable[[Batch], object]  # what a good parse gives (asserted == expected)
    expected: object
    others: dict[str, bytes]  # other routes the batch asks for, answered normally

    def make(self, base: str, sleeps: list[float]) -> Source:
        cls = {"fred": fred.Fred, "lbma": lbma.Lbma, "coingecko": coingecko.CoinGecko}
        client = HttpClient(
            self.source,
            HttpSettings(timeout=TIMEOUT, connect_timeout=TIMEOUT, retries=RETRIES,
                         backoff=0.01),
            sleep=sleeps.append,
        )
        return cls[self.source]("live", client=client)


CPI = fredgraph_csv("CPIAUCSL", date(2026, 4, 1), 556)  # 1980-01 .. 2026-04, 100.0 + i/4
GOLD = lbma_json(date(2026, 6, 2), 400)
CHART = coingecko_chart(CHART_END, 400, timedelta(days=1))


def _fred_numbers(batch: Batch) -> object:
    frame = batch.table("raw.fred_observations")
    return frame.height, frame["date"].max(), frame["value"][-1]


def _lbma_numbers(batch: Batch) -> object:
    frame = batch.table("raw.lbma_prices")
    return frame.height, frame["date"].max(), frame["usd"][-1]


def _chart_numbers(batch: Batch) -> object:
    frame = batch.table("raw.coingecko_market_chart")
    return frame.height, frame["date"].max(), frame["price_usd"][-1]


CASES = {
    "fred": Case(
        "fred", "CPIAUCSL", "/graph/fredgraph.csv", "", "CSV", CPI,
        lambda s: s.batch(["CPIAUCSL"]), _fred_numbers,
        (556, date(2026, 4, 1), 100.0 + 555 * 0.25), {},
    ),
    "lbma": Case(
        "lbma", "gold_pm", "/json/gold_pm.json", "", "JSON", GOLD,
        lambda s: s.batch(), _lbma_numbers,
        (287, date(2026, 6, 2), 2200.0), {},
    ),
    "coingecko": Case(
        "coingecko", "market_chart_bitcoin", "/api/v3/coins/bitcoin/market_chart", "/api/v3",
        "JSON", CHART, lambda s: coingecko.collect(s, ["bitcoin"]), _chart_numbers,
        # 401 daily points from 2025-04-28 plus the "now" point on 2026-06-02 (the last
        # point of that UTC day wins)
        (401, date(2026, 6, 2), 60000.0 + 401),
        {
            "/api/v3/global": (FIXTURES / "coingecko" / "global.json").read_bytes(),
            "/api/v3/coins/markets": json.dumps(
                [c for c in json.loads((FIXTURES / "coingecko" / "coins_markets.json")
                                       .read_bytes()) if c["id"] == "bitcoin"]
            ).encode(),
        },
    ),
}


@pytest.fixture
def only_gold_pm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lbma, "FILES", {"gold_pm": lbma.FILES["gold_pm"]})


def serve(
    case: Case, monkeypatch: pytest.MonkeyPatch, *replies: Reply
) -> tuple[FaultServer, Source, list[float]]:
    server = FaultServer().__enter__()
    server.route(case.route, *replies)
    for route, body in case.others.items():
        server.route(route, ok(body))
    monkeypatch.setenv(f"ALTFLOW_{case.source.upper()}_BASE_URL", server.url + case.prefix)
    sleeps: list[float] = []
    return server, case.make(server.url + case.prefix, sleeps), sleeps


def failure_of(batch: Batch, dataset: str) -> str:
    lines = [f.message for f in batch.failures if f.dataset == dataset]
    assert len(lines) == 1, (dataset, [f.message for f in batch.failures])
    assert "\n" not in lines[0]
    return lines[0]


SOURCES = list(CASES)


# --- transport faults: retried, then parsed, or one line after the last attempt ------------


RECOVERING = {
    "reset_mid_body": lambda body: reset_mid_body(body),
    "content_length_not_reached": lambda body: short_body(body),
    "chunked_cut_short": lambda body: chunked_cut(body),
    "http_503": lambda body: status(503, "Service Unavailable", reason="Service Unavailable"),
    "timeout": lambda body: slow(ok(body), TIMEOUT * 3),
}


@pytest.mark.parametrize("fault", list(RECOVERING))
@pytest.mark.parametrize("name", SOURCES)
def test_transient_fault_then_success_gives_the_numbers(
    name: str, fault: str, monkeypatch: pytest.MonkeyPatch, only_gold_pm: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    case = CASES[name]
    server, source, sleeps = serve(case, monkeypatch, RECOVERING[fault](case.good),
                                   ok(case.good))
    with caplog.at_level(logging.WARNING, logger="altflow.sources"):
        batch = case.run(source)
    server.__exit__(None, None, None)
    assert batch.failures == []
    assert case.numbers(batch) == case.expected
    assert server.hits(case.route) == 2 and len(sleeps) == 1
    retry_lines = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert retry_lines and retry_lines[0].startswith(
        f"{name} {case.dataset}: retrying (attempt 2/3) in "
    ), retry_lines


def test_429_waits_for_its_retry_after_then_parses(
    monkeypatch: pytest.MonkeyPatch, only_gold_pm: None
) -> None:
    for name, case in CASES.items():
        server, source, sleeps = serve(
            case, monkeypatch, status(429, "rate limited", retry_after="7"), ok(case.good)
        )
        batch = case.run(source)
        server.__exit__(None, None, None)
        assert case.numbers(batch) == case.expected, name
        assert sleeps == [7.0], name


def test_retry_after_is_capped_at_two_minutes(
    monkeypatch: pytest.MonkeyPatch, only_gold_pm: None
) -> None:
    case = CASES["fred"]
    server, source, sleeps = serve(case, monkeypatch, status(503, retry_after="3600"),
                                   ok(case.good))
    assert case.numbers(case.run(source)) == case.expected
    server.__exit__(None, None, None)
    assert sleeps == [120.0]


PERSISTENT = {
    "reset_mid_body": (
        lambda body: reset_mid_body(body),
        r"connection broken while reading the body \(http://127\.0\.0\.1:\d+/[^)]*\):"
        r" ConnectionResetError \(gave up after 3 attempts\)",
    ),
    "http_502": (
        lambda body: status(502, "bad gateway", reason="Bad Gateway"),
        r"HTTP 502 Bad Gateway for http://127\.0\.0\.1:\d+/\S+ \(gave up after 3 attempts\)",
    ),
    "timeout": (
        lambda body: slow(ok(body), TIMEOUT * 3),
        r"timed out after 0\.3 s \(http://127\.0\.0\.1:\d+/\S+\) \(gave up after 3 attempts\)",
    ),
    "http_404": (
        lambda body: status(404, "Not Found", reason="Not Found"),
        r"HTTP 404 Not Found for http://127\.0\.0\.1:\d+/\S+$",
    ),
}


@pytest.mark.parametrize("fault", list(PERSISTENT))
@pytest.mark.parametrize("name", SOURCES)
def test_persistent_fault_is_one_line_naming_source_and_dataset(
    name: str, fault: str, monkeypatch: pytest.MonkeyPatch, only_gold_pm: None
) -> None:
    case = CASES[name]
    reply, reason = PERSISTENT[fault]
    server, source, sleeps = serve(case, monkeypatch, reply(case.good))
    batch = case.run(source)
    server.__exit__(None, None, None)
    line = failure_of(batch, case.dataset)
    assert re.fullmatch(rf"{name} {case.dataset}: {reason}", line), line
    attempts = 1 if fault == "http_404" else RETRIES + 1
    assert server.hits(case.route) == attempts
    assert len(sleeps) == attempts - 1


@pytest.mark.parametrize("name", SOURCES)
def test_connection_refused_is_one_line(
    name: str, monkeypatch: pytest.MonkeyPatch, only_gold_pm: None
) -> None:
    case = CASES[name]
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv(f"ALTFLOW_{name.upper()}_BASE_URL", f"http://127.0.0.1:{port}{case.prefix}")
    sleeps: list[float] = []
    batch = case.run(case.make("", sleeps))
    line = failure_of(batch, case.dataset)
    first, *others = batch.failures  # the first dataset spends the retries, not the others
    gave_up = (rf"connection failed \(http://127\.0\.0\.1:{port}/\S+\): NewConnectionError")
    assert re.fullmatch(rf"{name} {first.dataset}: {gave_up} \(gave up after 3 attempts\)",
                        first.message), first.message
    for other in others:
        assert re.fullmatch(
            rf"{name} {other.dataset}: not tried: 127\.0\.0\.1:{port} could not be reached"
            rf" for an earlier dataset \({gave_up}\)", other.message), other.message
    assert line in {f.message for f in batch.failures}
    assert len(sleeps) == 2  # one dataset's two retries, whatever the number of datasets


# --- payload faults: refused with one line naming dataset and field ------------------------


def _lbma_with(value: object, at: int = -1) -> bytes:
    records = json.loads(GOLD)
    records[at]["v"][0] = value
    return json.dumps(records).encode()  # NaN / Infinity tokens as Python writes them


def _chart_with(value: object, at: int = 10) -> bytes:
    body = json.loads(CHART)
    body["prices"][at][1] = value
    return json.dumps(body).encode()


def _cpi_with(token: str) -> bytes:
    return CPI.replace(b"2026-04-01,238.750", f"2026-04-01,{token}".encode())


LAST_GOLD = json.loads(GOLD)[-1]["d"]
PAYLOAD_FAULTS: list[tuple[str, str, bytes, str]] = [
    # (source, fault, body, the exact one-line message after "<source> <dataset>: ")
    ("fred", "html", html_challenge().data, "got an HTML page where CSV was expected"),
    ("fred", "nan", _cpi_with("NaN"), "line 557: non-finite value 'NaN'"),
    ("fred", "inf", _cpi_with("inf"), "line 557: non-finite value 'inf'"),
    ("fred", "negative", _cpi_with("-238.750"),
     "line 557: value -238.750 on 2026-04-01 is not positive (cpi must be > 0)"),
    ("fred", "cut_at_line", cut_at_line(CPI, 1 + 12 * 23),
     "history ends 2002-12-01, 8585 days before 2026-06-03 for a monthly series (at most 200"
     " expected); truncated response?"),
    ("fred", "renamed_column", CPI.replace(b"observation_date,CPIAUCSL",
                                           b"observation_date,CPIAUCSL_20260601"),
     "CSV has no column 'CPIAUCSL'"),
    ("lbma", "html", html_challenge().data, "got an HTML page where JSON was expected"),
    ("lbma", "nan", _lbma_with(float("nan")),
     f"record 286 ({LAST_GOLD}) v.usd: non-finite price nan"),
    ("lbma", "inf", _lbma_with(float("inf")),
     f"record 286 ({LAST_GOLD}) v.usd: non-finite price inf"),
    ("lbma", "negative", _lbma_with(-2200.0),
     f"record 286 ({LAST_GOLD}) v.usd: negative price -2200"),
    ("lbma", "cut_at_record", GOLD[: GOLD.rindex(b"},{") + 2],
     "invalid JSON (Expecting value at line 1 column"),
    ("lbma", "cut_and_closed", json.dumps(json.loads(GOLD)[:100]).encode(),
     "history ends 2025-09-12, 264 days before 2026-06-03 for a daily price file (at most 30"
     " expected); truncated response?"),
    ("lbma", "renamed_field", GOLD.replace(b'"d":', b'"date":'),
     "record 0: missing field 'd'"),
    ("coingecko", "html", html_challenge().data, "got an HTML page where JSON was expected"),
    ("coingecko", "nan", _chart_with(float("nan")),
     "field 'prices[10][1]' is not a number: nan"),
    ("coingecko", "inf", _chart_with(float("inf")),
     "field 'prices[10][1]' is not a number: inf"),
    ("coingecko", "negative", _chart_with(-5.0), "field 'prices[10][1]' is not positive: -5"),
    ("coingecko", "cut_at_line", CHART.replace(b"], [", b"],\n[")[
        : CHART.replace(b"], [", b"],\n[").index(b"\n", 5000) + 1],
     "invalid JSON (Expecting value at line"),
    ("coingecko", "cut_and_closed", coingecko_chart(CHART_END - timedelta(days=30), 400,
                                                    timedelta(days=1), now_point=False),
     "history ends 2026-05-03, 31 days before 2026-06-03 for a daily chart (at most 3"
     " expected); truncated response?"),
    ("coingecko", "renamed_field", CHART.replace(b'"prices"', b'"price"'),
     "missing field 'prices'"),
]


@pytest.mark.parametrize(("name", "fault", "body", "message"), PAYLOAD_FAULTS,
                         ids=[f"{s}-{f}" for s, f, _b, _m in PAYLOAD_FAULTS])
def test_refused_payload_is_one_line_naming_dataset_and_field(
    name: str, fault: str, body: bytes, message: str, monkeypatch: pytest.MonkeyPatch,
    only_gold_pm: None,
) -> None:
    case = CASES[name]
    server, source, _ = serve(case, monkeypatch, ok(body))
    batch = case.run(source)
    server.__exit__(None, None, None)
    line = failure_of(batch, case.dataset)
    assert line.startswith(f"{name} {case.dataset}: {message}"), line


def test_coingecko_renamed_global_field_spares_the_other_endpoints(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = CASES["coingecko"]
    renamed = case.others["/api/v3/global"].replace(b'"total_market_cap"', b'"market_cap"')
    server, source, _ = serve(case, monkeypatch, ok(case.good))
    server.route("/api/v3/global", ok(renamed))
    batch = case.run(source)
    server.__exit__(None, None, None)
    assert failure_of(batch, "global") == (
        "coingecko global: missing field 'data.total_market_cap'"
    )
    assert [p.dataset for p in batch.payloads] == ["coins_markets", "market_chart_bitcoin"]
    assert case.numbers(batch) == case.expected
    assert batch.table("raw.coingecko_markets")["price_usd"].to_list() == [118234.0]


# --- CoinGecko granularity: one value per UTC day, the last point of that day -------------


def _chart_payload(body: bytes) -> Payload:
    return Payload("coingecko", "market_chart_bitcoin", "http://x", body, datetime.now(UTC),
                   "live")


def test_hourly_points_become_the_last_point_of_each_utc_day() -> None:
    end = datetime(2026, 6, 2, 23, 0)
    body = coingecko_chart(end, 3, timedelta(hours=1), now_point=False)
    frame = coingecko.parse_market_chart(_chart_payload(body))
    # points 2026-05-30 23:00 .. 2026-06-02 23:00, one an hour: 73 points, 4 UTC dates
    assert frame["date"].to_list() == [date(2026, 5, 30), date(2026, 5, 31), date(2026, 6, 1),
                                       date(2026, 6, 2)]
    assert frame["price_usd"].to_list() == [60000.0, 60024.0, 60048.0, 60072.0]
    assert frame["market_cap_usd"].to_list() == [p * 19.9e6 for p in frame["price_usd"]]


def test_five_minute_points_become_the_last_point_of_each_utc_day() -> None:
    end = datetime(2026, 6, 2, 11, 55)
    body = coingecko_chart(end, 1, timedelta(minutes=5))  # plus a "now" point at 11:56:40
    frame = coingecko.parse_market_chart(_chart_payload(body))
    # 2026-06-01 11:55 .. 23:55 is 145 points (index 0..144), then 06-02 00:00 .. 11:55 and
    # the "now" point: 144 + 1 more points, the last at index 289
    assert frame["date"].to_list() == [date(2026, 6, 1), date(2026, 6, 2)]
    assert frame["price_usd"].to_list() == [60000.0 + 144, 60000.0 + 289]


# --- the curated reference file: payload faults (it has no live service) ------------------


FACTS = (FIXTURES / "reference" / "market_facts.csv").read_bytes()


def _fact_line(value: str) -> bytes:
    line = FACTS.splitlines()[1].decode().split(",")
    line[2] = value
    return FACTS.splitlines()[0] + b"\n" + ",".join(line).encode() + b"\n"


@pytest.mark.parametrize(
    ("fault", "body", "message"),
    [
        ("html", html_challenge().data, "got an HTML page where CSV was expected"),
        ("nan", _fact_line("nan"), "line 2 field 'value': not finite: 'nan'"),
        ("inf", _fact_line("inf"), "line 2 field 'value': not finite: 'inf'"),
        ("negative", _fact_line("-219891"),
         "line 2 field 'value': above_ground_stock_tonnes must not be negative"),
        ("renamed_column", FACTS.replace(b"as_of", b"asof", 1),
         "CSV header ['asset', 'metric', 'value', 'unit', 'asof'"),
    ],
)
def test_reference_file_faults_are_one_line(fault: str, body: bytes, message: str) -> None:
    payload = Payload("reference", "market_facts", "http://x", body, datetime.now(UTC),
                      "snapshot")
    with pytest.raises(SourceError) as err:
        reference.parse_market_facts(payload)
    assert str(err.value).startswith(f"reference market_facts: {message}"), str(err.value)


def test_reference_file_cut_at_a_line_boundary_fails_its_manifest_sha256(tmp_path: Path) -> None:
    folder = tmp_path / "reference"
    folder.mkdir()
    (folder / "market_facts.csv").write_bytes(cut_at_line(FACTS, 5))
    digest = Payload("reference", "x", "u", FACTS, datetime.now(UTC), "snapshot").sha256
    (folder / "manifest.json").write_text(json.dumps({"source": "reference", "files": [{
        "dataset": "market_facts", "path": "market_facts.csv", "url": "https://x/facts",
        "as_of": "2025-12-31", "retrieved_at": "2026-01-01T00:00:00Z", "sha256": digest}]}))
    batch = reference.Reference("live", snapshot_root=tmp_path).batch()
    assert failure_of(batch, "market_facts").startswith(
        "reference market_facts: snapshot file"
    )
    assert failure_of(batch, "market_facts").endswith("does not match its manifest sha256")


# --- failure isolation through the ingest factory (issue 11, Deliver 2) -------------------


OLD_CBBTC = pl.DataFrame({
    "series_id": "CBBTCUSD", "date": [date(2026, 1, d) for d in range(1, 11)],
    "value": [90000.0 + d for d in range(10)], "units": "U.S. Dollars per bitcoin",
    "frequency": "daily", "usd_per_unit": None,
}, schema=fred.OBSERVATIONS_SCHEMA)


def _seed(path: Path, tables: dict[str, pl.DataFrame]) -> None:
    with Warehouse(path).writer() as con:
        for table, frame in tables.items():
            replace_table(con, table, frame)


def _run_live(asset: object, path: Path) -> object:
    return materialize(
        [asset], raise_on_error=False,
        resources={"warehouse": WarehouseResource(path=str(path)),
                   "sources": SourcesResource(mode="live")},
    )


def _checks(result: object) -> dict[tuple[str, str], object]:
    out = {}
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            ev = event.event_specific_data
            out[(ev.asset_key.to_user_string(), ev.check_name)] = ev
    return out


@pytest.fixture
def two_fred_series(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fred, "SERIES", {k: fred.SERIES[k] for k in ("CPIAUCSL", "CBBTCUSD")})


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (reset_mid_body(b"observation_date,CBBTCUSD\n" * 400),
         "connection broken while reading the body"),
        (ok(fredgraph_csv("CBBTCUSD", date(2026, 6, 1), 400, "daily").replace(
            b",100.250", b",NaN")), "line 3: non-finite value 'NaN'"),
        (ok(fredgraph_csv("CBBTCUSD", date(2026, 6, 1), 30, "daily")),
         "payload refused by the blocking check on raw.fred_observations"),
    ],
    ids=["reset", "nan", "refused_by_check"],
)
def test_live_failure_keeps_last_good_rows_and_fails_fetch_fresh(
    fault: Reply, reason: str, warehouse_path: Path, monkeypatch: pytest.MonkeyPatch,
    two_fred_series: None,
) -> None:
    _seed(warehouse_path, {"raw.fred_observations": OLD_CBBTC})
    with FaultServer() as server:
        server.route("/graph/fredgraph.csv?id=CPIAUCSL", ok(CPI, "text/csv"))
        server.route("/graph/fredgraph.csv?id=CBBTCUSD", fault)
        monkeypatch.setenv("ALTFLOW_FRED_BASE_URL", server.url)
        monkeypatch.setenv("ALTFLOW_HTTP_RETRIES", "1")
        result = _run_live(fred_raw, warehouse_path)
    assert result.success  # the asset does not fail: the rest of the run goes on
    work = Warehouse(warehouse_path).working(result.run_id)
    rows = dict(work.query("SELECT series_id, count(*) FROM raw.fred_observations"
                           " GROUP BY 1").iter_rows())
    assert rows == {"CPIAUCSL": 556, "CBBTCUSD": 10}  # new CPI, the old bitcoin rows kept
    kept = work.query("SELECT * FROM raw.fred_observations WHERE series_id = 'CBBTCUSD'"
                      " ORDER BY date")
    assert kept["value"].to_list() == OLD_CBBTC["value"].to_list()
    check = _checks(result)[("raw/fred_observations", "fetch_fresh")]
    assert not check.passed and check.severity.value == "ERROR"
    assert check.description.startswith("fred CBBTCUSD: ") and reason in check.description
    assert "\n" not in check.description
    assert _checks(result)[("raw/fred_series", "fetch_fresh")].passed
    log = work.query("SELECT dataset, status, reason, url FROM raw.fetch_log ORDER BY dataset")
    assert log["dataset"].to_list() == ["CBBTCUSD", "CPIAUCSL"]
    assert log["status"].to_list() == ["failed", "ok"]
    assert reason in log["reason"][0] and log["url"][0].endswith("?id=CBBTCUSD")


def test_a_refused_coingecko_chart_keeps_its_old_rows_beside_the_fresh_ones(
    warehouse_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_ether = pl.DataFrame({
        "coin_id": "ethereum", "asset": "ether", "date": [date(2026, 1, 1), date(2026, 1, 2)],
        "price_usd": [3000.0, 3010.0], "market_cap_usd": [3.6e11, 3.61e11],
        "total_volume_usd": [1.5e10, 1.6e10],
    }, schema=coingecko.CHART_SCHEMA)
    old_global = coingecko.parse_global(Payload(
        "coingecko", "global", "u", CASES["coingecko"].others["/api/v3/global"],
        datetime.now(UTC), "live"))
    _seed(warehouse_path, {"raw.coingecko_market_chart": old_ether,
                           "raw.coingecko_global": old_global})
    markets = (FIXTURES / "coingecko" / "coins_markets.json").read_bytes()
    with FaultServer() as server:
        server.route("/api/v3/global", html_challenge())
        server.route("/api/v3/coins/markets", ok(markets))
        server.route("/api/v3/coins/bitcoin/market_chart", ok(CHART))
        server.route("/api/v3/coins/ethereum/market_chart",
                     ok(_chart_with(float("nan"), at=3)))
        monkeypatch.setenv("ALTFLOW_COINGECKO_BASE_URL", server.url + "/api/v3")
        result = _run_live(coingecko_raw, warehouse_path)
    assert result.success
    work = Warehouse(warehouse_path).working(result.run_id)
    chart = dict(work.query("SELECT coin_id, count(*) FROM raw.coingecko_market_chart"
                            " GROUP BY 1").iter_rows())
    assert chart == {"bitcoin": 401, "ethereum": 2}
    assert work.query("SELECT count(*) AS n FROM raw.coingecko_markets")["n"][0] == 2
    assert work.query("SELECT total_market_cap_usd FROM raw.coingecko_global")[
        "total_market_cap_usd"].to_list() == old_global["total_market_cap_usd"].to_list()
    checks = _checks(result)
    assert checks[("raw/coingecko_markets", "fetch_fresh")].passed
    assert checks[("raw/coingecko_global", "fetch_fresh")].description.startswith(
        "coingecko global: got an HTML page where JSON was expected")
    assert checks[("raw/coingecko_market_chart", "fetch_fresh")].description == (
        "coingecko market_chart_ethereum: field 'prices[3][1]' is not a number: nan")
    failed = work.query("SELECT dataset FROM raw.fetch_log WHERE status = 'failed'"
                        " ORDER BY dataset")["dataset"].to_list()
    assert failed == ["global", "market_chart_ethereum"]


def test_snapshot_failure_fails_the_asset_with_one_line(
    warehouse_path: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "snap" / "fred"
    folder.mkdir(parents=True)
    (folder / "CPIAUCSL.csv").write_bytes(cut_at_line(CPI, 100))
    (folder / "manifest.json").write_text(json.dumps({"source": "fred", "files": [{
        "dataset": "CPIAUCSL", "path": "CPIAUCSL.csv", "url": "https://x/fredgraph.csv",
        "as_of": "2026-04-01", "retrieved_at": "2026-05-01T00:00:00Z",
        "sha256": Payload("fred", "x", "u", CPI, datetime.now(UTC), "snapshot").sha256}]}))
    result = materialize(
        [fred_raw], raise_on_error=False,
        resources={"warehouse": WarehouseResource(path=str(warehouse_path)),
                   "sources": SourcesResource(mode="snapshot",
                                              snapshot_dir=str(tmp_path / "snap"))},
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    error = failure.event_specific_data.error
    message = (error.cause or error).message.strip()
    assert "fred CPIAUCSL: snapshot file" in message
    assert "does not match its manifest sha256" in message


def test_a_first_live_run_whose_keyless_dataset_fails_creates_its_table_empty(
    warehouse_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no table yet to keep, a failed /global (a dataset without a key) crashed the
    ingest step with a CatalogException; now the table starts empty and the failure is the
    fetch_fresh check's one line."""
    markets = (FIXTURES / "coingecko" / "coins_markets.json").read_bytes()
    with FaultServer() as server:
        server.route("/api/v3/global", html_challenge())
        server.route("/api/v3/coins/markets", ok(markets))
        server.route("/api/v3/coins/bitcoin/market_chart", ok(CHART))
        server.route("/api/v3/coins/ethereum/market_chart", ok(CHART))
        monkeypatch.setenv("ALTFLOW_COINGECKO_BASE_URL", server.url + "/api/v3")
        result = _run_live(coingecko_raw, warehouse_path)
    assert result.success
    work = Warehouse(warehouse_path).working(result.run_id)
    assert work.query("SELECT count(*) AS n FROM raw.coingecko_global")["n"][0] == 0
    assert work.query("SELECT count(*) AS n FROM raw.coingecko_market_chart")["n"][0] == 802
    check = _checks(result)[("raw/coingecko_global", "fetch_fresh")]
    assert not check.passed
    assert check.description.startswith("coingecko global: got an HTML page")
