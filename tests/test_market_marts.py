"""The market marts on a warehouse built from small series: volatility, returns, market cap,
notes, and the two bitcoin histories, checked against values computed by hand."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from altflow.sources import coingecko, lbma, reference
from altflow.sources.base import Payload
from altflow.sqlmodels import discover
from altflow.warehouse import Warehouse, build_model, load_raw
from tests.conftest import FIXTURES

TARGETS = (
    "marts.market_prices",
    "marts.market_snapshot",
    "marts.market_history",
    "marts.asset_returns",
    "marts.bitcoin_price_comparison",
)
OZ_PER_TONNE = 32150.7466
END = date(2025, 6, 30)


# Raw tables an ingest asset always writes (empty when it has no dataset for them): a test
# warehouse loaded without one gets it empty, as a run would.
ALWAYS_WRITTEN = {coingecko.HISTORY_TABLE: coingecko.HISTORY_SCHEMA}


def build_models(wh: Warehouse, targets: tuple[str, ...] = TARGETS) -> None:
    """Build the targets and every SQL model they read, upstream first."""
    models = {m.table: m for m in discover()}
    order: list[str] = []
    present = set(
        wh.query("SELECT schema_name || '.' || table_name AS t FROM duckdb_tables()")["t"]
    )
    missing = {t: pl.DataFrame(schema=s) for t, s in ALWAYS_WRITTEN.items() if t not in present}
    if missing:
        load_raw(wh, missing, [], [])

    def visit(table: str) -> None:
        if table in order or table not in models:
            return
        for dep in models[table].deps:
            visit(dep)
        order.append(table)

    for target in targets:
        visit(target)
    with wh.writer() as con:
        for table in order:
            build_model(con, table, models[table].sql)


def business_days(start: date, end: date) -> list[date]:
    days, day = [], start
    while day <= end:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def calendar_days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def wiggle(n: int, base: float, step: float) -> list[float]:
    """A deterministic, irregular path: log price moves by step * sin(i * 1.7) each day."""
    prices, level = [], math.log(base)
    for i in range(n):
        level += step * math.sin(i * 1.7)
        prices.append(round(math.exp(level), 4))
    return prices


def lbma_rows(dataset: str, days: list[date], usd: list[float | None]) -> pl.DataFrame:
    meta = lbma.FILES[dataset]
    return pl.DataFrame(
        {"dataset": dataset, "asset": meta.asset, "fixing": meta.fixing, "date": days,
         "usd": usd, "gbp": None, "eur": None},
        schema=lbma.RAW_SCHEMA,
    )


GOLD_DAYS = business_days(date(2022, 1, 3), END)
GOLD = wiggle(len(GOLD_DAYS), 1800.0, 0.008)
SILVER_DAYS = GOLD_DAYS[-200:]
SILVER = wiggle(200, 30.0, 0.015)
PLATINUM = {  # month-end prices chosen for round returns
    date(2020, 1, 31): 100.0,
    date(2020, 2, 28): 110.0,
    date(2025, 1, 31): 161.051,  # 100 * 1.1 ** 5
    date(2025, 2, 28): 170.0,
}
BTC_DAYS = calendar_days(date(2024, 1, 1), END)
BTC = wiggle(len(BTC_DAYS), 42000.0, 0.03)
ETH_DAYS = calendar_days(END - timedelta(days=99), END)
ETH = wiggle(100, 3000.0, 0.04)
CPI_MONTHS = [date(2019 + (m // 12), m % 12 + 1, 1) for m in range(12, 12 * 7)]  # 2020..2025


def cpi_value(month: date) -> float:
    k = (month.year - 2020) * 12 + month.month - 1
    return 250.0 * 1.0025**k


def fake_payload(source: str, dataset: str) -> Payload:
    return Payload(source, dataset, f"https://example.org/{source}/{dataset}", b"x",
                   datetime(2025, 7, 1, tzinfo=UTC), "snapshot", END)


def raw_tables(cut: date | None = None) -> tuple[dict[str, pl.DataFrame], list[Payload]]:
    """The raw inputs of the module's warehouse; with `cut`, only what is dated by then."""
    gold_pm = [*GOLD]
    gold_pm[-3] = None  # a PM fixing missing: the AM one fills in
    lbma_frame = pl.concat([
        lbma_rows("gold_pm", GOLD_DAYS, gold_pm),
        lbma_rows("gold_am", GOLD_DAYS[-3:], [GOLD[-3] * 2, 1.0, 1.0]),
        lbma_rows("silver", SILVER_DAYS, SILVER),
        lbma_rows("platinum_pm", list(PLATINUM), list(PLATINUM.values())),
    ])
    chart = pl.DataFrame(
        {
            "coin_id": ["bitcoin"] * len(BTC_DAYS) + ["ethereum"] * len(ETH_DAYS),
            "asset": ["bitcoin"] * len(BTC_DAYS) + ["ether"] * len(ETH_DAYS),
            "date": BTC_DAYS + ETH_DAYS,
            "price_usd": BTC + ETH,
            "market_cap_usd": [p * 19.7e6 for p in BTC] + [p * 120.7e6 for p in ETH],
            "total_volume_usd": [3.0e10] * (len(BTC_DAYS) - 1) + [9.0e10] + [1.5e10] * 100,
        },
        schema=coingecko.CHART_SCHEMA,
    )
    markets = pl.DataFrame(
        [{"coin_id": "bitcoin", "asset": "bitcoin", "symbol": "btc", "price_usd": 107000.0,
          "market_cap_usd": 2.13e12, "total_volume_usd": 4.0e10, "circulating_supply": 19.89e6,
          "last_updated": datetime(2025, 7, 1, 9, 30, tzinfo=UTC)}],
        schema=coingecko.MARKETS_SCHEMA,
    )
    global_frame = pl.DataFrame(
        [{"updated_at": datetime(2025, 7, 1, 9, 0, tzinfo=UTC), "total_market_cap_usd": 3.3e12,
          "total_volume_usd": 1.1e11, "bitcoin_dominance": 0.64, "ether_dominance": 0.09,
          "active_cryptocurrencies": 17000}],
        schema=coingecko.GLOBAL_SCHEMA,
    )
    cpi_months = [m for m in CPI_MONTHS if m != date(2025, 4, 1)]  # April 2025 missing
    fred = pl.DataFrame(
        {
            "series_id": ["CPIAUCSL"] * len(cpi_months) + ["CBBTCUSD"] * len(BTC_DAYS),
            "date": cpi_months + BTC_DAYS,
            "value": [cpi_value(m) for m in cpi_months] + [p * 1.001 for p in BTC],
            "units": "x", "frequency": "x", "usd_per_unit": None,
        },
        schema={"series_id": pl.Utf8, "date": pl.Date, "value": pl.Float64, "units": pl.Utf8,
                "frequency": pl.Utf8, "usd_per_unit": pl.Float64},
    )
    facts = reference.parse_market_facts(
        Payload("reference", "market_facts", "x",
                (FIXTURES / "reference" / "market_facts.csv").read_bytes(),
                datetime.now(UTC), "snapshot")
    )
    payloads = [fake_payload("lbma", d) for d in ("gold_pm", "gold_am", "silver", "platinum_pm")]
    payloads += [fake_payload("coingecko", d) for d in
                 ("global", "coins_markets", "market_chart_bitcoin", "market_chart_ethereum")]
    payloads += [fake_payload("fred", "CPIAUCSL"), fake_payload("fred", "CBBTCUSD"),
                 fake_payload("reference", "market_facts")]
    tables = {
        "raw.lbma_prices": lbma_frame,
        "raw.coingecko_market_chart": chart,
        "raw.coingecko_markets": markets,
        "raw.coingecko_global": global_frame,
        "raw.fred_observations": fred,
        "raw.reference_facts": facts,
        "raw.reference_assets": reference.asset_registry(),
    }
    if cut is not None:
        tables = {
            name: frame.filter(pl.col(col).cast(pl.Date) <= cut) if col else frame
            for name, frame in tables.items()
            for col in [next((c for c in ("date", "as_of", "last_updated", "updated_at")
                              if c in frame.columns), None)]
        }
    return tables, payloads


