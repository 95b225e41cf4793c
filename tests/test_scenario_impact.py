"""Impact maths: market share, days of volume, price and execution impact, private markets."""

from __future__ import annotations

import json
import math
from datetime import date

import numpy as np
import polars as pl
import pytest

from altflow.scenarios import MarketInput, PoolInput, check_text, run_scenario
from altflow.scenarios import defaults as dft
from altflow.scenarios.impact import horizon_indices

MARKETS = {
    "gold": MarketInput("gold", "precious_metals", 20e12, 100e9, 0.16),
    "bitcoin": MarketInput("bitcoin", "crypto", 2.4e12, 40e9, 0.50),
    "silver": MarketInput("silver", "precious_metals", None, None, None),
    "private_equity": MarketInput("private_equity", "private_markets", None, None, None,
                                  aum_usd=6e12, annual_fundraising_usd=0.6e12,
                                  dry_powder_usd=1.2e12),
    "real_estate": MarketInput("real_estate", "private_markets", None, None, None,
                               aum_usd=1.5e12),
}
POOL = PoolInput("dc_plans", date(2025, 6, 30), 13.0e12, 0.0, 0.0)
BASE = 1.0e12


def run(allocs: str, adoption: str = "{curve: immediate}", extra: str = "", years: float = 2):
    text = (f"name: t\npool: {{base_usd: {BASE}, growth_rate: 0}}\nhorizon_years: {years}\n"
            f"allocations: {allocs}\nadoption: {adoption}\n{extra}")
    sc, problems = check_text(text, "t.yaml")
    assert problems == [], problems
    return run_scenario(sc, POOL, MARKETS)


def row(result, asset: str, horizon: date | None = None) -> dict:
    imp = result.impact
    end = horizon or imp["horizon_end"].max()
    return imp.filter((pl.col("asset") == asset) & (pl.col("horizon_end") == end)).row(
        0, named=True)


def test_multiplier_derivations() -> None:
    lo, mid, hi = dft.MULTIPLIERS["bitcoin"]
    assert (lo, round(mid, 1), round(hi)) == (4.0, 12.2, 118)
    glo, gmid, ghi = dft.MULTIPLIERS["gold"]
    assert gmid == pytest.approx(0.017 * 220_000 / 100)  # 37.4
    assert ghi == pytest.approx(0.024 * 220_000 / 100)  # 52.8
    assert glo == pytest.approx(gmid / 2)
    assert dft.default_multiplier("private_equity") is None
    assert all(d.source and d.as_of for d in dft.DEFAULTS)
    assert {d.status for d in dft.DEFAULTS} <= {"sourced", "derived", "assumption", "convention"}


def test_share_of_cap_days_of_volume_and_price_impact() -> None:
    r = run("{gold: 0.01, bitcoin: 0.002}",
            extra="impact: {multiplier: {gold: 37.4, bitcoin: 12}, execution_constant: 1}\n")
    g, b = row(r, "gold"), row(r, "bitcoin")
    assert g["cumulative_flow_usd"] == 1e10 and b["cumulative_flow_usd"] == 2e9
    assert g["share_of_market_cap"] == pytest.approx(1e10 / 20e12, rel=1e-14)
    assert g["days_of_volume"] == pytest.approx(1e10 / 100e9, rel=1e-14)
    assert b["days_of_volume"] == pytest.approx(2e9 / 40e9, rel=1e-14)
    assert g["price_impact"] == pytest.approx(37.4 * 1e10 / 20e12, rel=1e-14)
    assert b["price_impact"] == pytest.approx(12 * 2e9 / 2.4e12, rel=1e-14)
    # no draws: the bands collapse on the central value
    assert g["price_impact_p05"] == g["price_impact_p50"] == g["price_impact_p95"] == \
        pytest.approx(g["price_impact"], rel=1e-14)
    assert g["note"] is None and g["share_of_aum"] is None


