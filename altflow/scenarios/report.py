"""Run a scenario and turn its arrays into the mart tables, a text table and JSON.

Table columns follow CONTRACT.md section 4 (scenario_flows, scenario_impact) plus the
summary and sensitivity tables; amounts are USD, shares are fractions, dates are dates.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from altflow.display import usd

from . import defaults as dft
from .engine import MarketInput, Paths, PoolInput, quantiles, quantiles_many, simulate
from .impact import ImpactResult, SensitivityResult, compute_impact, sensitivity
from .spec import CLASSES, Scenario, central

BANDS = ("p05", "p50", "p95")


@dataclass
class ScenarioResult:
    """Result tables of one scenario, plus the raw paths they were built from."""

    scenario: Scenario
    flows: pl.DataFrame
    impact: pl.DataFrame
    summary: pl.DataFrame
    sensitivity: pl.DataFrame
    central: Paths
    monte_carlo: Paths | None

    def to_text(self) -> str:
        return format_text(self)

    def to_json(self, indent: int | None = 2) -> str:
        return to_json(self, indent)


def run_scenario(
    scenario: Scenario,
    pool: PoolInput | None,
    markets: Mapping[str, MarketInput],
) -> ScenarioResult:
    """Simulate the central path and the Monte Carlo, then build the four tables."""
    c = simulate(scenario, pool, markets, draws=0)
    u = scenario.uncertainty
    mc = simulate(scenario, pool, markets, draws=u.draws, seed=u.seed) if u.draws > 0 else None
    imp = compute_impact(c, mc, markets)
    scales = scenario.sensitivity.allocation_scale or dft.SENSITIVITY_ALLOCATION_SCALE
    uptakes = scenario.sensitivity.uptake
    if uptakes is None:
        uptakes = tuple(sorted({*dft.SENSITIVITY_UPTAKE, central(scenario.adoption.uptake)}))
    sens = sensitivity(c, mc, imp.markets, scales, uptakes)
    flows = flows_table(scenario, c, mc, imp)
    impact = impact_table(scenario, c, imp)
    summary = summary_table(scenario, c, mc, imp)
    return ScenarioResult(
        scenario, flows, impact, summary, sensitivity_table(scenario, sens), c, mc
    )


def _col(x: np.ndarray) -> list[float | None]:
    """Floats with NaN as None, so NULL lands in the warehouse."""
    return [None if math.isnan(v) else float(v) for v in np.asarray(x, dtype=float).ravel()]


def flows_table(scenario: Scenario, c: Paths, mc: Paths | None, imp: ImpactResult) -> pl.DataFrame:
    """scenario_flows: one row per quarter end and asset."""
    n_q, n_a = c.flows.shape[1:]
    if mc is None:
        fb = np.repeat(c.flows, 3, axis=0)
        hb = np.repeat(c.holdings, 3, axis=0)
    else:
        fb, hb = quantiles_many([mc.flows, mc.holdings])
    offered = c.offered()[0]
    data: dict[str, Any] = {
        "scenario": [scenario.name] * (n_q * n_a),
        "period_end": [d for d in c.period_ends for _ in range(n_a)],
        "asset": list(c.assets) * n_q,
        "asset_class": list(c.asset_class) * n_q,
        "flow_usd": _col(c.flows[0]),
        "holdings_usd": _col(c.holdings[0]),
        "return_effect_usd": _col(c.return_effect()[0]),
    }
    for i, b in enumerate(BANDS):
        data[f"flow_usd_{b}"] = _col(fb[i])
    for i, b in enumerate(BANDS):
        data[f"holdings_usd_{b}"] = _col(hb[i])
    data["pool_usd"] = _col(np.repeat(c.pool[0], n_a))
    data["offered_usd"] = _col(np.repeat(offered, n_a))
    data["volume_share"] = _col(imp.volume_share)
    data["execution_impact"] = _col(imp.execution_by_quarter)
    return pl.DataFrame(data, schema_overrides={"period_end": pl.Date})


def impact_table(scenario: Scenario, c: Paths, imp: ImpactResult) -> pl.DataFrame:
    """scenario_impact: one row per asset and horizon (each projection-year end, and last)."""
    n_h, n_a = len(imp.horizons), len(c.assets)
    ends = [c.period_ends[i] for i in imp.horizons]
    mv = imp.markets
    data: dict[str, Any] = {
        "scenario": [scenario.name] * (n_h * n_a),
        "asset": list(c.assets) * n_h,
        "asset_class": list(c.asset_class) * n_h,
        "horizon_end": [d for d in ends for _ in range(n_a)],
        "cumulative_flow_usd": _col(imp.central.cumulative),
    }
    for i, b in enumerate(BANDS):
        data[f"cumulative_flow_usd_{b}"] = _col(imp.bands.cumulative[i])
    data["market_cap_usd"] = _col(np.tile(mv.market_cap, n_h))
    data["share_of_market_cap"] = _col(imp.share_of_market_cap)
    data["days_of_volume"] = _col(imp.days_of_volume)
    data["peak_volume_share"] = _col(imp.peak_volume_share)
    data["price_impact"] = _col(imp.central.price)
    for i, b in enumerate(BANDS):
        data[f"price_impact_{b}"] = _col(imp.bands.price[i])
    data["execution_impact"] = _col(imp.central.execution)
    for i, b in enumerate(BANDS):
        data[f"execution_impact_{b}"] = _col(imp.bands.execution[i])
    data["share_of_aum"] = _col(imp.share_of_aum)
    data["share_of_annual_fundraising"] = _col(imp.share_of_annual_fundraising)
    data["share_of_dry_powder"] = _col(imp.share_of_dry_powder)
    data["note"] = list(mv.notes) * n_h
    return pl.DataFrame(data, schema_overrides={"horizon_end": pl.Date, "note": pl.Utf8})


def summary_table(
    scenario: Scenario, c: Paths, mc: Paths | None, imp: ImpactResult
) -> pl.DataFrame:
    """scenario_summary: one row with totals, flow per class, peak quarter and headline."""
    flows = c.flows[0]
    total = float(flows.sum())
    tb = [total] * 3 if mc is None else list(quantiles(mc.flows.sum(axis=(1, 2))))
    by_quarter = flows.sum(axis=1)
    peak = int(np.argmax(by_quarter)) if by_quarter.size else 0
    per_class = {
        k: float(sum(flows[:, i].sum() for i, cl in enumerate(c.asset_class) if cl == k))
        for k in CLASSES
    }
    pool0 = np.concatenate([c.base_usd, c.pool[0, :-1]])
    ncr = float(c.net_contribution_rate[0])
    new_money = float((pool0 * ((1.0 + ncr) ** 0.25 - 1.0)).sum())
    last = -1
    price = imp.central.price[last]
    head: dict[str, Any] = {"asset": None, "p": None, "b": [None] * 3, "share": None}
    if np.any(~np.isnan(price)):
        i = int(np.nanargmax(price))
        head = {
            "asset": c.assets[i],
            "p": float(price[i]),
            "b": [float(imp.bands.price[k, last, i]) for k in range(3)],
            "share": float(imp.share_of_market_cap[last, i]),
        }
    row = {
        "scenario": scenario.name,
        "description": scenario.description,
        "pool_series": scenario.pool.series,
        "base_usd": float(c.base_usd[0]),
        "growth_rate": float(c.growth_rate[0]),
        "net_contribution_rate": ncr,
        "first_period_end": c.period_ends[0],
        "horizon_end": c.period_ends[-1],
        "quarters": len(c.period_ends),
        "draws": scenario.uncertainty.draws,
        "seed": scenario.uncertainty.seed,
        "total_flow_usd": total,
        "total_flow_usd_p05": float(tb[0]),
        "total_flow_usd_p50": float(tb[1]),
        "total_flow_usd_p95": float(tb[2]),
        **{f"flow_{k}_usd": v for k, v in per_class.items()},
        "peak_quarterly_flow_usd": float(by_quarter[peak]),
        "peak_quarter_end": c.period_ends[peak],
        "net_contributions_usd": new_money,
        "flow_share_of_net_contributions": total / new_money if new_money > 0 else None,
        "headline_asset": head["asset"],
        "headline_price_impact": head["p"],
        "headline_price_impact_p05": head["b"][0],
        "headline_price_impact_p50": head["b"][1],
        "headline_price_impact_p95": head["b"][2],
        "headline_share_of_market_cap": head["share"],
    }
    schema = {k: pl.Float64 for k, v in row.items() if v is None or isinstance(v, float)}
    schema.update({"scenario": pl.Utf8, "description": pl.Utf8, "pool_series": pl.Utf8,
                   "headline_asset": pl.Utf8, "first_period_end": pl.Date,
                   "horizon_end": pl.Date, "peak_quarter_end": pl.Date,
                   "quarters": pl.Int64, "draws": pl.Int64, "seed": pl.Int64})
    return pl.DataFrame([row], schema=schema)


def sensitivity_table(scenario: Scenario, s: SensitivityResult) -> pl.DataFrame:
    """scenario_sensitivity: one row per (allocation_scale, uptake)."""
    return pl.DataFrame({
        "scenario": [scenario.name] * len(s.total_flow),
        "allocation_scale": _col(s.allocation_scale),
        "uptake": _col(s.uptake),
        "total_flow_usd": _col(s.total_flow),
        "total_flow_usd_p05": _col(s.total_flow_bands[0]),
        "total_flow_usd_p50": _col(s.total_flow_bands[1]),
        "total_flow_usd_p95": _col(s.total_flow_bands[2]),
        "max_share_of_market_cap": _col(s.max_share_of_market_cap),
        "max_price_impact": _col(s.max_price_impact),
        "max_price_impact_p50": _col(s.max_price_impact_p50),
    }, schema_overrides={k: pl.Float64 for k in (
        "allocation_scale", "uptake", "total_flow_usd", "total_flow_usd_p05",
        "total_flow_usd_p50", "total_flow_usd_p95", "max_share_of_market_cap",
        "max_price_impact", "max_price_impact_p50")})


# --- output -----------------------------------------------------------------------------------

def _usd(x: float | None) -> str:
    return usd(x, short=True, missing="-")


def _pct(x: float | None, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{100 * x:.{digits}f} %"


def _num(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:,.1f}"


def format_text(result: ScenarioResult) -> str:
    """A plain-text report: summary lines and the impact table at the horizon."""
    s = result.summary.row(0, named=True)
    lines = [
        f"Scenario {s['scenario']}: {s['description']}".rstrip(": "),
        f"Pool {s['pool_series'] or 'fixed base'}: {_usd(s['base_usd'])}, growth "
        f"{_pct(s['growth_rate'], 1)}/yr; quarters {s['first_period_end']} to "
        f"{s['horizon_end']} ({s['quarters']}); draws {s['draws']}, seed {s['seed']}",
        f"Total flow {_usd(s['total_flow_usd'])} (p05 {_usd(s['total_flow_usd_p05'])}, "
        f"p50 {_usd(s['total_flow_usd_p50'])}, p95 {_usd(s['total_flow_usd_p95'])})",
        "By class: " + ", ".join(f"{k.replace('_', ' ')} {_usd(s[f'flow_{k}_usd'])}"
                                 for k in CLASSES),
        f"Peak quarter {_usd(s['peak_quarterly_flow_usd'])} ({s['peak_quarter_end']})",
    ]
    if s["headline_asset"]:
        lines.append(
            f"Headline: {s['headline_asset']} price impact {_pct(s['headline_price_impact'])} "
            f"(p05 {_pct(s['headline_price_impact_p05'])}, p95 "
            f"{_pct(s['headline_price_impact_p95'])}), "
            f"{_pct(s['headline_share_of_market_cap'], 3)} of market cap"
        )
    end = result.impact["horizon_end"].max()
    rows = result.impact.filter(pl.col("horizon_end") == end)
    header = ("asset", "cum. flow", "% of cap", "days vol", "impact p05", "p50", "p95",
              "exec p50", "% of AUM", "note")
    table = [header]
    for r in rows.iter_rows(named=True):
        table.append((
            r["asset"], _usd(r["cumulative_flow_usd"]), _pct(r["share_of_market_cap"], 3),
            _num(r["days_of_volume"]), _pct(r["price_impact_p05"]), _pct(r["price_impact_p50"]),
            _pct(r["price_impact_p95"]), _pct(r["execution_impact_p50"]),
            _pct(r["share_of_aum"], 3), r["note"] or "",
        ))
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    lines += ["", f"Impact at {end}"]
    for row in table:
        lines.append("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, date):
        return value.isoformat()
    return value


def _records(df: pl.DataFrame) -> list[dict[str, Any]]:
    return [{k: _clean(v) for k, v in row.items()} for row in df.iter_rows(named=True)]


def to_dict(result: ScenarioResult) -> dict[str, Any]:
    """All four tables as JSON-ready records (dates ISO, NaN as null)."""
    return {
        "scenario": result.scenario.name,
        "summary": _records(result.summary)[0],
        "impact": _records(result.impact),
        "flows": _records(result.flows),
        "sensitivity": _records(result.sensitivity),
    }


def to_json(result: ScenarioResult, indent: int | None = 2) -> str:
    return json.dumps(to_dict(result), indent=indent)