def build_warehouse(path: Path, cut: date | None = None) -> Warehouse:
    warehouse = Warehouse(path)
    tables, payloads = raw_tables(cut)
    load_raw(warehouse, tables, payloads, [1] * len(payloads))
    build_models(warehouse)
    return warehouse


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return build_warehouse(tmp_path_factory.mktemp("marts") / "altflow.duckdb")


def snapshot(wh: Warehouse) -> dict[str, dict]:
    rows = wh.query("SELECT * FROM marts.market_snapshot").iter_rows(named=True)
    return {r["asset"]: r for r in rows}


def annualised_vol(prices: list[float], days_per_year: float) -> float:
    returns = [math.log(b / a) for a, b in zip(prices, prices[1:], strict=False)]
    return statistics.stdev(returns) * math.sqrt(days_per_year)


# --- market_prices -------------------------------------------------------------------


def test_market_prices_is_long_with_pm_preferred_and_am_fallback(wh: Warehouse) -> None:
    gold = wh.query(
        "SELECT date, price_usd, dataset FROM marts.market_prices WHERE asset = 'gold'"
        " ORDER BY date"
    )
    assert gold.height == len(GOLD_DAYS)
    assert gold["price_usd"][-1] == GOLD[-1] and gold["dataset"][-1] == "gold_pm"
    assert gold["price_usd"][-3] == GOLD[-3] * 2 and gold["dataset"][-3] == "gold_am"
    keys = wh.query("SELECT count(*) AS n, count(DISTINCT (asset, source, date)) AS k"
                    " FROM marts.market_prices")
    assert keys["n"][0] == keys["k"][0]


