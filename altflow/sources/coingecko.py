"""CoinGecko API v3: global crypto market, coin markets and daily price history.

Three endpoints of ``https://api.coingecko.com/api/v3`` (``ALTFLOW_COINGECKO_BASE_URL``):

* ``/global`` -> ``{"data": {"total_market_cap": {"usd": ...}, "total_volume": {"usd": ...},
  "market_cap_percentage": {"btc": ...}, "updated_at": <unix s>, ...}}``;
* ``/coins/markets?vs_currency=usd&ids=bitcoin,ethereum`` -> a JSON array of coins with
  ``current_price``, ``market_cap``, ``total_volume``, ``circulating_supply``, ``last_updated``;
* ``/coins/{id}/market_chart?vs_currency=usd&days=N&interval=daily`` -> ``{"prices": [[ms,
  price], ...], "market_caps": [...], "total_volumes": [...]}``. CoinGecko chooses the
  granularity from ``days`` whatever ``interval`` says on free plans: 5-minutely points for
  ``days=1``, hourly for 2-90 days, one point a day at 00:00 UTC beyond that, plus, as the
  last point, the current value at the time of the request.

Daily values: the chart is reduced to one row per UTC date, the **last point of that UTC
day**, whatever granularity arrived. With daily data that is the 00:00 UTC point (CoinGecko's
only point of the day); with hourly or 5-minutely data it is the day's last observation
(about 23:00 or 23:55 UTC). The row of the current UTC day is the latest value at fetch time
(provisional until the day ends). Market caps and volumes are reduced the same way.

Each endpoint is its own dataset (``global``, ``coins_markets``, ``market_chart_<coin>``):
one refused payload does not discard the others.

Keyless and demo access is limited to the past 365 days of history, so ``days`` defaults to
365 (``ALTFLOW_COINGECKO_DAYS``; ``max`` needs a paid plan). An optional demo key is sent as
``x-cg-demo-api-key`` (``ALTFLOW_COINGECKO_API_KEY``). Requests are spaced by
``ALTFLOW_COINGECKO_MIN_INTERVAL`` seconds (default 2.5: at most 24 calls a minute, under the
demo plan's 30); keyless access may be throttled sooner, and a 429 is then retried after its
Retry-After by the shared HTTP client.

Snapshot datasets (``snapshot/coingecko/manifest.json``): ``global``, ``coins_markets``,
``market_chart_<coin id>`` and ``coin_history_<coin id>``.

``coin_history_<coin>`` is **snapshot-only**: CoinGecko's ``/coins/{id}/history?date=dd-mm-yyyy``
(the 00:00 UTC snapshot of one date: ``market_data.current_price.usd``), one call per date, as a
public copy stored it after the embedded market_chart copy ends. It is embedded as a plain CSV
(``date,price_usd``: ISO UTC date, USD per coin, numeric text as in the copy) and gives **price
only**, no market cap or volume (raw.coingecko_coin_history). A live run does not fetch it: the
live market_chart already holds every day, with market cap and volume, so the table is empty
then, except for the rows of a coin whose live chart failed: those are kept with its last good
chart rows. The staging model takes a history price only on dates the chart lacks.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from datetime import UTC, date, datetime

import polars as pl

from altflow import config
from altflow.config import ConfigError
from altflow.sources.base import Batch, DatasetResult, Payload, Source, check_recent, today

COINS: dict[str, str] = {"bitcoin": "bitcoin", "ethereum": "ether"}  # CoinGecko id -> asset id
DEFAULT_MIN_INTERVAL = 2.5
DEFAULT_DAYS = "365"
API_KEY_HEADER = "x-cg-demo-api-key"

GLOBAL_DATASET = "global"
MARKETS_DATASET = "coins_markets"
CHART_PREFIX = "market_chart_"
HISTORY_PREFIX = "coin_history_"
GLOBAL_TABLE = "raw.coingecko_global"
MARKETS_TABLE = "raw.coingecko_markets"
CHART_TABLE = "raw.coingecko_market_chart"
HISTORY_TABLE = "raw.coingecko_coin_history"
HISTORY_HEADER = ["date", "price_usd"]
# A live chart whose latest point is older than this is taken for a truncated one (the
# chart always ends with the value at request time).
MAX_AGE_DAYS = 3

GLOBAL_SCHEMA = {
    "updated_at": pl.Datetime("us", "UTC"),
    "total_market_cap_usd": pl.Float64,
    "total_volume_usd": pl.Float64,
    "bitcoin_dominance": pl.Float64,
    "ether_dominance": pl.Float64,
    "active_cryptocurrencies": pl.Int64,
}
MARKETS_SCHEMA = {
    "coin_id": pl.Utf8,
    "asset": pl.Utf8,
    "symbol": pl.Utf8,
    "price_usd": pl.Float64,
    "market_cap_usd": pl.Float64,
    "total_volume_usd": pl.Float64,
    "circulating_supply": pl.Float64,
    "last_updated": pl.Datetime("us", "UTC"),
}
CHART_SCHEMA = {
    "coin_id": pl.Utf8,
    "asset": pl.Utf8,
    "date": pl.Date,
    "price_usd": pl.Float64,
    "market_cap_usd": pl.Float64,
    "total_volume_usd": pl.Float64,
}

HISTORY_SCHEMA = {
    "coin_id": pl.Utf8,
    "asset": pl.Utf8,
    "date": pl.Date,
    "price_usd": pl.Float64,
}


def min_interval() -> float:
    """ALTFLOW_COINGECKO_MIN_INTERVAL: seconds between requests (default 2.5)."""
    return config.env_number("ALTFLOW_COINGECKO_MIN_INTERVAL", DEFAULT_MIN_INTERVAL)


def history_days() -> str:
    """ALTFLOW_COINGECKO_DAYS: days of daily history to request (a positive integer or max)."""
    raw = (config.env("ALTFLOW_COINGECKO_DAYS") or DEFAULT_DAYS).strip().lower()
    if raw != "max" and not (raw.isdigit() and int(raw) > 0):
        raise ConfigError(f"ALTFLOW_COINGECKO_DAYS={raw!r}: expected a positive integer or max")
    return raw


class CoinGecko(Source):
    id = "coingecko"
    default_base_url = "https://api.coingecko.com/api/v3"

    @property
    def min_interval(self) -> float:
        return min_interval()

    def headers(self) -> dict[str, str]:
        key = config.env("ALTFLOW_COINGECKO_API_KEY")
        return {API_KEY_HEADER: key} if key else {}

    def fetch_global(self) -> Payload:
        return self.fetch(GLOBAL_DATASET, "/global")

    def fetch_markets(self, coin_ids: list[str]) -> Payload:
        params = {"vs_currency": "usd", "ids": ",".join(coin_ids)}
        return self.fetch(MARKETS_DATASET, "/coins/markets", params)

    def batch(self) -> Batch:
        return collect(self)

    def fetch_market_chart(self, coin_id: str, days: str | None = None) -> Payload:
        params = {"vs_currency": "usd", "days": days or history_days(), "interval": "daily"}
        return self.fetch(f"{CHART_PREFIX}{coin_id}", f"/coins/{coin_id}/market_chart", params)

    def fetch_coin_history(self, coin_id: str) -> Payload:
        """The embedded ``/coins/{id}/history`` prices of one coin (snapshot mode only)."""
        if self.mode != "snapshot":
            raise ConfigError(f"{HISTORY_PREFIX}{coin_id} is a snapshot-only dataset")
        return self.fetch(f"{HISTORY_PREFIX}{coin_id}", f"/coins/{coin_id}/history")


# --- field helpers: each failure names the dataset and the JSON path -------------------


def _field(payload: Payload, obj: object, path: str) -> object:
    """obj[path] for a dotted path, failing with the path if any level is missing."""
    current = obj
    walked = []
    for key in path.split("."):
        walked.append(key)
        if not isinstance(current, dict) or key not in current:
            raise payload.fail(f"missing field {'.'.join(walked)!r}")
        current = current[key]
    return current


def _number(
    payload: Payload, value: object, where: str, *, positive: bool = False, optional: bool = False
) -> float | None:
    if value is None:
        if optional:
            return None
        raise payload.fail(f"field {where!r} is null")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise payload.fail(f"field {where!r} is not a number: {value!r:.40}")
    number = float(value)
    if positive and number <= 0:
        raise payload.fail(f"field {where!r} is not positive: {number:g}")
    if number < 0:
        raise payload.fail(f"field {where!r} is negative: {number:g}")
    return number


def _timestamp(payload: Payload, value: object, where: str, *, unit: str) -> datetime:
    """A UNIX timestamp (unit 's' or 'ms') or an ISO-8601 string, as an aware UTC datetime."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise payload.fail(f"field {where!r} is not a timestamp: {value!r:.40}") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise payload.fail(f"field {where!r} is not a timestamp: {value!r:.40}")
    seconds = value / 1000 if unit == "ms" else value
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise payload.fail(f"field {where!r} is out of range: {value!r}") from None