def test_execution_impact_follows_the_square_root_law_at_each_quarters_pace() -> None:
    r = run("{gold: 0.01, bitcoin: 0.002}", extra="impact: {execution_constant: 0.8}\n")
    f = r.flows.filter(pl.col("period_end") == date(2025, 9, 30))
    gold = f.filter(pl.col("asset") == "gold").row(0, named=True)
    btc = f.filter(pl.col("asset") == "bitcoin").row(0, named=True)
    pace_g = 1e10 / (100e9 * 63)  # ~63 trading days a quarter
    pace_b = 2e9 / (40e9 * 91.25)  # crypto trades every day
    assert gold["volume_share"] == pytest.approx(pace_g, rel=1e-14)
    assert btc["volume_share"] == pytest.approx(pace_b, rel=1e-14)
    assert gold["execution_impact"] == pytest.approx(
        0.8 * 0.16 / math.sqrt(252) * math.sqrt(pace_g), rel=1e-12)
    assert btc["execution_impact"] == pytest.approx(
        0.8 * 0.50 / math.sqrt(365) * math.sqrt(pace_b), rel=1e-12)
    g = row(r, "gold")
    assert g["peak_volume_share"] == pytest.approx(pace_g, rel=1e-14)
    assert g["execution_impact"] == pytest.approx(gold["execution_impact"], rel=1e-12)


def test_price_impact_bands_span_the_default_multiplier_range() -> None:
    r = run("{bitcoin: 0.01}", extra="uncertainty: {draws: 4000, seed: 1}\n")
    b = row(r, "bitcoin")
    share = 1e10 / 2.4e12
    assert b["price_impact"] == pytest.approx(dft.BTC_M_CENTRAL * share, rel=1e-12)
    assert 4 * share <= b["price_impact_p05"] < b["price_impact_p50"] < b["price_impact_p95"]
    assert b["price_impact_p95"] <= 118.3 * share
    # flows are certain here, so only the multiplier spreads
    assert b["cumulative_flow_usd_p05"] == b["cumulative_flow_usd_p95"] == 1e10


def test_private_markets_get_shares_and_no_price() -> None:
    r = run("{private_markets: 0.015}", years=2)
    pe = row(r, "private_equity")
    re_ = row(r, "real_estate")
    assert pe["cumulative_flow_usd"] == pytest.approx(0.015 * 0.8 * BASE, rel=1e-12)
    assert pe["price_impact"] is None and pe["price_impact_p50"] is None
    assert pe["execution_impact"] is None and pe["market_cap_usd"] is None
    # the class split names the members it left out, on each asset's rows and in the summary
    assert pe["note"] == ("appraisal-priced: no market price; private_markets split by AUM over "
                          "private_equity, real_estate only, leaving out private_credit (no "
                          "market data), infrastructure (no market data)")
    assert pe["share_of_aum"] == pytest.approx(1.2e10 / 6e12, rel=1e-12)
    assert pe["share_of_dry_powder"] == pytest.approx(1.2e10 / 1.2e12, rel=1e-12)
    # the flow arrived in year 1: the trailing four quarters to year 2 hold none of it
    assert pe["share_of_annual_fundraising"] == pytest.approx(0.0, abs=1e-12)
    y1 = row(r, "private_equity", date(2026, 6, 30))
    assert y1["share_of_annual_fundraising"] == pytest.approx(1.2e10 / 0.6e12, rel=1e-12)
    assert re_["share_of_annual_fundraising"] is None
    assert re_["note"].startswith("appraisal-priced: no market price; no annual fundraising in "
                                  "market data; no dry powder in market data; private_markets")
    s = r.summary.row(0, named=True)
    assert s["split_left_out"] == "infrastructure, private_credit"
    assert "leaving out private_credit (no market data)" in s["split_note"]
    assert s["headline_asset"] is None and s["headline_price_impact"] is None
    assert s["flow_private_markets_usd"] == pytest.approx(0.015 * BASE, rel=1e-12)


def test_missing_market_data_gives_null_and_a_note() -> None:
    r = run("{silver: 0.01}")
    s = row(r, "silver")
    assert s["share_of_market_cap"] is None and s["days_of_volume"] is None
    assert s["price_impact"] is None and s["execution_impact"] is None
    assert s["note"] == ("no market cap in market data; no daily volume in market data; "
                         "no volatility in market data")


