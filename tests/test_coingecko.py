"""CoinGecko API v3: parsers on real-format payloads, failures, and the live source."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from altflow.config import ConfigError, HttpSettings
from altflow.sources import coingecko
from altflow.sources.base import Payload, snapshot_entries
from altflow.sources.errors import SourceError
from altflow.sources.http import HttpClient
from altflow.warehouse import Warehouse
from pipelines.cli import main
from tests.conftest import FIXTURES
from tests.faults import coingecko_chart

CG_FIXTURES = FIXTURES / "coingecko"



@pytest.fixture(autouse=True)
def _fixtures_present(monkeypatch: pytest.MonkeyPatch) -> None:
    """Live recency checks judge the fixtures against their own time, not today's."""
    monkeypatch.setattr(coingecko, "today", lambda: date(2025, 7, 21))


def payload(dataset: str, content: bytes) -> Payload:
    return Payload("coingecko", dataset, "http://x", content, datetime.now(UTC), "live")


def fixture(name: str) -> bytes:
    return (CG_FIXTURES / f"{name}.json").read_bytes()


def fixture_json(name: str) -> object:
    return json.loads(fixture(name))


# --- parsers -------------------------------------------------------------------------


def test_global_reads_nested_usd_totals() -> None:
    frame = coingecko.parse_global(payload("global", fixture("global")))
    row = frame.row(0, named=True)
    assert row["total_market_cap_usd"] == 1731998238933.4412
    assert row["total_volume_usd"] == 84056059410.27
    assert row["bitcoin_dominance"] == pytest.approx(0.496054)
    assert row["updated_at"] == datetime(2023, 12, 21, 23, 24, 22, tzinfo=UTC)


def test_markets_maps_ethereum_to_ether() -> None:
    frame = coingecko.parse_markets(payload("coins_markets", fixture("coins_markets")))
    assert frame["asset"].to_list() == ["bitcoin", "ether"]
    eth = frame.row(1, named=True)
    assert eth["price_usd"] == 3712.5 and eth["market_cap_usd"] == 448123456789
    assert eth["circulating_supply"] == 120712000.5
    assert eth["last_updated"] == datetime(2025, 7, 20, 12, 34, 50, 123000, tzinfo=UTC)


def test_market_chart_keeps_the_last_point_of_each_utc_day() -> None:
    frame = coingecko.parse_market_chart(
        payload("market_chart_bitcoin", fixture("market_chart_bitcoin"))
    )
    assert frame["date"].to_list() == [date(2025, 7, d) for d in (17, 18, 19, 20)]
    # 2025-07-20 has the 00:00 point (118000.0) and the 12:30 "now" point: the last wins
    assert frame["price_usd"].to_list() == [117380.2, 117533.9, 119841.6, 118234.0]
    assert frame["market_cap_usd"][3] == 2352540123456
    assert set(frame["asset"]) == {"bitcoin"} and set(frame["coin_id"]) == {"bitcoin"}


def test_market_chart_zero_or_null_caps_and_volumes_become_null() -> None:
    frame = coingecko.parse_market_chart(
        payload("market_chart_ethereum", fixture("market_chart_ethereum"))
    )
    assert set(frame["asset"]) == {"ether"}
    assert frame["market_cap_usd"][0] is None  # 0 in early history
    assert frame["total_volume_usd"][2] is None  # null