# --- parsers ----------------------------------------------------------------------------


def parse_global(payload: Payload) -> pl.DataFrame:
    """/global -> one row: total crypto market cap and 24 h volume in USD, dominance shares."""
    body = payload.json()
    data = _field(payload, body, "data")
    cap = _number(payload, _field(payload, body, "data.total_market_cap.usd"),
                  "data.total_market_cap.usd", positive=True)
    volume = _number(payload, _field(payload, body, "data.total_volume.usd"),
                     "data.total_volume.usd", positive=True)
    updated = _timestamp(payload, _field(payload, body, "data.updated_at"), "data.updated_at",
                         unit="s")
    shares = data.get("market_cap_percentage")
    if not isinstance(shares, dict):
        shares = {}
    btc = _number(payload, shares.get("btc"), "data.market_cap_percentage.btc", optional=True)
    eth = _number(payload, shares.get("eth"), "data.market_cap_percentage.eth", optional=True)
    active = data.get("active_cryptocurrencies")
    return pl.DataFrame(
        {
            "updated_at": [updated],
            "total_market_cap_usd": [cap],
            "total_volume_usd": [volume],
            "bitcoin_dominance": [btc / 100 if btc is not None else None],
            "ether_dominance": [eth / 100 if eth is not None else None],
            "active_cryptocurrencies": [active if isinstance(active, int) else None],
        },
        schema=GLOBAL_SCHEMA,
    )