def test_horizons_are_year_ends_and_the_last_quarter() -> None:
    assert horizon_indices(40).tolist() == [3, 7, 11, 15, 19, 23, 27, 31, 35, 39]
    assert horizon_indices(6).tolist() == [3, 5]
    assert horizon_indices(1).tolist() == [0]
    r = run("{gold: 0.01}", years=1.5)
    assert sorted(set(r.impact["horizon_end"].to_list())) == [date(2026, 6, 30),
                                                            date(2026, 12, 31)]


def test_impact_table_has_the_mart_columns() -> None:
    r = run("{gold: 0.01, private_equity: 0.01}")
    for col in ("scenario", "asset", "horizon_end", "cumulative_flow_usd", "share_of_market_cap",
                "days_of_volume", "price_impact_p05", "price_impact_p50", "price_impact_p95",
                "asset_class", "share_of_aum", "share_of_annual_fundraising",
                "share_of_dry_powder", "note", "execution_impact_p50"):
        assert col in r.impact.columns
    assert r.impact.schema["horizon_end"] == pl.Date
    assert r.impact.schema["price_impact_p50"] == pl.Float64


def test_json_and_text_outputs() -> None:
    r = run("{gold: 0.01, private_equity: 0.01}", extra="uncertainty: {draws: 200, seed: 2}\n")
    doc = json.loads(r.to_json())
    assert doc["scenario"] == "t"
    assert set(doc) == {"scenario", "summary", "impact", "flows", "sensitivity"}
    pe = [x for x in doc["impact"] if x["asset"] == "private_equity"][0]
    assert pe["price_impact_p50"] is None
    assert doc["summary"]["horizon_end"] == "2027-06-30"
    assert doc["summary"]["total_flow_usd"] == pytest.approx(2e10)
    text = r.to_text()
    assert "Total flow $20.0 bn central" in text
    assert "Impact at 2027-06-30" in text
    assert "appraisal-priced: no market price" in text
    assert "Base date 2025-06-30 (the pool's latest date)" in text


def test_monte_carlo_bands_are_ordered_and_bracket_the_central_flow() -> None:
    r = run("{gold: {low: 0.005, central: 0.01, high: 0.03}}",
            "{curve: logistic, midpoint_years: 1, steepness: 2, "
            "plan_share: {low: 0.2, central: 0.5, high: 0.8}}",
            "uncertainty: {draws: 3000, seed: 8}\n", years=4)
    imp = r.impact
    assert (imp["cumulative_flow_usd_p05"] <= imp["cumulative_flow_usd_p50"]).all()
    assert (imp["cumulative_flow_usd_p50"] <= imp["cumulative_flow_usd_p95"]).all()
    g = row(r, "gold")
    assert g["cumulative_flow_usd_p05"] < g["cumulative_flow_usd"] < g["cumulative_flow_usd_p95"]
    mc = r.monte_carlo
    cum = mc.flows.sum(axis=1)[:, 0]
    assert g["cumulative_flow_usd_p50"] == pytest.approx(float(np.quantile(cum, 0.5)), rel=1e-9)


def test_every_default_is_documented_in_model_md() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "model.md").read_text()
    for d in dft.DEFAULTS:
        assert f"| {d.name} |" in doc, d.name
        for part in d.source.split(" ; "):
            url = part.split()[0]
            if url.startswith("http"):
                assert url in doc, (d.name, url)


# --- point in time, prices, overrides -----------------------------------------------------

def _btc(day: date, price: float, cap: float) -> MarketInput:
    return MarketInput("bitcoin", "crypto", cap, 40e9, 0.5, price_usd=price, as_of=day,
                       source="coingecko")


