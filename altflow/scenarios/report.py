"""Run a scenario and turn its arrays into the mart tables, a text table and JSON.

Table columns follow CONTRACT.md section 4 (scenario_flows, scenario_impact) plus the
summary and sensitivity tables; amounts are USD, shares are fractions, dates are dates.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from . import defaults as dft
from .engine import (
    MarketInput,
    Paths,
    PoolInput,
    quantiles,
    quantiles_many,
    simulate,
)
from .impact import ImpactResult, SensitivityResult, compute_impact, sensitivity
from .spec import ASSET_CLASS, CLASSES, Scenario, central

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
    base_date: date | None = None,
) -> ScenarioResult:
    """Simulate the central path and the Monte Carlo, then build the four tables.

    `markets` is either the state to use, or a history with ``at(day)`` and
    ``latest_date`` (inputs.MarketHistory): then the state is each asset's latest row on or
    before the base date. Either way no market row dated after the base date is used.
    """
    day, state, rule = market_state(scenario, pool, markets, base_date)
    c = simulate(scenario, pool, state, draws=0, base_date=day)
    u = scenario.uncertainty
    mc = simulate(scenario, pool, state, draws=u.draws, seed=u.seed, base_date=day) \
        if u.draws > 0 else None
    imp = compute_impact(c, mc, state)
    scales = scenario.sensitivity.allocation_scale or dft.SENSITIVITY_ALLOCATION_SCALE
    uptakes = scenario.sensitivity.uptake
    if uptakes is None:
        uptakes = tuple(sorted({*dft.SENSITIVITY_UPTAKE, central(scenario.adoption.uptake)}))
    sens = sensitivity(c, mc, imp.markets, scales, uptakes)
    flows = flows_table(scenario, c, mc, imp)
    impact = impact_table(scenario, c, imp)
    summary = summary_table(scenario, c, mc, imp).with_columns(
        base_date_rule=pl.lit(rule, dtype=pl.Utf8))
    return ScenarioResult(
        scenario, flows, impact, summary, sensitivity_table(scenario, sens), c, mc
    )


def market_state(
    scenario: Scenario,
    pool: PoolInput | None,
    markets: Mapping[str, MarketInput],
    base_date: date | None = None,
) -> tuple[date | None, dict[str, MarketInput], str]:
    """The base date, the market state at it (overrides applied) and how the date was set.

    Base date: `start`, else `base_date`, else the history's latest market date, else the
    pool's date. Rows dated after the base date are dropped whatever the caller passed.
    """
    day, rule = scenario.start, "the scenario's start"
    if day is None and base_date is not None:
        day, rule = base_date, "given by the caller"
    at = getattr(markets, "at", None)
    if day is None and getattr(markets, "latest_date", None) is not None:
        day, rule = markets.latest_date, "the latest date with market data"  # type: ignore[attr-defined]
    if day is None and pool is not None:
        day, rule = pool.period_end, "the pool's latest date"
    if at is not None and day is not None:
        state = dict(at(day))
    else:
        state = {a: m for a, m in markets.items()
                 if day is None or m.as_of is None or m.as_of <= day}
    return day, apply_overrides(scenario, state), rule


def apply_overrides(
    scenario: Scenario, state: Mapping[str, MarketInput]
) -> dict[str, MarketInput]:
    """Replace fields by the file's `impact.market` values and record which ones.

    Overriding price_usd alone rescales market_cap_usd by the same ratio (the supply is
    held), so the implied price and cap stay consistent; an asset the warehouse lacks at the
    base date is built from the override alone.
    """
    out = dict(state)
    for asset, fields in (getattr(scenario.impact, "market", None) or {}).items():
        m = out.get(asset) or MarketInput(asset, ASSET_CLASS.get(asset, ""), None, None, None)
        changes: dict[str, Any] = dict(fields)
        names = list(fields)
        if ("price_usd" in fields and "market_cap_usd" not in fields
                and m.market_cap_usd is not None and m.price_usd):
            changes["market_cap_usd"] = m.market_cap_usd * fields["price_usd"] / m.price_usd
            names.append("market_cap_usd (rescaled with price_usd)")
        out[asset] = replace(m, **changes, overridden=tuple(names))
    return out


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
    return pl.DataFrame(data, schema_overrides=_types(data, {"period_end": pl.Date}))


def _types(data: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """Float64 for every column of floats or Nones (an all-NULL column is never type NULL)."""
    out = dict(given)
    for name, values in data.items():
        if name not in out and all(v is None or isinstance(v, float) for v in values):
            out[name] = pl.Float64
    return out


def impact_table(scenario: Scenario, c: Paths, imp: ImpactResult) -> pl.DataFrame:
    """scenario_impact: one row per asset and horizon (each projection-year end, and last)."""
    n_h, n_a = len(imp.horizons), len(c.assets)
    ends = [c.period_ends[i] for i in imp.horizons]
    mv = imp.markets
    start = np.tile(mv.price, n_h)  # (H*A,) start price per row
    cap = np.tile(mv.market_cap, n_h)
    data: dict[str, Any] = {
        "scenario": [scenario.name] * (n_h * n_a),
        "asset": list(c.assets) * n_h,
        "asset_class": list(c.asset_class) * n_h,
        "horizon_end": [d for d in ends for _ in range(n_a)],
        "base_date": [c.base_date] * (n_h * n_a),
        "pool_as_of": [c.pool_as_of] * (n_h * n_a),
        "market_as_of": list(mv.as_of) * n_h,
        "cumulative_flow_usd": _col(imp.central.cumulative),
    }
    for i, b in enumerate(BANDS):
        data[f"cumulative_flow_usd_{b}"] = _col(imp.bands.cumulative[i])
    data["market_cap_usd"] = _col(cap)
    data["share_of_market_cap"] = _col(imp.share_of_market_cap)
    data["days_of_volume"] = _col(imp.days_of_volume)
    data["peak_volume_share"] = _col(imp.peak_volume_share)
    data["price_impact"] = _col(imp.central.price)
    for i, b in enumerate(BANDS):
        data[f"price_impact_{b}"] = _col(imp.bands.price[i])
    data["start_price_usd"] = _col(start)
    data["implied_price_usd"] = _col(start * (1.0 + imp.central.price.ravel()))
    for i, b in enumerate(BANDS):
        data[f"implied_price_usd_{b}"] = _col(start * (1.0 + imp.bands.price[i].ravel()))
    data["implied_market_cap_usd"] = _col(cap * (1.0 + imp.central.price.ravel()))
    data["execution_impact"] = _col(imp.central.execution)
    for i, b in enumerate(BANDS):
        data[f"execution_impact_{b}"] = _col(imp.bands.execution[i])
    data["share_of_aum"] = _col(imp.share_of_aum)
    data["share_of_annual_fundraising"] = _col(imp.share_of_annual_fundraising)
    data["share_of_dry_powder"] = _col(imp.share_of_dry_powder)
    data["market_cap_basis"] = [dft.MARKET_CAP_BASIS.get(k) for k in c.asset_class] * n_h
    data["overridden"] = list(mv.overridden) * n_h
    data["note"] = list(mv.notes) * n_h
    text = {k: pl.Utf8 for k in ("market_cap_basis", "overridden", "note")}
    dates = {k: pl.Date for k in ("horizon_end", "base_date", "pool_as_of", "market_as_of")}
    return pl.DataFrame(data, schema_overrides=_types(data, {**dates, **text}))


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
    head: dict[str, Any] = {"asset": None, "p": None, "b": [None] * 3, "share": None,
                            "start": None, "as_of": None}
    if np.any(~np.isnan(price)):
        i = int(np.nanargmax(price))
        p0 = float(imp.markets.price[i])
        head = {
            "asset": c.assets[i],
            "p": float(price[i]),
            "b": [float(imp.bands.price[k, last, i]) for k in range(3)],
            "share": float(imp.share_of_market_cap[last, i]),
            "start": None if math.isnan(p0) else p0,
            "as_of": imp.markets.as_of[i],
        }

    def implied(x: float | None) -> float | None:
        return None if x is None or head["start"] is None else head["start"] * (1.0 + x)

    split_notes = [sp.note() for sp in c.splits if sp.note()]
    left_out = sorted({a for sp in c.splits for a in sp.left_out})
    row = {
        "scenario": scenario.name,
        "description": scenario.description,
        "pool_series": scenario.pool.series,
        "base_date": c.base_date,
        "pool_as_of": c.pool_as_of,
        "pool_note": c.pool_note,
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
        "headline_market_as_of": head["as_of"],
        "headline_start_price_usd": head["start"],
        "headline_implied_price_usd": implied(head["p"]),
        "headline_implied_price_usd_p05": implied(head["b"][0]),
        "headline_implied_price_usd_p50": implied(head["b"][1]),
        "headline_implied_price_usd_p95": implied(head["b"][2]),
        "split_left_out": ", ".join(left_out) or None,
        "split_note": "; ".join(split_notes) or None,
    }
    types = {"scenario": pl.Utf8, "description": pl.Utf8, "pool_series": pl.Utf8,
             "pool_note": pl.Utf8, "headline_asset": pl.Utf8, "split_left_out": pl.Utf8,
             "split_note": pl.Utf8, "first_period_end": pl.Date, "horizon_end": pl.Date,
             "peak_quarter_end": pl.Date, "base_date": pl.Date, "pool_as_of": pl.Date,
             "headline_market_as_of": pl.Date, "quarters": pl.Int64, "draws": pl.Int64,
             "seed": pl.Int64}
    # columns in row order whatever the values (a None never decides a type)
    schema = {k: types.get(k, pl.Float64) for k in row}
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

def _missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x)))


def _sig(x: float, n: int = 3) -> float:
    """x rounded to n significant figures: what the model can claim."""
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, n - 1 - math.floor(math.log10(abs(x))))


def _usd(x: float | None, n: int = 3) -> str:
    """$122 bn, $1.22 tn, $7.63 bn: amounts to n significant figures."""
    if _missing(x):
        return "-"
    v = _sig(float(x), n)  # type: ignore[arg-type]
    for scale, abbr in ((1e12, "tn"), (1e9, "bn"), (1e6, "m")):
        if abs(v) >= scale:
            return f"${_trim(v / scale, n)} {abbr}"
    return f"${_trim(v, n)}"


def _price(x: float | None, n: int = 3) -> str:
    """$192,000, $3,340, $37.7: a price to n significant figures, in full."""
    if _missing(x):
        return "-"
    v = _sig(float(x), n)  # type: ignore[arg-type]
    decimals = max(0, n - 1 - math.floor(math.log10(abs(v)))) if v else 0
    return f"${v:,.{decimals}f}"


def _trim(v: float, n: int) -> str:
    """v (already rounded) with as many decimals as n significant figures need."""
    if v == 0:
        return "0"
    decimals = max(0, n - 1 - math.floor(math.log10(abs(v))))
    return f"{v:,.{decimals}f}"


def _pct(x: float | None, n: int = 2, signed: bool = False) -> str:
    """A fraction as a percentage to n significant figures (0.0523 -> 5.2 %)."""
    if _missing(x):
        return "-"
    v = _sig(100 * float(x), n)  # type: ignore[arg-type]
    text = _trim(v, n) if abs(v) >= 1e-9 else "0"
    return f"{'+' if signed and v > 0 else ''}{text} %"


def _num(x: float | None, n: int = 2) -> str:
    return "-" if _missing(x) else _trim(_sig(float(x), n), n)  # type: ignore[arg-type]


def _band(lo: str, hi: str) -> str:
    return "-" if lo == "-" and hi == "-" else f"{lo} to {hi}"


FOOTER = (
    ("cum. flow", "cumulative net flow into the asset from the base date to the horizon "
     "(central)"),
    ("% of cap", "cumulative flow / market cap at the base date (central)"),
    ("price then", "the asset's price in the market state used (date in 'market as of')"),
    ("implied price", "price then x (1 + price impact): central, and the p05 to p95 band"),
    ("price impact", "permanent impact M x cumulative flow / market cap (inelastic-markets "
     "multiplier M): central, and the p05 to p95 band"),
    ("days of vol.", "cumulative flow / average daily trading volume (central)"),
    ("exec. p50", "median transient cost of trading the peak quarter's flow, "
     "square-root law"),
    ("% of AUM", "cumulative flow / assets under management (appraisal-priced private "
     "markets, which have no market price)"),
)


def format_text(result: ScenarioResult) -> str:
    """A plain-text report: dates used, summary lines, the impact table at the horizon.

    "central" is the model run once with every parameter at its central value (what the
    published estimates reproduce); p05/p50/p95 are quantiles over the Monte Carlo draws.
    """
    s = result.summary.row(0, named=True)
    end = result.impact["horizon_end"].max()
    rows = list(result.impact.filter(pl.col("horizon_end") == end).iter_rows(named=True))
    draws = (f"Monte Carlo {s['draws']} draws, seed {s['seed']}" if s["draws"]
             else "deterministic (no draws: bands equal the central value)")
    base_how = s.get("base_date_rule") or "-"
    pool = f"series {s['pool_series']}" if s["pool_series"] else "fixed base"
    how = s["pool_note"] or f"value of {s['pool_as_of']}"
    lines = [
        f"Scenario {s['scenario']}: {s['description'] or ''}".rstrip(": "),
        f"Base date {s['base_date']} ({base_how}). Pool ({pool}) at the base date: "
        f"{_usd(s['base_usd'])} ({how}); growth {_pct(s['growth_rate'])}/yr",
        "Market data used: " + (", ".join(
            f"{r['asset']} as of {r['market_as_of'] or '-'}" for r in rows) or "none"),
        f"Quarters {s['first_period_end']} to {s['horizon_end']} ({s['quarters']}); {draws}",
        f"Total flow {_usd(s['total_flow_usd'])} central (p05 {_usd(s['total_flow_usd_p05'])}, "
        f"p50 {_usd(s['total_flow_usd_p50'])}, p95 {_usd(s['total_flow_usd_p95'])})",
        "By class (central): " + ", ".join(
            f"{k.replace('_', ' ')} {_usd(s[f'flow_{k}_usd'])}" for k in CLASSES),
        f"Peak quarter {_usd(s['peak_quarterly_flow_usd'])} ({s['peak_quarter_end']})",
    ]
    if s["headline_asset"]:
        price = ""
        if s["headline_start_price_usd"] is not None:
            price = (f"; price {_price(s['headline_start_price_usd'])} on "
                     f"{s['headline_market_as_of']} -> implied "
                     f"{_price(s['headline_implied_price_usd'])} central (p05 "
                     f"{_price(s['headline_implied_price_usd_p05'])}, p50 "
                     f"{_price(s['headline_implied_price_usd_p50'])}, p95 "
                     f"{_price(s['headline_implied_price_usd_p95'])})")
        lines.append(
            f"Headline: {s['headline_asset']} price impact "
            f"{_pct(s['headline_price_impact'], signed=True)} central (p05 "
            f"{_pct(s['headline_price_impact_p05'], signed=True)}, p50 "
            f"{_pct(s['headline_price_impact_p50'], signed=True)}, p95 "
            f"{_pct(s['headline_price_impact_p95'], signed=True)}) at "
            f"{_pct(s['headline_share_of_market_cap'])} of market cap{price}"
        )
    if s["split_note"]:
        lines.append(f"Split: {s['split_note']}")

    said = set((s["split_note"] or "").split("; "))  # printed on the Split line already
    notes: dict[str, int] = {}
    header = ("asset", "market as of", "cum. flow", "% of cap", "price then",
              "implied price", "p05 to p95", "price impact", "p05 to p95", "days of vol.",
              "exec. p50", "% of AUM", "notes")
    table = [header]
    for r in rows:
        refs = []
        for part in (r["note"] or "").split("; "):
            if part and part not in said:
                refs.append(notes.setdefault(part, len(notes) + 1))
        table.append((
            r["asset"], str(r["market_as_of"] or "-"), _usd(r["cumulative_flow_usd"]),
            _pct(r["share_of_market_cap"]), _price(r["start_price_usd"]),
            _price(r["implied_price_usd"]),
            _band(_price(r["implied_price_usd_p05"]), _price(r["implied_price_usd_p95"])),
            _pct(r["price_impact"], signed=True),
            _band(_pct(r["price_impact_p05"], signed=True),
                  _pct(r["price_impact_p95"], signed=True)),
            _num(r["days_of_volume"]), _pct(r["execution_impact_p50"]),
            _pct(r["share_of_aum"]), " ".join(f"[{k}]" for k in sorted(set(refs))),
        ))
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    lines += ["", f"Impact at {end} (central values; 'p05 to p95' is the Monte Carlo band)"]
    for row in table:
        lines.append("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    if notes:
        lines += ["", "Notes:"]
        lines += [f"  [{k}] {text}" for text, k in notes.items()]
    lines += ["", "Columns:"]
    lines += [f"  {name}: {what}" for name, what in FOOTER]
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