def chart(**overrides: object) -> bytes:
    data = fixture_json("market_chart_bitcoin")
    data.update(overrides)  # type: ignore[union-attr]
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("dataset", "content", "message"),
    [
        ("global", b"<!doctype html><html><title>Just a moment...</title></html>",
         "got an HTML page where JSON was expected"),
        ("global", fixture("global")[:200], "invalid JSON"),
        ("global", json.dumps({"data": {"total_market_cap": {"eur": 1.0},
                                         "total_volume": {"usd": 1.0}, "updated_at": 1}}).encode(),
         "missing field 'data.total_market_cap.usd'"),
        ("global", json.dumps({"status": {"error_code": 429}}).encode(), "missing field 'data'"),
        ("coins_markets", json.dumps(fixture_json("coins_markets")[:1]).encode(),
         "coins ['ethereum'] missing from the response"),
        ("coins_markets", fixture("coins_markets").replace(b'"current_price":3712.5',
                                                           b'"current_price":0'),
         "field 'ethereum.current_price' is not positive: 0"),
        ("coins_markets", fixture("coins_markets").replace(b'"market_cap":448123456789,', b""),
         "ethereum: missing field 'market_cap'"),
        ("market_chart_bitcoin", chart(prices=[[1752710400000, 1.0], [1752796800000, -3.0]]),
         "field 'prices[1][1]' is not positive: -3"),
        ("market_chart_bitcoin", chart(prices=[[1752710400000, 1.0], [1752710400000, 2.0],
                                              [1752796800000, 3.0]]),
         "field 'prices[1]' duplicates time 2025-07-17T00:00:00+00:00"),
        ("market_chart_bitcoin", json.dumps({"prices": [[1752710400000, 1.0]]}).encode(),
         "missing field 'market_caps'"),
        ("market_chart_bitcoin", chart(prices=[[1752710400000, "1.0"]]),
         "field 'prices[0][1]' is not a number"),
        ("market_chart_bitcoin", chart(prices=[]),
         "field 'prices' is not a non-empty array"),
    ],
)
def test_bad_payloads_fail_with_one_line_naming_dataset_and_field(
    dataset: str, content: bytes, message: str
) -> None:
    parse = {
        "global": coingecko.parse_global,
        "coins_markets": coingecko.parse_markets,
        "market_chart_bitcoin": coingecko.parse_market_chart,
    }[dataset]
    with pytest.raises(SourceError) as err:
        parse(payload(dataset, content))
    text = str(err.value)
    assert text.startswith(f"coingecko {dataset}: "), text
    assert message in text, text
    assert "\n" not in text


# --- settings --------------------------------------------------------------------------


def test_min_interval_and_days_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ALTFLOW_COINGECKO_MIN_INTERVAL", raising=False)
    assert coingecko.CoinGecko("live").min_interval == coingecko.DEFAULT_MIN_INTERVAL
    monkeypatch.setenv("ALTFLOW_COINGECKO_MIN_INTERVAL", "0.5")
    assert coingecko.CoinGecko("live").client.min_interval == 0.5
    monkeypatch.setenv("ALTFLOW_COINGECKO_MIN_INTERVAL", "-1")
    with pytest.raises(ConfigError, match="must not be negative"):
        coingecko.min_interval()
    assert coingecko.history_days() == "365"
    monkeypatch.setenv("ALTFLOW_COINGECKO_DAYS", "MAX")
    assert coingecko.history_days() == "max"
    monkeypatch.setenv("ALTFLOW_COINGECKO_DAYS", "a year")
    with pytest.raises(ConfigError, match="ALTFLOW_COINGECKO_DAYS"):
        coingecko.history_days()


# --- live ------------------------------------------------------------------------------