def _history():
    from altflow.scenarios.inputs import MarketHistory

    gold = [MarketInput("gold", "precious_metals", 20e12, 100e9, 0.16, price_usd=2900.0,
                        as_of=date(2025, 3, 28))]
    btc = [_btc(date(2025, 3, 31), 82_000.0, 1.63e12), _btc(date(2025, 8, 15), 117_340.0,
           2.3353e12), _btc(date(2026, 7, 18), 64_800.0, 1.29e12)]
    pe = [MarketInput("private_equity", "private_markets", None, None, None, aum_usd=4.7e12,
                      as_of=date(2024, 6, 30))]
    return MarketHistory({"gold": gold, "bitcoin": btc, "private_equity": pe})


def scen(body: str):
    sc, problems = check_text("name: t\n" + body, "t.yaml")
    assert problems == [], problems
    return sc


BTC_1PCT = ("pool: {base_usd: 12.2e12, growth_rate: 0}\nhorizon_years: 1\n"
            "allocations: {bitcoin: 0.01}\nadoption: {curve: immediate}\n")


def test_market_history_at_takes_the_latest_row_on_or_before_the_day() -> None:
    h = _history()
    assert h.latest_date == date(2026, 7, 18)
    at = h.at(date(2025, 8, 14))
    assert at["bitcoin"].as_of == date(2025, 3, 31) and at["gold"].as_of == date(2025, 3, 28)
    assert h.at(date(2025, 8, 15))["bitcoin"].price_usd == 117_340.0
    assert set(h.at(date(2024, 1, 1))) == set()  # nothing dated by then
    assert h["bitcoin"].as_of == date(2026, 7, 18)  # the mapping view: latest


def test_base_date_is_start_and_no_later_market_row_is_used() -> None:
    r = run_scenario(scen(BTC_1PCT + "start: 2025-08-15\n"), None, _history())
    b = row(r, "bitcoin")
    assert b["base_date"] == date(2025, 8, 15) and b["market_as_of"] == date(2025, 8, 15)
    assert b["pool_as_of"] == date(2025, 8, 15)
    assert b["start_price_usd"] == 117_340.0 and b["market_cap_usd"] == 2.3353e12
    impact = dft.BTC_M_CENTRAL * 122e9 / 2.3353e12
    assert b["price_impact"] == pytest.approx(impact, rel=1e-12)
    assert b["implied_price_usd"] == pytest.approx(117_340.0 * (1 + impact), rel=1e-12)
    assert b["implied_market_cap_usd"] == pytest.approx(2.3353e12 * (1 + impact), rel=1e-12)
    # Bitwise: ~+63 % to ~$194,000 on this market state
    assert b["implied_price_usd"] == pytest.approx(194_000, rel=0.02)
    assert b["note"] is None and b["overridden"] is None
    # a start before every row of an asset: that asset has no state (not a later one)
    with pytest.raises(ValueError, match="no market data for asset 'bitcoin' on or before"):
        run_scenario(scen(BTC_1PCT + "start: 2024-12-31\n"), None, _history())


def test_default_base_date_is_the_latest_market_date_and_the_pool_is_grown() -> None:
    body = ("pool: {series: dc_plans, growth_rate: 0.05}\nhorizon_years: 1\n"
            "allocations: {bitcoin: 0.01, gold: 0.01}\nadoption: {curve: immediate}\n")
    pool = PoolInput("dc_plans", date(2025, 9, 30), 13.0e12)
    r = run_scenario(scen(body), pool, _history())
    s = r.summary.row(0, named=True)
    assert s["base_date"] == date(2026, 7, 18) and s["pool_as_of"] == date(2025, 9, 30)
    years = (date(2026, 7, 18) - date(2025, 9, 30)).days / 365.25
    assert s["base_usd"] == pytest.approx(13.0e12 * 1.05**years, rel=1e-12)
    assert s["pool_note"].startswith("estimate: dc_plans of 2025-09-30 grown to 2026-07-18")
    assert s["base_date_rule"] == "the latest date with market data"
    g = row(r, "gold")
    assert g["market_as_of"] == date(2025, 3, 28)
    assert "market state of 2025-03-28, 477 days before the base date 2026-07-18" in g["note"]
    assert row(r, "bitcoin")["note"] is None