def test_bitcoin_has_two_sources_and_coingecko_is_primary(wh: Warehouse) -> None:
    sources = wh.query(
        "SELECT source, dataset, primary_source, count(*) AS n FROM marts.market_prices"
        " WHERE asset = 'bitcoin' GROUP BY ALL ORDER BY source"
    )
    assert sources.rows() == [
        ("coingecko", "market_chart_bitcoin", True, len(BTC_DAYS)),
        ("fred", "CBBTCUSD", False, len(BTC_DAYS)),
    ]


def test_bitcoin_comparison_pairs_the_two_histories(wh: Warehouse) -> None:
    comparison = wh.query("SELECT * FROM marts.bitcoin_price_comparison ORDER BY date")
    assert comparison.height == len(BTC_DAYS) and comparison["in_both"].all()
    first = comparison.row(0, named=True)
    assert first["coingecko_price_usd"] == BTC[0]
    assert first["coinbase_price_usd"] == pytest.approx(BTC[0] * 1.001)
    assert first["diff_share"] == pytest.approx(1 / 1.001 - 1)
    assert first["coingecko_next_day_price_usd"] == BTC[1]
    assert first["diff_share_next_day"] == pytest.approx(BTC[1] / (BTC[0] * 1.001) - 1)


# --- market_snapshot ------------------------------------------------------------------


def test_gold_volatility_from_daily_log_returns_over_1_and_3_years(wh: Warehouse) -> None:
    gold = snapshot(wh)["gold"]
    prices = dict(zip(GOLD_DAYS, GOLD, strict=True))
    series = [p for d, p in prices.items()]
    series[-3] = GOLD[-3] * 2  # the AM fallback is part of the primary series
    dated = list(zip(GOLD_DAYS, series, strict=True))
    # returns dated after as_of - 1 year use the price before them as their base
    one = [p for i, (d, p) in enumerate(dated) if d > date(2024, 6, 30)
           or (i + 1 < len(dated) and dated[i + 1][0] > date(2024, 6, 30))]
    three = [p for i, (d, p) in enumerate(dated) if d > date(2022, 6, 30)
             or (i + 1 < len(dated) and dated[i + 1][0] > date(2022, 6, 30))]
    assert gold["as_of"] == END
    assert gold["volatility_1y"] == pytest.approx(annualised_vol(one, 252), rel=1e-9)
    assert gold["volatility_3y"] == pytest.approx(annualised_vol(three, 252), rel=1e-9)
    assert gold["annual_volatility"] == gold["volatility_3y"]
    assert gold["volatility_window"] == "3y"


def test_volatility_by_hand_on_an_alternating_series() -> None:
    # +1 %, -1 %, ... : log returns +-c, mean 0 over an even count n, so the sample standard
    # deviation is c * sqrt(n / (n - 1)); four returns -> c * sqrt(4/3).
    c = math.log(1.01)
    prices = [100.0, 101.0, 100.0, 101.0, 100.0]
    assert annualised_vol(prices, 252) == pytest.approx(c * math.sqrt(4 / 3) * math.sqrt(252))


def test_metal_market_cap_is_stock_times_ounces_times_price(wh: Warehouse) -> None:
    gold = snapshot(wh)["gold"]
    assert gold["price_usd"] == GOLD[-1]
    assert gold["stock_tonnes"] == 219891.0  # the latest of two stock figures
    assert gold["market_cap_usd"] == pytest.approx(219891 * OZ_PER_TONNE * GOLD[-1])
    assert gold["central_bank_holdings_usd"] == pytest.approx(38666 * OZ_PER_TONNE * GOLD[-1])
    assert gold["daily_volume_usd"] == 361e9
    assert gold["volume_as_of"] == date(2025, 12, 31)
    assert gold["market_size_as_of"] == date(2025, 12, 31)
    assert gold["market_size_url"].startswith("https://www.gold.org/")
    assert gold["source"] == "lbma" and gold["dataset"] == "gold_pm"
    assert gold["url"] == "https://example.org/lbma/gold_pm"
    assert gold["asset_class"] == "precious_metals" and gold["note"] is None