@pytest.fixture
def live_env(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> HTTPServer:
    monkeypatch.setenv("ALTFLOW_COINGECKO_BASE_URL", httpserver.url_for("/api/v3"))
    monkeypatch.setenv("ALTFLOW_COINGECKO_MIN_INTERVAL", "0")
    monkeypatch.delenv("ALTFLOW_COINGECKO_API_KEY", raising=False)
    return httpserver


CHART_END = datetime(2025, 7, 20)


def long_chart(price: float = 60000.0) -> bytes:
    """A year and a month of daily points ending 2025-07-20 (the blocking check wants 365)."""
    return coingecko_chart(CHART_END, 400, timedelta(days=1), price=price)


def serve_long(server: HTTPServer, prices: dict[str, float], broken: dict[str, bytes]) -> None:
    server.expect_request("/api/v3/global").respond_with_data(fixture("global"))
    server.expect_request("/api/v3/coins/markets").respond_with_data(fixture("coins_markets"))
    for coin in ("bitcoin", "ethereum"):
        server.expect_request(f"/api/v3/coins/{coin}/market_chart").respond_with_data(
            broken.get(coin) or long_chart(prices[coin])
        )


def serve_all(server: HTTPServer, headers: dict[str, str] | None = None) -> None:
    server.expect_request("/api/v3/global", headers=headers).respond_with_data(
        fixture("global"), content_type="application/json"
    )
    server.expect_request(
        "/api/v3/coins/markets",
        query_string={"vs_currency": "usd", "ids": "bitcoin,ethereum"},
        headers=headers,
    ).respond_with_data(fixture("coins_markets"), content_type="application/json")
    for coin in ("bitcoin", "ethereum"):
        server.expect_request(
            f"/api/v3/coins/{coin}/market_chart",
            query_string={"vs_currency": "usd", "days": "365", "interval": "daily"},
            headers=headers,
        ).respond_with_data(fixture(f"market_chart_{coin}"), content_type="application/json")


def test_live_fetch_uses_documented_paths_and_demo_key_header(
    live_env: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALTFLOW_COINGECKO_API_KEY", "CG-demo-123")
    serve_all(live_env, headers={"x-cg-demo-api-key": "CG-demo-123"})
    tables, payloads, rows = coingecko.fetch_all(coingecko.CoinGecko("live"))
    assert [p.dataset for p in payloads] == [
        "global", "coins_markets", "market_chart_bitcoin", "market_chart_ethereum"
    ]
    assert rows == [1, 2, 4, 4]
    assert payloads[2].as_of == date(2025, 7, 20)
    assert tables["raw.coingecko_market_chart"].height == 8
    # coin_history is snapshot-only: a live run never calls /coins/{id}/history
    assert tables[coingecko.HISTORY_TABLE].height == 0
    assert tables[coingecko.HISTORY_TABLE].schema == coingecko.HISTORY_SCHEMA


def test_live_429_is_retried_after_its_retry_after(live_env: HTTPServer) -> None:
    live_env.expect_ordered_request("/api/v3/global").respond_with_response(
        Response('{"status":{"error_code":429,"error_message":"rate limited"}}', status=429,
                 headers={"Retry-After": "42"})
    )
    live_env.expect_ordered_request("/api/v3/global").respond_with_data(fixture("global"))
    sleeps: list[float] = []
    client = HttpClient(
        "coingecko", HttpSettings(timeout=2, connect_timeout=2, retries=2, backoff=0.01),
        sleep=sleeps.append,
    )
    source = coingecko.CoinGecko("live", client=client)
    frame = coingecko.parse_global(source.fetch_global())
    assert frame.height == 1
    assert sleeps == [42.0]
    assert len(live_env.log) == 2


def test_live_html_challenge_fails_the_dataset(live_env: HTTPServer) -> None:
    live_env.expect_request("/api/v3/global").respond_with_data(
        "<html><head><title>Just a moment...</title></head><body>cf</body></html>",
        content_type="text/html",
    )
    with pytest.raises(SourceError, match="^coingecko global: got an HTML page"):
        coingecko.fetch_all(coingecko.CoinGecko("live"))


def test_snapshot_without_markets_file_gives_an_empty_markets_table(tmp_path: Path) -> None:
    folder = tmp_path / "coingecko"
    folder.mkdir()
    files = []
    for dataset in ("market_chart_bitcoin", "market_chart_ethereum"):
        content = fixture(dataset)
        (folder / f"{dataset}.json").write_bytes(content)
        files.append({
            "dataset": dataset, "path": f"{dataset}.json", "url": "https://api.coingecko.com/x",
            "as_of": "2025-07-20", "retrieved_at": "2025-07-20T12:00:00Z",
            "sha256": payload(dataset, content).sha256,
        })
    (folder / "manifest.json").write_text(json.dumps({"source": "coingecko", "files": files}))
    tables, payloads, rows = coingecko.fetch_all(
        coingecko.CoinGecko("snapshot", snapshot_root=tmp_path)
    )
    assert tables["raw.coingecko_markets"].height == 0
    assert tables["raw.coingecko_global"].height == 0
    assert [p.dataset for p in payloads] == ["market_chart_bitcoin", "market_chart_ethereum"]
    assert rows == [4, 4]


def test_cli_live_run_of_the_coingecko_tag_refreshes_crypto_alone(
    live_env: HTTPServer, warehouse_path: Path, built_warehouse: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Only CoinGecko is fetched; what is built from it is rebuilt, so the published marts
    carry the new prices; every other source's raw rows stay as they were."""
    import shutil

    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(built_warehouse, warehouse_path)
    wh = Warehouse(warehouse_path)
    lbma_before = wh.query("SELECT * FROM raw.lbma_prices ORDER BY dataset, date").rows()
    log_before = wh.query("SELECT count(*) AS n FROM raw.fetch_log")["n"][0]

    serve_long(live_env, {"bitcoin": 60000.0, "ethereum": 3000.0}, {})
    code = main(["run", "--source", "live", "--select", "tag:source=coingecko"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "\npublished:" in out
    chart_rows = wh.query("SELECT asset, min(date) AS first, count(*) AS n"
                          " FROM raw.coingecko_market_chart GROUP BY asset ORDER BY asset")
    assert chart_rows.rows() == [("bitcoin", date(2024, 6, 15), 401),
                                 ("ether", date(2024, 6, 15), 401)]
    assert wh.query("SELECT count(*) AS n FROM raw.coingecko_markets")["n"][0] == 2
    assert wh.query("SELECT * FROM raw.lbma_prices ORDER BY dataset, date").rows() == lbma_before
    log = wh.query("SELECT DISTINCT source, mode FROM raw.fetch_log"
                   f" QUALIFY row_number() OVER (ORDER BY loaded_at) > {log_before}")
    assert log.rows() == [("coingecko", "live")]
    mart = wh.query("SELECT min(date) AS first, count(*) AS n FROM marts.market_prices"
                    " WHERE asset = 'bitcoin' AND source = 'coingecko'")
    assert mart.rows() == [(date(2024, 6, 15), 401)]  # the marts were rebuilt from it


TRUNCATED_CHART = fixture("market_chart_bitcoin")[:-40]
ZERO_PRICE_CHART = chart(prices=[[1752710400000, 117380.2], [1752796800000, 0]])
DUPLICATE_CHART = chart(prices=[[1752710400000, 1.0], [1752710400000, 2.0], [1752796800000, 3.0]])


@pytest.mark.parametrize(
    ("path", "content", "message"),
    [
        ("/api/v3/global", b"<!DOCTYPE html><html><head><title>Just a moment...</title>",
         "coingecko global: got an HTML page where JSON was expected"),
        ("/api/v3/coins/markets", fixture("coins_markets").replace(b'"market_cap":448123456789,',
                                                                   b""),
         "coingecko coins_markets: ethereum: missing field 'market_cap'"),
        ("/api/v3/coins/bitcoin/market_chart", TRUNCATED_CHART,
         "coingecko market_chart_bitcoin: invalid JSON"),
        ("/api/v3/coins/bitcoin/market_chart", ZERO_PRICE_CHART,
         "coingecko market_chart_bitcoin: field 'prices[1][1]' is not positive: 0"),
        ("/api/v3/coins/bitcoin/market_chart", DUPLICATE_CHART,
         "coingecko market_chart_bitcoin: field 'prices[1]' duplicates time 2025-07-17T00:00"),
    ],
)
def test_live_failures_from_a_local_server(
    live_env: HTTPServer, path: str, content: bytes, message: str
) -> None:
    live_env.expect_request(path).respond_with_data(content)
    serve_all(live_env)  # the other endpoints answer normally
    with pytest.raises(SourceError) as err:
        coingecko.fetch_all(coingecko.CoinGecko("live"))
    assert str(err.value).startswith(message), str(err.value)


def test_cli_failed_chart_keeps_its_last_good_rows_and_the_rest_refreshes(
    live_env: HTTPServer, warehouse_path: Path, built_warehouse: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 11/12: one refused endpoint keeps its old rows; the others are refreshed."""
    _start_from(built_warehouse, warehouse_path)  # marts need every source
    serve_long(live_env, {"bitcoin": 60000.0, "ethereum": 3000.0}, {})
    assert main(["run", "--source", "live", "--select", "tag:source=coingecko"]) == 0
    wh = Warehouse(warehouse_path)
    ether = "SELECT * FROM raw.coingecko_market_chart WHERE coin_id = 'ethereum' ORDER BY date"
    before = wh.query(ether)

    live_env.clear()
    serve_long(live_env, {"bitcoin": 70000.0, "ethereum": 3500.0},
               {"ethereum": long_chart(3500.0)[:-25]})
    capsys.readouterr()
    assert main(["run", "--source", "live", "--select", "tag:source=coingecko"]) == 1
    out = capsys.readouterr()
    assert "coingecko market_chart_ethereum: invalid JSON" in out.out + out.err
    assert wh.query(ether).equals(before)
    bitcoin = wh.query("SELECT min(price_usd) AS low FROM raw.coingecko_market_chart"
                       " WHERE coin_id = 'bitcoin'")
    assert bitcoin["low"][0] == 70000.0
    failed = wh.query("SELECT dataset FROM raw.fetch_log WHERE status = 'failed'")
    assert failed["dataset"].to_list() == ["market_chart_ethereum"]


def test_embedded_snapshot_parses() -> None:
    source = coingecko.CoinGecko("snapshot")
    if not snapshot_entries("coingecko"):
        pytest.skip("no CoinGecko snapshot")
    tables, payloads, _ = coingecko.fetch_all(source)
    assert {"market_chart_bitcoin", "market_chart_ethereum"} <= {p.dataset for p in payloads}
    assert tables["raw.coingecko_market_chart"]["price_usd"].min() > 0


# --- coin_history (snapshot-only /coins/{id}/history prices) -----------------------------


def snapshot_payload(dataset: str) -> Payload:
    from altflow.sources.base import read_snapshot

    return read_snapshot("coingecko", dataset)


def test_embedded_coin_history_is_price_only_and_runs_to_2026_08_21() -> None:
    btc = coingecko.parse_coin_history(snapshot_payload("coin_history_bitcoin"))
    eth = coingecko.parse_coin_history(snapshot_payload("coin_history_ethereum"))
    assert btc.columns == ["coin_id", "asset", "date", "price_usd"]
    for frame in (btc, eth):  # 71 contiguous days each
        assert frame.height == 71
        assert frame["date"].min() == date(2026, 6, 12)
        assert frame["date"].max() == date(2026, 8, 21)
        assert frame["date"].diff().drop_nulls().dt.total_days().to_list() == [1] * 70
    assert btc["price_usd"][-1] == 73097.54507565 and btc["asset"][0] == "bitcoin"
    assert eth["price_usd"][-1] == 2326.7109671 and eth["asset"][0] == "ether"
    assert eth["price_usd"][0] == 1671.88909164  # 2026-06-12


def test_coin_history_is_dated_like_the_market_chart() -> None:
    """On the 38 days both hold (2026-06-12..07-19), /history's price of D is the chart's
    00:00 UTC point of D within 0.2 % (median 0.03 %); the neighbouring days are >1 % off."""
    import statistics

    history = coingecko.parse_coin_history(snapshot_payload("coin_history_bitcoin"))
    chart = coingecko.parse_market_chart(snapshot_payload("market_chart_bitcoin"))
    points = dict(zip(chart["date"], chart["price_usd"], strict=True))
    prices = dict(zip(history["date"], history["price_usd"], strict=True))

    def gaps(lag: int) -> list[float]:
        return [abs(p / points[d + timedelta(days=lag)] - 1) for d, p in prices.items()
                if d + timedelta(days=lag) in points]

    same = gaps(0)
    assert len(same) == 38
    assert statistics.median(same) == pytest.approx(0.000284, abs=5e-6)
    assert max(same) < 0.002
    for lag in (-1, 1):
        assert statistics.median(gaps(lag)) > 0.013


def test_snapshot_batch_reads_coin_history_beside_the_charts() -> None:
    batch = coingecko.CoinGecko("snapshot").batch()
    batch.raise_failures()
    history = batch.table(coingecko.HISTORY_TABLE)
    assert history.group_by("coin_id").len().sort("coin_id").rows() == [
        ("bitcoin", 71), ("ethereum", 71)]
    found = {p.dataset: p for p in batch.payloads}
    btc = found["coin_history_bitcoin"]
    assert btc.as_of == date(2026, 8, 21)
    assert btc.retrieved_from == ("https://github.com/Cimera311/Tagesgenaue-Preise/blob/"
                                  "8c070403ab537793a8b2688dd7d5d6acf1562c09/"
                                  "data/price_lists/bitcoin_prices.csv")
    assert btc.url.startswith("https://api.coingecko.com/api/v3/coins/bitcoin/history?date=")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"day,price\n2026-08-21,1.0\n", "expected the header date,price_usd"),
        (b"date,price_usd\n2026-08-21,1.0\n2026-08-21,2.0\n", "listed twice"),
        (b"date,price_usd\n2026-08-21,-1.0\n", "is not positive"),
        (b"date,price_usd\n2026-08-21,nan\n", "is not a number"),
        (b"date,price_usd\n21-08-2026,1.0\n", "not an ISO date and a number"),
        (b"date,price_usd\n", "no rows"),
    ],
)
def test_coin_history_refuses_bad_csv(body: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        coingecko.parse_coin_history(payload("coin_history_bitcoin", body))


def test_coin_history_is_never_fetched_live() -> None:
    with pytest.raises(ConfigError, match="snapshot-only"):
        coingecko.CoinGecko("live").fetch_coin_history("bitcoin")


def _start_from(built: Path, warehouse_path: Path) -> None:
    """A copy of the snapshot build: a run rebuilds the marts, which read every source."""
    import shutil

    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(built, warehouse_path)


def test_cli_failed_live_chart_keeps_its_coins_embedded_history(
    live_env: HTTPServer, warehouse_path: Path, built_warehouse: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A live run emptied raw.coingecko_coin_history (snapshot-only) even for a coin whose
    chart failed, so its prices went back from 2026-08-21 to the embedded chart's end. Now the
    failed coin keeps its history rows with its chart rows; a coin charted live drops them."""
    _start_from(built_warehouse, warehouse_path)
    wh = Warehouse(warehouse_path)
    history = "SELECT * FROM raw.coingecko_coin_history WHERE coin_id = 'ethereum' ORDER BY date"
    before = wh.query(history)
    latest = ("SELECT max(date) AS d FROM marts.market_prices"
              " WHERE asset = 'ether' AND price_usd IS NOT NULL")
    latest_before = wh.query(latest)["d"][0]
    assert before.height > 0 and latest_before == date(2026, 8, 21)

    serve_long(live_env, {"bitcoin": 70000.0, "ethereum": 3500.0},
               {"ethereum": long_chart(3500.0)[:-25]})
    assert main(["run", "--source", "live", "--select", "tag:source=coingecko"]) == 1
    capsys.readouterr()
    assert wh.query(history).equals(before)
    assert wh.query(latest)["d"][0] == latest_before
    left = wh.query("SELECT count(*) AS n FROM raw.coingecko_coin_history"
                    " WHERE coin_id = 'bitcoin'")["n"][0]
    assert left == 0  # bitcoin's live chart has every day