def test_a_pool_dated_after_the_base_date_is_refused() -> None:
    body = ("pool: {series: dc_plans}\nhorizon_years: 1\nallocations: {bitcoin: 0.01}\n"
            "adoption: {curve: immediate}\nstart: 2025-08-15\n")
    pool = PoolInput("dc_plans", date(2025, 9, 30), 13.0e12)
    with pytest.raises(ValueError, match="after the base date 2025-08-15"):
        run_scenario(scen(body), pool, _history())


def test_implied_price_bands_follow_the_impact_bands() -> None:
    r = run_scenario(scen(BTC_1PCT + "start: 2025-08-15\nuncertainty: {draws: 500, seed: 3}\n"),
                     None, _history())
    b = row(r, "bitcoin")
    for q in ("p05", "p50", "p95"):
        assert b[f"implied_price_usd_{q}"] == pytest.approx(
            117_340.0 * (1 + b[f"price_impact_{q}"]), rel=1e-12)
    assert b["implied_price_usd_p05"] < b["implied_price_usd_p50"] < b["implied_price_usd_p95"]
    s = r.summary.row(0, named=True)
    assert s["headline_implied_price_usd"] == pytest.approx(b["implied_price_usd"], rel=1e-12)
    assert s["headline_market_as_of"] == date(2025, 8, 15)


def test_market_overrides_replace_inputs_and_are_named() -> None:
    body = BTC_1PCT + ("start: 2025-08-15\nimpact:\n  market:\n"
                       "    bitcoin: {price_usd: 119018, market_cap_usd: 2.368e12}\n")
    b = row(run_scenario(scen(body), None, _history()), "bitcoin")
    assert b["start_price_usd"] == 119018 and b["market_cap_usd"] == 2.368e12
    assert b["overridden"] == "price_usd, market_cap_usd"
    assert "overridden by the scenario: price_usd, market_cap_usd" in b["note"]
    assert b["implied_price_usd"] == pytest.approx(
        119018 * (1 + dft.BTC_M_CENTRAL * 122e9 / 2.368e12), rel=1e-12)
    assert b["implied_price_usd"] == pytest.approx(194_000, rel=0.005)
    # a price alone rescales the cap (supply held)
    body = BTC_1PCT + "start: 2025-08-15\nimpact: {market: {bitcoin: {price_usd: 58670}}}\n"
    b = row(run_scenario(scen(body), None, _history()), "bitcoin")
    assert b["market_cap_usd"] == pytest.approx(2.3353e12 * 58670 / 117_340.0, rel=1e-12)
    assert b["overridden"] == "price_usd, market_cap_usd (rescaled with price_usd)"


def test_an_override_supplies_an_asset_the_warehouse_lacks() -> None:
    body = ("pool: {base_usd: 1.0e12, growth_rate: 0}\nhorizon_years: 1\n"
            "allocations: {silver: 0.01}\nadoption: {curve: immediate}\nstart: 2025-08-15\n"
            "impact: {market: {silver: {price_usd: 38, market_cap_usd: 2.0e12, "
            "daily_volume_usd: 5.0e9, annual_volatility: 0.3}}}\n")
    markets = {**MARKETS, "silver": MarketInput("silver", "precious_metals", None, None, None)}
    s = row(run_scenario(scen(body), None, markets), "silver")
    assert s["share_of_market_cap"] == pytest.approx(1e10 / 2e12, rel=1e-12)
    assert s["implied_price_usd"] == pytest.approx(38 * (1 + 37.4 * 0.005), rel=1e-12)


def test_no_column_is_typed_null_even_when_every_value_is_missing() -> None:
    r = run("{private_markets: 0.015}", years=2)
    for name in ("flows", "impact", "summary", "sensitivity"):
        frame = getattr(r, name)
        nulls = [c for c, t in frame.schema.items() if t == pl.Null]
        assert nulls == [], (name, nulls)
    assert r.impact.schema["share_of_annual_fundraising"] == pl.Float64
    assert r.impact.schema["implied_price_usd"] == pl.Float64
    assert r.impact.schema["market_as_of"] == pl.Date