def test_short_history_and_missing_facts_are_null_with_a_note(wh: Warehouse) -> None:
    silver = snapshot(wh)["silver"]
    assert silver["volatility_1y"] is None and silver["volatility_3y"] is None
    assert silver["annual_volatility"] == pytest.approx(annualised_vol(SILVER, 252), rel=1e-9)
    assert silver["volatility_window"] == f"available history {SILVER_DAYS[0]}..{END}"
    assert silver["market_cap_usd"] is None and silver["daily_volume_usd"] is None
    note = silver["note"]
    assert "market_cap_usd NULL: no public above-ground stock estimate" in note
    assert "daily_volume_usd NULL: no public average daily trading volume" in note
    assert f"volatility_1y NULL: price history from {SILVER_DAYS[0]} to {END} does not" in note
    platinum = snapshot(wh)["platinum"]
    assert platinum["annual_volatility"] is None and platinum["volatility_window"] is None


def test_crypto_takes_the_newer_markets_reading_and_a_year_of_volume(wh: Warehouse) -> None:
    rows = snapshot(wh)
    btc = rows["bitcoin"]
    assert btc["as_of"] == date(2025, 7, 1) and btc["price_usd"] == 107000.0
    assert btc["market_cap_usd"] == 2.13e12 and btc["circulating_supply"] == 19.89e6
    assert btc["source"] == "coingecko" and btc["dataset"] == "coins_markets"
    in_year = [d for d in BTC_DAYS if d > date(2024, 6, 30)]
    expected_volume = (3.0e10 * (len(in_year) - 1) + 9.0e10) / len(in_year)
    assert btc["daily_volume_usd"] == pytest.approx(expected_volume)
    assert btc["volume_24h_usd"] == 4.0e10
    one = [p for d, p in zip(BTC_DAYS, BTC, strict=True) if d >= date(2024, 6, 30)]
    assert btc["volatility_1y"] == pytest.approx(annualised_vol(one, 365), rel=1e-9)
    assert btc["volatility_3y"] is None and btc["annual_volatility"] == btc["volatility_1y"]
    assert btc["asset_class_market_cap_usd"] == 3.3e12
    eth = rows["ether"]
    assert eth["as_of"] == END and eth["price_usd"] == ETH[-1]  # no markets row: the chart
    assert eth["market_cap_usd"] == pytest.approx(ETH[-1] * 120.7e6)
    assert eth["annual_volatility"] == pytest.approx(annualised_vol(ETH, 365), rel=1e-9)


def test_private_markets_are_appraisal_priced_with_facts_and_notes(wh: Warehouse) -> None:
    rows = snapshot(wh)
    pe = rows["private_equity"]
    assert pe["pricing"] == "appraisal" and pe["asset_class"] == "private_markets"
    assert pe["price_usd"] is None and pe["market_cap_usd"] is None
    assert pe["daily_volume_usd"] is None and pe["annual_volatility"] is None
    assert pe["aum_usd"] == 8e12 and pe["dry_powder_usd"] == 2.515e12
    assert pe["annual_deal_volume_usd"] == 1e12 and pe["annual_fundraising_usd"] is None
    assert pe["as_of"] == date(2024, 12, 31) and pe["source"] == "reference"
    assert pe["note"].startswith("appraisal-priced: no market price")
    assert "annual_fundraising_usd NULL" in pe["note"]
    pc = rows["private_credit"]
    assert pc["aum_usd"] == 2e12 and pc["as_of"] == date(2023, 12, 31)  # latest figure
    assert set(rows) == {"gold", "silver", "platinum", "bitcoin", "ether", "private_equity",
                         "private_credit"}


# --- asset_returns ---------------------------------------------------------------------


def returns(wh: Warehouse, asset: str, source: str | None = None) -> dict[date, dict]:
    frame = wh.query(
        "SELECT * FROM marts.asset_returns WHERE asset = ? AND (? IS NULL OR source = ?)",
        [asset, source, source],
    )
    return {r["month_end"]: r for r in frame.iter_rows(named=True)}