def _coin_getter(payload: Payload, coin: dict, coin_id: str) -> Callable[[str], object]:
    def get(name: str) -> object:
        if name not in coin:
            raise payload.fail(f"{coin_id}: missing field {name!r}")
        return coin[name]

    return get


def parse_markets(payload: Payload, coin_ids: list[str] | None = None) -> pl.DataFrame:
    """/coins/markets -> one row per coin: price, market cap, 24 h volume, circulating supply.

    Every requested coin must be present; its price and market cap must be positive.
    """
    wanted = coin_ids or list(COINS)
    body = payload.json()
    if not isinstance(body, list):
        raise payload.fail(f"expected a JSON array of coins, got {type(body).__name__}")
    rows = []
    seen: set[str] = set()
    for index, coin in enumerate(body):
        coin_id = coin.get("id") if isinstance(coin, dict) else None
        if not isinstance(coin_id, str):
            raise payload.fail(f"coin {index}: missing field 'id'")
        if coin_id not in wanted:
            continue
        if coin_id in seen:
            raise payload.fail(f"coin {coin_id!r} listed twice")
        seen.add(coin_id)
        get = _coin_getter(payload, coin, coin_id)
        rows.append(
            {
                "coin_id": coin_id,
                "asset": COINS.get(coin_id, coin_id),
                "symbol": str(get("symbol")),
                "price_usd": _number(payload, get("current_price"),
                                     f"{coin_id}.current_price", positive=True),
                "market_cap_usd": _number(payload, get("market_cap"),
                                          f"{coin_id}.market_cap", positive=True),
                "total_volume_usd": _number(payload, get("total_volume"),
                                            f"{coin_id}.total_volume"),
                "circulating_supply": _number(payload, get("circulating_supply"),
                                              f"{coin_id}.circulating_supply", optional=True),
                "last_updated": _timestamp(payload, get("last_updated"),
                                           f"{coin_id}.last_updated", unit="ms"),
            }
        )
    missing = [c for c in wanted if c not in seen]
    if missing:
        raise payload.fail(f"coins {missing} missing from the response")
    return pl.DataFrame(rows, schema=MARKETS_SCHEMA)