def test_text_output_labels_bands_explains_columns_and_says_the_market_date() -> None:
    body = BTC_1PCT + "start: 2025-08-15\nuncertainty: {draws: 500, seed: 3}\n"
    sc = scen(body.replace("{bitcoin: 0.01}", "{bitcoin: 0.01, private_equity: 0.01}"))
    text = run_scenario(sc, None, _history()).to_text()
    assert "Market data used: bitcoin as of 2025-08-15, private_equity as of 2024-06-30" in text
    assert "Base date 2025-08-15 (the scenario's start)" in text
    assert "central (p05" in text and "'p05 to p95' is the Monte Carlo band" in text
    assert "implied $192,000 central" in text  # three significant figures
    for column in ("cum. flow", "% of cap", "days of vol.", "exec. p50", "% of AUM",
                   "implied price", "price impact"):
        assert f"  {column}: " in text, column
    notes = [line for line in text.splitlines() if line.startswith("  [")]
    assert len(notes) == len(set(n.split("] ", 1)[1] for n in notes))  # no repeated notes
    assert "4 digits" not in text and "$122 bn" in text


def test_registry_labels_every_multiplier_bound_and_the_split_rule() -> None:
    by_name = {d.name: d for d in dft.DEFAULTS}
    gold = by_name["multiplier_gold"]
    low, central, high = gold.bounds
    assert "assumption" in low and "point estimate" in central
    assert "at least 2.4 %" in high and "LOWER bound" in high  # not an upper bound
    btc = by_name["multiplier_bitcoin"]
    assert btc.bounds is not None and "4-5x" in btc.bounds[0]
    for d in dft.DEFAULTS:
        if d.name.startswith("multiplier_") and d.status != "assumption" \
                and d.name != "multiplier_us_equities":
            assert d.bounds is not None, d.name
    rule = by_name["class_split_rule"]
    assert rule.status == "assumption" and "left out and named" in rule.note
    basis = by_name["gold_market_cap_basis"]
    assert "above-ground stock" in basis.note and "12.6tn" in basis.note
    assert dft.MARKET_CAP_BASIS["precious_metals"].startswith("above-ground stock")


def test_text_says_how_the_pool_was_obtained() -> None:
    body = ("pool: {series: dc_plans, growth_rate: 0.05}\nhorizon_years: 1\n"
            "allocations: {bitcoin: 0.01}\nadoption: {curve: immediate}\n")
    pool = PoolInput("dc_plans", date(2025, 9, 30), 13.0e12)
    text = run_scenario(scen(body), pool, _history()).to_text()
    assert ("Pool (series dc_plans) at the base date: $13.5 tn (estimate: dc_plans of "
            "2025-09-30 grown to 2026-07-18 at 5.0 %/yr)") in text


def test_a_market_cap_older_than_the_price_is_named_in_the_note() -> None:
    """CoinGecko's price-only days carry the price forward, not the market cap: the note
    dates the cap the impact divides by, not the fresher price."""
    from altflow.scenarios.inputs import MarketHistory

    fresh_price = MarketInput("bitcoin", "crypto", 1.2997e12, 40e9, 0.5, price_usd=73_097.5,
                              as_of=date(2026, 8, 21), size_as_of=date(2026, 7, 19),
                              source="coingecko")
    r = run_scenario(scen(BTC_1PCT), None, MarketHistory({"bitcoin": [fresh_price]}))
    b = row(r, "bitcoin")
    assert b["market_as_of"] == date(2026, 8, 21)
    assert "market size of 2026-07-19, 33 days before the base date 2026-08-21" in b["note"]
    same_day = MarketInput("bitcoin", "crypto", 1.2997e12, 40e9, 0.5, price_usd=73_097.5,
                           as_of=date(2026, 8, 21), size_as_of=date(2026, 8, 21))
    r = run_scenario(scen(BTC_1PCT), None, MarketHistory({"bitcoin": [same_day]}))
    assert row(r, "bitcoin")["note"] is None