def test_monthly_nominal_and_real_returns_by_hand(wh: Warehouse) -> None:
    platinum = returns(wh, "platinum")
    feb = platinum[date(2020, 2, 29)]
    assert feb["price_date"] == date(2020, 2, 28) and feb["price_usd"] == 110.0
    assert feb["nominal_return_1m"] == pytest.approx(0.10)
    assert feb["inflation_1m"] == pytest.approx(0.0025)
    assert feb["real_return_1m"] == pytest.approx(1.10 / 1.0025 - 1)
    assert platinum[date(2020, 1, 31)]["nominal_return_1m"] is None


def test_five_year_annualised_returns_by_hand(wh: Warehouse) -> None:
    jan = returns(wh, "platinum")[date(2025, 1, 31)]
    assert jan["nominal_return_5y_ann"] == pytest.approx(0.10)
    # CPI rose 0.25 % a month: real = 1.1 / 1.0025 ** 12 - 1 a year
    assert jan["real_return_5y_ann"] == pytest.approx(1.1 / 1.0025**12 - 1)
    assert jan["nominal_return_10y_ann"] is None
    assert "history under 10 years" in jan["note"]


def test_one_year_returns_and_missing_cpi(wh: Warehouse) -> None:
    gold = returns(wh, "gold")
    month_end_price = {}
    for d, p in zip(GOLD_DAYS, GOLD, strict=True):
        month_end_price[date(d.year, d.month, 1)] = (d, p)
    _, may_2025 = month_end_price[date(2025, 5, 1)]
    _, may_2024 = month_end_price[date(2024, 5, 1)]
    may = gold[date(2025, 5, 31)]
    assert may["nominal_return_1y"] == pytest.approx(may_2025 / may_2024 - 1)
    assert may["real_return_1y"] == pytest.approx(
        (may_2025 / may_2024) / (cpi_value(date(2025, 5, 1)) / cpi_value(date(2024, 5, 1))) - 1
    )
    april = gold[date(2025, 4, 30)]
    assert april["cpi"] is None and april["real_return_1m"] is None
    assert april["nominal_return_1m"] is not None
    assert "no CPI for this month" in april["note"]
    assert "no CPI for the previous month" in may["note"] and may["real_return_1m"] is None


def test_incomplete_last_month_is_left_out(wh: Warehouse) -> None:
    btc = returns(wh, "bitcoin", "coingecko")
    assert max(btc) == date(2025, 6, 30)  # the series ends on the month's last day
    eth = returns(wh, "ether")
    assert min(eth) == date(2025, 3, 31) and max(eth) == date(2025, 6, 30)
    assert set(wh.query("SELECT DISTINCT source FROM marts.asset_returns"
                        " WHERE asset = 'bitcoin'")["source"]) == {"coingecko", "fred"}


def test_marts_build_on_an_empty_crypto_and_facts_side(tmp_path: Path) -> None:
    """Tables with no rows (a snapshot without /coins/markets, say) still build."""
    wh = Warehouse(tmp_path / "empty.duckdb")
    load_raw(
        wh,
        {
            "raw.lbma_prices": lbma_rows("gold_pm", GOLD_DAYS[:5], GOLD[:5]),
            "raw.coingecko_market_chart": pl.DataFrame(schema=coingecko.CHART_SCHEMA),
            "raw.coingecko_markets": pl.DataFrame(schema=coingecko.MARKETS_SCHEMA),
            "raw.coingecko_global": pl.DataFrame(schema=coingecko.GLOBAL_SCHEMA),
            "raw.fred_observations": pl.DataFrame(
                schema={"series_id": pl.Utf8, "date": pl.Date, "value": pl.Float64,
                        "units": pl.Utf8, "frequency": pl.Utf8, "usd_per_unit": pl.Float64}),
            "raw.reference_facts": pl.DataFrame(schema=reference.FACTS_SCHEMA),
            "raw.reference_assets": reference.asset_registry(),
        },
        [fake_payload("lbma", "gold_pm")],
        [5],
    )
    build_models(wh)
    rows = snapshot(wh)
    assert set(rows) == {"gold"}
    assert "market_cap_usd NULL: no above-ground stock figure" in rows["gold"]["note"]


# --- market_history (point in time) -----------------------------------------------------


def history(wh: Warehouse, asset: str) -> dict[date, dict]:
    frame = wh.query("SELECT * FROM marts.market_history WHERE asset = ? ORDER BY date", [asset])
    return {r["date"]: r for r in frame.iter_rows(named=True)}


