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
    assert pe["note"] == "appraisal-priced: no market price"
    assert pe["share_of_aum"] == pytest.approx(1.2e10 / 6e12, rel=1e-12)
    assert pe["share_of_dry_powder"] == pytest.approx(1.2e10 / 1.2e12, rel=1e-12)
    # the flow arrived in year 1: the trailing four quarters to year 2 hold none of it
    assert pe["share_of_annual_fundraising"] == pytest.approx(0.0, abs=1e-12)
    y1 = row(r, "private_equity", date(2026, 6, 30))
    assert y1["share_of_annual_fundraising"] == pytest.approx(1.2e10 / 0.6e12, rel=1e-12)
    assert re_["share_of_annual_fundraising"] is None
    assert re_["note"] == ("appraisal-priced: no market price; no annual fundraising in market "
                           "data; no dry powder in market data")
    s = r.summary.row(0, named=True)
    assert s["headline_asset"] is None and s["headline_price_impact"] is None
    assert s["flow_private_markets_usd"] == pytest.approx(0.015 * BASE, rel=1e-12)


def test_missing_market_data_gives_null_and_a_note() -> None:
    r = run("{silver: 0.01}")
    s = row(r, "silver")
    assert s["share_of_market_cap"] is None and s["days_of_volume"] is None
    assert s["price_impact"] is None and s["execution_impact"] is None
    assert s["note"] == ("no market cap in market snapshot; no daily volume in market snapshot; "
                         "no volatility in market snapshot")


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
    assert "Total flow $20.00 bn" in text
    assert "Impact at 2027-06-30" in text
    assert "appraisal-priced: no market price" in text


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