def _series(
    payload: Payload, body: object, name: str, *, positive: bool
) -> dict[date, float | None]:
    """One [[ms, value], ...] array as {UTC date: the last value of that UTC day}.

    Any granularity (daily at 00:00 UTC, hourly, 5-minutely, a trailing "now" point) gives
    one value per UTC date: the point with the latest time on that date. Two points at the
    same instant fail; only prices must be positive.
    """
    points = _field(payload, body, name)
    if not isinstance(points, list) or not points:
        raise payload.fail(f"field {name!r} is not a non-empty array of [time, value] pairs")
    latest: dict[date, tuple[datetime, float | None]] = {}
    seen: set[datetime] = set()
    for index, point in enumerate(points):
        where = f"{name}[{index}]"
        if not isinstance(point, list) or len(point) != 2:
            raise payload.fail(f"field {where!r} is not a [time, value] pair: {point!r:.40}")
        stamp = _timestamp(payload, point[0], f"{where}[0]", unit="ms")
        value = _number(payload, point[1], f"{where}[1]", positive=positive,
                        optional=not positive)
        if stamp in seen:
            raise payload.fail(f"field {where!r} duplicates time {stamp.isoformat()}")
        seen.add(stamp)
        day = stamp.date()
        if day not in latest or stamp > latest[day][0]:
            latest[day] = (stamp, value)
    return {day: value for day, (_stamp, value) in latest.items()}


def parse_market_chart(payload: Payload) -> pl.DataFrame:
    """/coins/{id}/market_chart -> (coin_id, asset, date, price, market cap, volume).

    One row per UTC date: the last point of the day, whatever granularity CoinGecko chose.
    Prices must be positive and finite; market caps and volumes may be 0 in early history
    (-> null).
    """
    coin_id = payload.dataset.removeprefix(CHART_PREFIX)
    body = payload.json()
    if not isinstance(body, dict):
        raise payload.fail(f"expected a JSON object, got {type(body).__name__}")
    prices = _series(payload, body, "prices", positive=True)
    caps = _series(payload, body, "market_caps", positive=False)
    volumes = _series(payload, body, "total_volumes", positive=False)
    days = sorted(prices)
    return pl.DataFrame(
        {
            "coin_id": [coin_id] * len(days),
            "asset": [COINS.get(coin_id, coin_id)] * len(days),
            "date": days,
            "price_usd": [prices[d] for d in days],
            "market_cap_usd": [caps.get(d) or None for d in days],
            "total_volume_usd": [volumes.get(d) or None for d in days],
        },
        schema=CHART_SCHEMA,
    )


def parse_coin_history(payload: Payload) -> pl.DataFrame:
    """``coin_history_<coin>`` CSV (``date,price_usd``) -> (coin_id, asset, date, price_usd).

    One row per UTC date (CoinGecko's ``/coins/{id}/history`` snapshot at 00:00 UTC of that
    date); dates must be ISO and unique, prices positive and finite.
    """
    coin_id = payload.dataset.removeprefix(HISTORY_PREFIX)
    reader = csv.reader(io.StringIO(payload.text("CSV")))
    header = next(reader, None)
    if header != HISTORY_HEADER:
        raise payload.fail(f"expected the header {','.join(HISTORY_HEADER)}, got {header!r:.60}")
    days: list[date] = []
    prices: list[float] = []
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != 2:
            raise payload.fail(f"line {line}: expected 2 fields, got {len(row)}")
        try:
            day = date.fromisoformat(row[0])
            price = float(row[1])
        except ValueError:
            raise payload.fail(f"line {line}: not an ISO date and a number: {row!r:.60}") from None
        if day in days:
            raise payload.fail(f"line {line}: date {day.isoformat()} listed twice")
        days.append(day)
        prices.append(_number(payload, price, f"line {line} price_usd", positive=True))
    if not days:
        raise payload.fail("no rows")
    return pl.DataFrame(
        {
            "coin_id": [coin_id] * len(days),
            "asset": [COINS.get(coin_id, coin_id)] * len(days),
            "date": days,
            "price_usd": prices,
        },
        schema=HISTORY_SCHEMA,
    ).sort("date")