CUT = date(2024, 11, 15)


def test_history_rows_use_nothing_dated_after_their_date(
    wh: Warehouse, tmp_path: Path
) -> None:
    """Rebuilt from only the data dated by CUT, every row up to CUT is the same."""
    early = build_warehouse(tmp_path / "cut.duckdb", CUT)
    sql = ("SELECT * EXCLUDE (note) FROM marts.market_history WHERE date <= ? "
           "ORDER BY asset, date")
    full, cut = wh.query(sql, [CUT]), early.query(sql, [CUT])
    assert full.height == cut.height > 0
    for a, b in zip(full.iter_rows(named=True), cut.iter_rows(named=True), strict=True):
        for key, value in a.items():
            if isinstance(value, float):
                assert b[key] == pytest.approx(value, rel=1e-9), (a["asset"], a["date"], key)
            else:
                assert b[key] == value, (a["asset"], a["date"], key)


def test_history_trailing_volatility_and_point_in_time_stock(wh: Warehouse) -> None:
    gold = history(wh, "gold")
    day = date(2024, 6, 28)
    row = gold[day]
    dated = [(d, p) for d, p in zip(GOLD_DAYS, GOLD, strict=True) if d <= day]
    one = [p for i, (d, p) in enumerate(dated) if d > date(2023, 6, 28)
           or (i + 1 < len(dated) and dated[i + 1][0] > date(2023, 6, 28))]
    assert row["volatility_window"] == "1y"  # 3 years of history not reached yet
    assert row["annual_volatility"] == pytest.approx(annualised_vol(one, 252), rel=1e-9)
    # the stock figure dated 2023-12-31 (212,582 t), never the later 219,891 t
    assert row["market_cap_usd"] == pytest.approx(212582 * OZ_PER_TONNE * row["price_usd"])
    assert row["market_size_as_of"] == date(2023, 12, 31)
    before = gold[date(2023, 12, 29)]
    assert before["market_cap_usd"] is None
    assert "no above-ground stock figure dated on or before" in before["note"]
    # the only volume figure is dated 2025-12-31: NULL throughout, with a note
    assert row["daily_volume_usd"] is None and "daily_volume_usd NULL" in row["note"]


def test_history_latest_rows_agree_with_the_snapshot(wh: Warehouse) -> None:
    snap = snapshot(wh)
    for asset in ("bitcoin", "ether", "silver"):
        last = list(history(wh, asset).values())[-1]
        s = snap[asset]
        assert last["date"] == s["as_of"], asset
        assert last["price_usd"] == s["price_usd"], asset
        assert last["annual_volatility"] == pytest.approx(s["annual_volatility"], rel=1e-12)
        for key in ("market_cap_usd", "daily_volume_usd"):
            if s[key] is None:
                assert last[key] is None, (asset, key)
            else:
                assert last[key] == pytest.approx(s[key], rel=1e-12), (asset, key)
    btc = history(wh, "bitcoin")
    assert btc[date(2025, 7, 1)]["dataset"] == "coins_markets"  # the newer markets reading
    assert btc[END]["dataset"] == "market_chart_bitcoin"


def test_history_private_markets_by_figure_date(wh: Warehouse) -> None:
    pe = history(wh, "private_equity")
    assert list(pe) == [date(2024, 12, 31), date(2025, 6, 30)]
    assert pe[date(2024, 12, 31)]["aum_usd"] == 8e12
    assert pe[date(2024, 12, 31)]["dry_powder_usd"] is None
    assert pe[date(2025, 6, 30)]["dry_powder_usd"] == 2.515e12
    assert pe[date(2025, 6, 30)]["price_usd"] is None
    assert pe[date(2025, 6, 30)]["note"].startswith("appraisal-priced")
    pc = history(wh, "private_credit")
    assert pc[date(2023, 6, 30)]["aum_usd"] == 1.71e12 and pc[date(2023, 12, 31)]["aum_usd"] == 2e12
    keys = wh.query("SELECT count(*) AS n, count(DISTINCT (asset, date)) AS k"
                    " FROM marts.market_history")
    assert keys["n"][0] == keys["k"][0]


# --- price-only /coins/{id}/history days after the chart ----------------------------------

BTC_LATER = calendar_days(END + timedelta(days=1), END + timedelta(days=4))
BTC_LATER_PRICES = [BTC[-1] * 1.01, BTC[-1] * 1.03, BTC[-1] * 0.99, BTC[-1] * 1.05]
ETH_LATER = [END + timedelta(days=20), END + timedelta(days=21), END + timedelta(days=22)]
ETH_LATER_PRICES = [ETH[-1] * 0.8, ETH[-1] * 0.82, ETH[-1] * 0.79]


