"""What the flows mean next to each market: size, liquidity and price.

Permanent impact follows the inelastic-markets model dP/P = M x flow / market cap;
execution impact follows the square-root law Y x sigma_daily x sqrt(pace), with pace a
quarter's flow as a share of that quarter's trading. Appraisal-priced private markets get
shares of AUM, fundraising and dry powder instead of a price.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from . import defaults as dft
from .engine import MARKET_PRICED, MarketInput, Paths, draws_last, quantiles, quantiles_many


def horizon_indices(n_quarters: int) -> np.ndarray:
    """Quarter indices of each projection-year end, plus the last quarter."""
    idx = list(range(3, n_quarters, 4))
    if not idx or idx[-1] != n_quarters - 1:
        idx.append(n_quarters - 1)
    return np.asarray(idx, dtype=np.intp)


def _num(x: float | None) -> float:
    return float("nan") if x is None else float(x)


@dataclass(frozen=True)
class MarketVectors:
    """Per-asset market inputs as aligned arrays (NaN where missing or not applicable)."""

    market_cap: np.ndarray
    daily_volume: np.ndarray
    sigma_daily: np.ndarray
    days_per_quarter: np.ndarray
    aum: np.ndarray
    fundraising: np.ndarray
    dry_powder: np.ndarray
    priced: np.ndarray  # bool: has a market price
    notes: tuple[str | None, ...]
    price: np.ndarray = field(default_factory=lambda: np.zeros(0))  # start price, USD
    as_of: tuple[date | None, ...] = ()
    overridden: tuple[str | None, ...] = ()

    @classmethod
    def build(cls, paths: Paths, markets: Mapping[str, MarketInput]) -> MarketVectors:
        cap, vol, sig, days, aum, fund, dry, priced, notes, price = ([] for _ in range(10))
        split_notes = {a: [s.note() for s in paths.splits if a in s.weights and s.note()]
                       for a in paths.assets}
        for asset, klass in zip(paths.assets, paths.asset_class, strict=True):
            m = markets[asset]
            is_priced = klass in MARKET_PRICED
            per_year = dft.TRADING_DAYS_PER_YEAR.get(klass)
            priced.append(is_priced)
            cap.append(_num(m.market_cap_usd) if is_priced else float("nan"))
            vol.append(_num(m.daily_volume_usd) if is_priced else float("nan"))
            s = _num(m.annual_volatility)
            sig.append(s / math.sqrt(per_year) if is_priced and per_year else float("nan"))
            days.append(per_year / 4.0 if is_priced and per_year else float("nan"))
            aum.append(_num(m.aum_usd) if not is_priced else float("nan"))
            fund.append(_num(m.annual_fundraising_usd) if not is_priced else float("nan"))
            dry.append(_num(m.dry_powder_usd) if not is_priced else float("nan"))
            price.append(_num(m.price_usd) if is_priced else float("nan"))
            parts = [*_notes(m, is_priced, paths.base_date), *split_notes[asset]]
            notes.append("; ".join(dict.fromkeys(parts)) or None)
        arr = np.asarray
        return cls(arr(cap), arr(vol), arr(sig), arr(days), arr(aum), arr(fund), arr(dry),
                   arr(priced, dtype=bool), tuple(notes), arr(price, dtype=float),
                   tuple(markets[a].as_of for a in paths.assets),
                   tuple(", ".join(markets[a].overridden) or None for a in paths.assets))


_PRICED_FIELDS = (("market_cap_usd", "market cap"), ("daily_volume_usd", "daily volume"),
                  ("annual_volatility", "volatility"))
_APPRAISAL_FIELDS = (("aum_usd", "AUM"), ("annual_fundraising_usd", "annual fundraising"),
                     ("dry_powder_usd", "dry powder"))


def _notes(m: MarketInput, priced: bool, base_date: date | None) -> list[str]:
    """Why a column is NULL for this asset, how old its state is, what was overridden.

    The market row's own "<column> NULL: <reason>" explanations replace the generic "in
    market data" wording; its other remarks are left to the market marts.
    """
    reasons = {}
    for part in (m.note or "").split("; "):
        column, sep, why = part.partition(" NULL: ")
        if sep:
            reasons[column] = why.replace("this date", str(m.as_of)) if m.as_of else why
    parts: list[str] = []
    if not priced:
        parts.append(dft.APPRAISAL_NOTE)
    for column, label in _PRICED_FIELDS if priced else _APPRAISAL_FIELDS:
        if getattr(m, column) is None:
            why = reasons.get(column)
            parts.append(f"no {label}: {why}" if why else f"no {label} in market data")
    if priced and dft.default_multiplier(m.asset) is None:
        parts.append("no documented price-impact multiplier")
    # the age of the size figure itself (AUM, or a crypto market cap from a day before the
    # latest price), which may predate the row
    dated = m.as_of
    if m.size_as_of is not None and (dated is None or m.size_as_of < dated):
        dated = m.size_as_of
    if base_date is not None and dated is not None:
        age = (base_date - dated).days
        tolerance = dft.MARKET_STATE_TOLERANCE_DAYS if priced else \
            dft.APPRAISAL_STATE_TOLERANCE_DAYS
        if age > tolerance:
            what = ("market state" if dated == m.as_of else "market size") if priced else \
                "AUM figure"
            parts.append(f"{what} of {dated}, {age} days before the base date {base_date} "
                         f"(tolerance {tolerance} days)")
    if m.overridden:
        parts.append(f"overridden by the scenario: {', '.join(m.overridden)}")
        if "market_cap_usd" in m.overridden and m.asset_class == "precious_metals":
            parts.append("the default multiplier is defined on the above-ground stock; scale "
                         "it if this cap is on another basis")
    return parts


def _signed_sqrt(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.sqrt(np.abs(x))


@dataclass
class HorizonArrays:
    """Per-draw impact quantities at each horizon: arrays shaped (D, H, A)."""

    cumulative: np.ndarray
    price: np.ndarray
    execution: np.ndarray


def cumulative_at(paths: Paths, horizons: np.ndarray) -> np.ndarray:
    """(D, H, A) cumulative flow up to each horizon, without a pass over (D, Q, A).

    Flows are F[t] = w (x[t] - R x[t-1]) with x = adoption x pool, so their running sum is
    w (S[t] - R S[t-1]) with S the running sum of x: O(D x Q) instead of O(D x Q x A).
    """
    x = np.ascontiguousarray(paths.offered().T)  # (Q, D)
    s = np.cumsum(x, axis=0)
    s_h = s[horizons]  # (H, D)
    s_prev = s_h - x[horizons]
    w = draws_last(paths.uptake[:, None] * paths.allocation)  # (A, D)
    r = draws_last(paths.gross_return)
    cum = w[None] * (s_h[:, None, :] - r[None] * s_prev[:, None, :])  # (H, A, D)
    return cum.transpose(2, 0, 1)


def horizon_arrays(paths: Paths, mv: MarketVectors, horizons: np.ndarray) -> HorizonArrays:
    """Cumulative flow, permanent price impact and peak execution impact at each horizon.

    Computed draws-last, (H, A, D), and returned as (D, H, A) views.
    """
    cum = draws_last(cumulative_at(paths, horizons))
    flows = draws_last(paths.flows)  # (Q, A, D)
    starts = np.concatenate([[0], horizons[:-1] + 1]).astype(np.intp)
    peak = np.maximum.accumulate(np.maximum.reduceat(flows, starts, axis=0), axis=0)
    col = (slice(None), None)  # per-asset vectors broadcast over (A, D)
    with np.errstate(divide="ignore", invalid="ignore"):
        price = draws_last(paths.multiplier)[None] * (cum / mv.market_cap[col])
        pace = peak / (mv.daily_volume * mv.days_per_quarter)[col]
        execution = (paths.execution_constant * mv.sigma_daily[col]) * _signed_sqrt(pace)
    return HorizonArrays(*(a.transpose(2, 0, 1) for a in (cum, price, execution)))


@dataclass
class ImpactResult:
    """Central values and bands of the impact quantities, plus per-quarter liquidity."""

    horizons: np.ndarray  # (H,) quarter indices
    central: HorizonArrays  # D = 1
    bands: HorizonArrays  # leading axis = quantiles (3)
    share_of_market_cap: np.ndarray  # (H, A)
    days_of_volume: np.ndarray  # (H, A)
    peak_volume_share: np.ndarray  # (H, A)
    share_of_aum: np.ndarray  # (H, A)
    share_of_annual_fundraising: np.ndarray  # (H, A)
    share_of_dry_powder: np.ndarray  # (H, A)
    volume_share: np.ndarray  # (Q, A) each quarter's flow / that quarter's trading
    execution_by_quarter: np.ndarray  # (Q, A) central square-root impact of each quarter
    markets: MarketVectors


def compute_impact(
    central: Paths, mc: Paths | None, markets: Mapping[str, MarketInput]
) -> ImpactResult:
    """All impact metrics: central from the central path, bands from the Monte Carlo."""
    mv = MarketVectors.build(central, markets)
    horizons = horizon_indices(central.flows.shape[1])
    c = horizon_arrays(central, mv, horizons)
    if mc is None:
        bands = HorizonArrays(*(np.repeat(x, len(_Q), axis=0)
                                for x in (c.cumulative, c.price, c.execution)))
    else:
        h = horizon_arrays(mc, mv, horizons)
        bands = HorizonArrays(*quantiles_many([h.cumulative, h.price, h.execution]))
    flows = central.flows[0]  # (Q, A)
    cum = c.cumulative[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        volume_share = flows / (mv.daily_volume * mv.days_per_quarter)
        execution_q = central.execution_constant[0] * mv.sigma_daily * _signed_sqrt(volume_share)
        peak_share = np.maximum.accumulate(volume_share, axis=0)[horizons]
        running = np.cumsum(flows, axis=0)
        trailing = running - np.vstack([np.zeros((4, flows.shape[1])), running[:-4]])
        out = ImpactResult(
            horizons=horizons,
            central=HorizonArrays(c.cumulative[0], c.price[0], c.execution[0]),
            bands=bands,
            share_of_market_cap=cum / mv.market_cap,
            days_of_volume=cum / mv.daily_volume,
            peak_volume_share=peak_share,
            share_of_aum=cum / mv.aum,
            share_of_annual_fundraising=trailing[horizons] / mv.fundraising,
            share_of_dry_powder=cum / mv.dry_powder,
            volume_share=volume_share,
            execution_by_quarter=execution_q,
            markets=mv,
        )
    return out


_Q = (0.05, 0.5, 0.95)


# --- sensitivity ------------------------------------------------------------------------------

@dataclass
class SensitivityResult:
    """Total flow and peak market-share / price impact over an allocation x uptake grid."""

    allocation_scale: np.ndarray  # (G,)
    uptake: np.ndarray  # (G,)
    total_flow: np.ndarray  # (G,) central
    total_flow_bands: np.ndarray  # (3, G)
    max_share_of_market_cap: np.ndarray  # (G,) central, NaN if no priced asset
    max_price_impact: np.ndarray  # (G,) central
    max_price_impact_p50: np.ndarray  # (G,)


def _unit_cumulative(paths: Paths) -> np.ndarray:
    """(D, A) cumulative flow over the horizon per unit uptake and unit allocation scale.

    Flows are linear in uptake x allocation, so the grid needs only this: the sum of
    F[t] = w (x[t] - R x[t-1]) over t is w (sum x - R sum x[:-1]), x = adoption x pool.
    """
    x = paths.offered()
    s_all = x.sum(axis=1)
    s_prev = s_all - x[:, -1]
    return paths.allocation * (s_all[:, None] - paths.gross_return * s_prev[:, None])


def sensitivity(
    central: Paths,
    mc: Paths | None,
    mv: MarketVectors,
    scales: Sequence[float],
    uptakes: Sequence[float],
) -> SensitivityResult:
    """Evaluate the grid in closed form (no re-simulation): every point is a rescaling."""
    grid = [(s, u) for s in scales for u in uptakes]
    g_scale = np.asarray([g[0] for g in grid], dtype=float)
    g_uptake = np.asarray([g[1] for g in grid], dtype=float)
    factor = g_scale * g_uptake  # (G,)

    unit_c = _unit_cumulative(central)[0]  # (A,)
    cum_c = factor[:, None] * unit_c[None, :]  # (G, A)
    with np.errstate(divide="ignore", invalid="ignore"):
        share_c = cum_c / mv.market_cap
        price_c = central.multiplier[0] * share_c
    total_c = cum_c.sum(axis=1)

    if mc is None:
        bands = np.repeat(total_c[None, :], 3, axis=0)
        price_p50 = price_c
    else:
        unit = _unit_cumulative(mc)  # (D, A)
        totals = unit.sum(axis=1)[:, None] * factor[None, :]  # (D, G)
        bands = quantiles(totals)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_unit_price = mc.multiplier * unit / mv.market_cap  # (D, A)
        p50 = np.full(len(mv.priced), np.nan)
        if mv.priced.any():
            p50[mv.priced] = quantiles(per_unit_price[:, mv.priced], (0.5,))[0]
        price_p50 = factor[:, None] * p50[None, :]

    def _max(x: np.ndarray) -> np.ndarray:
        if not mv.priced.any() or np.all(np.isnan(x[:, mv.priced])):
            return np.full(x.shape[0], np.nan)
        return np.nanmax(x[:, mv.priced], axis=1)

    return SensitivityResult(
        allocation_scale=g_scale,
        uptake=g_uptake,
        total_flow=total_c,
        total_flow_bands=bands,
        max_share_of_market_cap=_max(share_c),
        max_price_impact=_max(price_c),
        max_price_impact_p50=_max(price_p50),
    )