def collect(source: CoinGecko, coin_ids: list[str] | None = None) -> Batch:
    """/global, /coins/markets, each coin's chart and its embedded history, each a dataset.

    In snapshot mode a missing /global, /coins/markets or coin_history file gives an empty
    table (the marts then use the latest daily chart point) and a note; a missing chart is a
    failure. coin_history is read in snapshot mode only (live: its table is empty).
    """
    ids = coin_ids or list(COINS)
    batch = source.new_batch(
        {GLOBAL_TABLE: GLOBAL_SCHEMA, MARKETS_TABLE: MARKETS_SCHEMA, CHART_TABLE: CHART_SCHEMA,
         HISTORY_TABLE: HISTORY_SCHEMA}
    )

    def global_work() -> DatasetResult:
        payload = source.fetch_global()
        frame = parse_global(payload)
        return DatasetResult(payload.with_as_of(frame["updated_at"][0].date()),
                             {GLOBAL_TABLE: frame})

    def markets_work() -> DatasetResult:
        payload = source.fetch_markets(ids)
        frame = parse_markets(payload, ids)
        return DatasetResult(payload.with_as_of(frame["last_updated"].max().date()),
                             {MARKETS_TABLE: frame})

    for dataset, table, path, work in (
        (GLOBAL_DATASET, GLOBAL_TABLE, "/global", global_work),
        (MARKETS_DATASET, MARKETS_TABLE, "/coins/markets", markets_work),
    ):
        if source.available(dataset):
            source.attempt(batch, dataset, (table,), source.endpoint(path), work)
        else:
            batch.notes.append(f"coingecko: not in the embedded snapshot: {dataset}")
    for coin_id in ids:

        def chart_work(coin_id: str = coin_id) -> DatasetResult:
            payload = source.fetch_market_chart(coin_id)
            chart = parse_market_chart(payload)
            if source.mode == "live":
                check_recent(payload, chart["date"].max(), today(), MAX_AGE_DAYS, "daily chart")
            return DatasetResult(payload.with_as_of(chart["date"].max()), {CHART_TABLE: chart},
                                 key={"coin_id": coin_id})

        # live: a chart that fails keeps its coin's last good history rows as well (the
        # embedded prices after the embedded chart's end), so a failed refresh loses no day
        tables = (CHART_TABLE, HISTORY_TABLE) if source.mode == "live" else (CHART_TABLE,)
        source.attempt(batch, f"{CHART_PREFIX}{coin_id}", tables,
                       source.endpoint(f"/coins/{coin_id}/market_chart"), chart_work,
                       key={"coin_id": coin_id})
    if source.mode != "snapshot":
        return batch  # snapshot-only: the live chart holds every day, with size
    for coin_id in ids:
        dataset = f"{HISTORY_PREFIX}{coin_id}"
        if not source.available(dataset):
            batch.notes.append(f"coingecko: not in the embedded snapshot: {dataset}")
            continue

        def history_work(coin_id: str = coin_id) -> DatasetResult:
            payload = source.fetch_coin_history(coin_id)
            frame = parse_coin_history(payload)
            return DatasetResult(payload.with_as_of(frame["date"].max()), {HISTORY_TABLE: frame},
                                 key={"coin_id": coin_id})

        source.attempt(batch, dataset, (HISTORY_TABLE,),
                       source.endpoint(f"/coins/{coin_id}/history"), history_work,
                       key={"coin_id": coin_id})
    return batch


def fetch_all(
    source: CoinGecko, coin_ids: list[str] | None = None
) -> tuple[dict[str, pl.DataFrame], list[Payload], list[int]]:
    """(tables, payloads, rows per payload); any failure raises (for tests and scripts)."""
    batch = collect(source, coin_ids)
    batch.raise_failures()
    return batch.tables, batch.payloads, batch.rows