@pytest.fixture(scope="module")
def wh_later(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """The module's inputs plus coin_history rows: bitcoin END (also in the chart, at another
    price) and the 4 days after; ether 20..22 days after END (a 20-day hole). No
    /coins/markets reading, so the chart is the only source of market cap."""
    tables, payloads = raw_tables()
    tables["raw.coingecko_markets"] = pl.DataFrame(schema=coingecko.MARKETS_SCHEMA)
    tables[coingecko.HISTORY_TABLE] = pl.DataFrame(
        {
            "coin_id": ["bitcoin"] * 5 + ["ethereum"] * 3,
            "asset": ["bitcoin"] * 5 + ["ether"] * 3,
            "date": [END, *BTC_LATER, *ETH_LATER],
            "price_usd": [1.0, *BTC_LATER_PRICES, *ETH_LATER_PRICES],
        },
        schema=coingecko.HISTORY_SCHEMA,
    )
    payloads += [fake_payload("coingecko", "coin_history_bitcoin"),
                 fake_payload("coingecko", "coin_history_ethereum")]
    warehouse = Warehouse(tmp_path_factory.mktemp("later") / "altflow.duckdb")
    load_raw(warehouse, tables, payloads, [1] * len(payloads))
    build_models(warehouse)
    return warehouse


def test_history_prices_extend_market_prices_on_days_the_chart_lacks(wh_later: Warehouse) -> None:
    rows = wh_later.query(
        "SELECT dataset, count(*) AS n, max(date) AS last, arg_max(price_usd, date) AS price"
        " FROM marts.market_prices WHERE asset = 'bitcoin' AND source = 'coingecko'"
        " GROUP BY dataset ORDER BY dataset"
    )
    assert rows.rows() == [
        ("coin_history_bitcoin", 4, BTC_LATER[-1], BTC_LATER_PRICES[-1]),
        ("market_chart_bitcoin", len(BTC_DAYS), END, BTC[-1]),  # the chart wins on END
    ]
    staged = wh_later.query("SELECT * FROM staging.coingecko_prices WHERE date > ?", [END])
    assert staged["market_cap_usd"].null_count() == staged.height == 7


def test_snapshot_takes_price_from_history_and_size_from_the_last_chart_day(
    wh_later: Warehouse,
) -> None:
    snap = snapshot(wh_later)
    btc, eth = snap["bitcoin"], snap["ether"]
    assert btc["as_of"] == BTC_LATER[-1] and btc["price_usd"] == BTC_LATER_PRICES[-1]
    assert btc["dataset"] == "coin_history_bitcoin"
    assert btc["market_cap_usd"] == pytest.approx(BTC[-1] * 19.7e6)  # never NULL
    assert btc["market_size_as_of"] == END and btc["volume_as_of"] == END
    assert btc["volume_24h_usd"] == 9.0e10
    assert (f"market_cap_usd and volume_24h_usd are CoinGecko's as of {END}, the latest day"
            f" with a market cap; the price of {BTC_LATER[-1]} is from coin_history_bitcoin"
            in btc["note"])
    assert eth["as_of"] == ETH_LATER[-1] and eth["price_usd"] == ETH_LATER_PRICES[-1]
    assert eth["market_cap_usd"] == pytest.approx(ETH[-1] * 120.7e6)
    assert eth["market_size_as_of"] == END
    # the 20-day hole is not a daily return: 99 chart returns and the 2 after the hole
    assert eth["volatility_window"].startswith("available history")
    assert eth["annual_volatility"] == pytest.approx(
        statistics.stdev(
            [math.log(b / a) for a, b in zip(ETH, ETH[1:], strict=False)]
            + [math.log(b / a) for a, b in zip(ETH_LATER_PRICES, ETH_LATER_PRICES[1:],
                                               strict=False)]
        ) * math.sqrt(365),
        rel=1e-9,
    )


def test_history_days_carry_the_last_chart_size_with_its_date(wh_later: Warehouse) -> None:
    btc = history(wh_later, "bitcoin")
    for day, price in zip(BTC_LATER, BTC_LATER_PRICES, strict=True):
        row = btc[day]
        assert row["price_usd"] == price and row["dataset"] == "coin_history_bitcoin"
        assert row["market_cap_usd"] == pytest.approx(BTC[-1] * 19.7e6)
        assert row["market_size_as_of"] == END and row["volume_as_of"] == END
        assert f"market_cap_usd and daily_volume_usd as of {END}" in row["note"]
    assert btc[END]["dataset"] == "market_chart_bitcoin" and btc[END]["price_usd"] == BTC[-1]
    assert btc[END]["note"] is None or "as of" not in btc[END]["note"]
    eth = history(wh_later, "ether")[ETH_LATER[-1]]
    assert eth["market_cap_usd"] == pytest.approx(ETH[-1] * 120.7e6)
    assert eth["market_size_as_of"] == END
    nulls = wh_later.query("SELECT count(*) AS n FROM marts.market_history"
                           " WHERE asset_class = 'crypto' AND market_cap_usd IS NULL")
    assert nulls["n"][0] == 0
    # the chart-dated rows are what they are without the history rows
    plain = build_warehouse_without_markets(wh_later)
    assert plain == [r for r in history_rows(wh_later) if r[0] <= END]


def history_rows(wh: Warehouse) -> list[tuple]:
    return wh.query("SELECT date, asset, price_usd, market_cap_usd, daily_volume_usd,"
                    " annual_volatility, market_size_as_of FROM marts.market_history"
                    " WHERE asset_class = 'crypto' ORDER BY date, asset").rows()


def build_warehouse_without_markets(like: Warehouse) -> list[tuple]:
    tables, payloads = raw_tables()
    tables["raw.coingecko_markets"] = pl.DataFrame(schema=coingecko.MARKETS_SCHEMA)
    other = Warehouse(like.path.parent / "plain.duckdb")
    load_raw(other, tables, payloads, [1] * len(payloads))
    build_models(other)
    return history_rows(other)


def test_embedded_snapshot_prices_run_to_2026_08_21_with_size_of_the_chart(
    tmp_path: Path,
) -> None:
    """The shipped snapshot: bitcoin's and ether's last price is /history's of 2026-08-21;
    their market cap stays the chart's, as of 2026-07-19 and 2026-05-06."""
    from altflow.sources import fred

    wh = Warehouse(tmp_path / "snap.duckdb")
    tables, payloads, rows = {}, [], []
    source = fred.Fred("snapshot")
    for batch in (lbma.Lbma("snapshot").batch(), coingecko.CoinGecko("snapshot").batch(),
                  source.batch(source.split_available(["CBBTCUSD"])[0]),
                  reference.Reference("snapshot").batch()):
        batch.raise_failures()
        tables.update(batch.tables)
        payloads += batch.payloads
        rows += batch.rows
    load_raw(wh, tables, payloads, rows)
    build_models(wh, ("marts.market_prices", "marts.market_snapshot", "marts.market_history"))
    last = wh.query(
        "SELECT asset, dataset, count(*) AS n, min(date) AS first, max(date) AS last,"
        " arg_max(price_usd, date) AS price FROM marts.market_prices"
        " WHERE source = 'coingecko' GROUP BY ALL ORDER BY asset, dataset"
    )
    assert last.rows() == [
        ("bitcoin", "coin_history_bitcoin", 33, date(2026, 7, 20), date(2026, 8, 21),
         73097.54507565),
        ("bitcoin", "market_chart_bitcoin", 1195, date(2023, 4, 12), date(2026, 7, 19),
         64795.703823037846),
        ("ether", "coin_history_ethereum", 71, date(2026, 6, 12), date(2026, 8, 21),
         2326.7109671),
        ("ether", "market_chart_ethereum", 803, date(2024, 2, 24), date(2026, 5, 6),
         2361.0857066652707),
    ]
    snap = snapshot(wh)
    btc, eth = snap["bitcoin"], snap["ether"]
    assert (btc["as_of"], btc["price_usd"]) == (date(2026, 8, 21), 73097.54507565)
    assert btc["market_cap_usd"] == 1299683566530.662
    assert btc["market_size_as_of"] == btc["volume_as_of"] == date(2026, 7, 19)
    assert (eth["as_of"], eth["price_usd"]) == (date(2026, 8, 21), 2326.7109671)
    assert eth["market_cap_usd"] == 284952981344.09186
    assert eth["market_size_as_of"] == eth["volume_as_of"] == date(2026, 5, 6)
    assert "as of 2026-07-19, the latest day with a market cap" in btc["note"]
    nulls = wh.query("SELECT count(*) AS n FROM marts.market_history"
                     " WHERE asset_class = 'crypto' AND market_cap_usd IS NULL")
    assert nulls["n"][0] == 0
