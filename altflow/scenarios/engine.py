"""Pool projection, adoption curves, holdings and flows, vectorised over Monte Carlo draws.

Every path array is shaped (draws, quarters, assets) or a prefix of it, so one numpy pass
covers all draws. The central path is the same code with one draw at central values;
it is what the published back-of-envelope estimates reproduce exactly.
"""

from __future__ import annotations

import calendar
import math
import os
import zlib
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

import numpy as np

from altflow.universe import ASSET_CLASS, CLASSES

from . import defaults as dft
from .spec import Param, Range, Scenario, central

MARKET_PRICED = ("precious_metals", "crypto")
QUANTILES = (0.05, 0.50, 0.95)


@dataclass(frozen=True)
class PoolInput:
    """The pool series' latest value and growth, as marts.pool_growth gives them."""

    series: str
    period_end: date
    value_usd: float
    growth_rate: float | None = None
    net_contribution_rate: float | None = None


@dataclass(frozen=True)
class MarketInput:
    """One asset's price, size and liquidity on one date (a marts.market_history row).

    ``as_of`` is the date of the observation; ``overridden`` names the fields the scenario's
    ``impact.market`` replaced.
    """

    asset: str
    asset_class: str
    market_cap_usd: float | None
    daily_volume_usd: float | None
    annual_volatility: float | None
    aum_usd: float | None = None
    annual_fundraising_usd: float | None = None
    dry_powder_usd: float | None = None
    note: str | None = None
    price_usd: float | None = None
    as_of: date | None = None
    source: str | None = None
    overridden: tuple[str, ...] = ()
    size_as_of: date | None = None  # date of the market-cap / AUM figure, when older


@dataclass(frozen=True)
class Split:
    """How one allocation key spreads over assets, and which members were left out why."""

    key: str
    weights: dict[str, float]
    left_out: dict[str, str]  # asset -> reason
    rule: str  # "asset" | "by market size" | "equal"

    def note(self) -> str | None:
        if not self.left_out:
            return None
        gone = ", ".join(f"{a} ({why})" for a, why in self.left_out.items())
        over = ", ".join(self.weights)
        return f"{self.key} split {self.rule} over {over} only, leaving out {gone}"


@dataclass
class Paths:
    """One simulation: arrays over (draws, quarters, assets); draws is 1 on the central path."""

    assets: tuple[str, ...]
    asset_class: tuple[str, ...]
    period_ends: tuple[date, ...]
    years: np.ndarray  # (Q,) time of each quarter end, in years from the base date
    base_usd: np.ndarray  # (D,) pool at the base date
    pool: np.ndarray  # (D, Q)
    adoption: np.ndarray  # (D, Q) share of the pool in plans offering the option
    uptake: np.ndarray  # (D,)
    allocation: np.ndarray  # (D, A) target weights after class splits
    gross_return: np.ndarray  # (D, A) quarterly gross return of each asset
    holdings: np.ndarray  # (D, Q, A)
    flows: np.ndarray  # (D, Q, A)
    multiplier: np.ndarray  # (D, A), NaN where no market price
    execution_constant: np.ndarray  # (D,)
    growth_rate: np.ndarray  # (D,)
    net_contribution_rate: np.ndarray  # (D,)
    base_date: date | None = None
    pool_as_of: date | None = None  # date of the pool figure the base was taken from
    pool_note: str | None = None  # how the base was obtained (estimate, fixed figure)
    splits: tuple[Split, ...] = ()

    @property
    def draws(self) -> int:
        return self.flows.shape[0]

    def return_effect(self) -> np.ndarray:
        """Change in holdings explained by the asset's own return: H[t-1] x (R - 1)."""
        out = np.zeros_like(self.holdings)
        out[:, 1:, :] = self.holdings[:, :-1, :] * (self.gross_return[:, None, :] - 1.0)
        return out

    def offered(self) -> np.ndarray:
        """(D, Q) dollars of the pool in plans offering the option: adoption x pool."""
        return self.adoption * self.pool


# --- calendar -------------------------------------------------------------------------------

def _quarter_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def quarter_ends(after: date, n: int) -> list[date]:
    """The n quarter-end dates strictly after `after`."""
    y, m = after.year, ((after.month - 1) // 3 + 1) * 3
    out: list[date] = []
    while len(out) < n:
        end = _quarter_end(y, m)
        if end > after:
            out.append(end)
        m += 3
        if m > 12:
            y, m = y + 1, 3
    return out


# --- sampling -------------------------------------------------------------------------------

def _triangular_ppf(u: np.ndarray, a: float, c: float, b: float) -> np.ndarray:
    """Inverse CDF of the triangular distribution (exact; numpy's sampler rejects a == c)."""
    span = b - a
    split = (c - a) / span
    left = a + np.sqrt(u * span * (c - a))
    right = b - np.sqrt((1.0 - u) * span * (b - c))
    return np.where(u < split, left, right)


class Sampler:
    """Draws each uncertain parameter from its own stream keyed by its key path.

    Why per-key streams: adding a parameter to a file must not change the draws of the
    others, and the same seed must always give the same numbers.
    """

    def __init__(self, draws: int, seed: int):
        self.draws = int(draws)
        self.seed = int(seed)
        self.n = max(self.draws, 1)

    def __call__(self, key: str, value: Param) -> np.ndarray:
        if self.draws == 0 or not isinstance(value, Range):
            return np.full(self.n, central(value), dtype=float)
        rng = np.random.default_rng([self.seed, zlib.crc32(key.encode())])
        u = rng.random(self.n)
        if value.dist == "log_triangular":
            lo, mid, hi = (math.log(v) for v in (value.low, value.central, value.high))
            return np.exp(_triangular_ppf(u, lo, mid, hi))
        return _triangular_ppf(u, value.low, value.central, value.high)


# --- allocations ------------------------------------------------------------------------------

def _size(m: MarketInput) -> float | None:
    size = m.market_cap_usd if m.asset_class in MARKET_PRICED else m.aum_usd
    return size if size is not None and size > 0 else None


def class_split(key: str, markets: Mapping[str, MarketInput]) -> Split:
    """How an allocation to `key` spreads over assets: itself, or a class by market size.

    The rule (defaults ``class_split_rule``): a class splits over its members by market cap
    (AUM for private markets) at the base date; members without a size, or without market
    data, are left out and named; if none has a size the split is equal.
    """
    if key in ASSET_CLASS:
        if key not in markets:
            raise ValueError(f"no market data for asset {key!r} on or before the base date")
        return Split(key, {key: 1.0}, {}, "asset")
    members = [a for a in CLASSES[key] if a in markets]
    if not members:
        raise ValueError(f"no market data for any asset of class {key!r} on or before the "
                         "base date")
    what = "market cap" if key in MARKET_PRICED else "AUM"
    left_out = {a: "no market data" for a in CLASSES[key] if a not in markets}
    sizes = {a: _size(markets[a]) for a in members}
    sized = {a: s for a, s in sizes.items() if s is not None}
    if not sized:
        return Split(key, {a: 1.0 / len(members) for a in members}, left_out, "equally")
    for a in members:
        if a not in sized:
            left_out[a] = f"no {what}"
    left_out = {a: left_out[a] for a in CLASSES[key] if a in left_out}
    total = sum(sized.values())
    return Split(key, {a: s / total for a, s in sized.items()}, left_out, f"by {what}")


def split_weights(key: str, markets: Mapping[str, MarketInput]) -> dict[str, float]:
    """The weights of :func:`class_split`."""
    return class_split(key, markets).weights


def _asset_value(table: Mapping[str, Param], asset: str, prefix: str) -> tuple[str, Param] | None:
    """The asset's own entry, else its class's (key path, value)."""
    if asset in table:
        return f"{prefix}.{asset}", table[asset]
    cls = ASSET_CLASS[asset]
    if cls in table:
        return f"{prefix}.{cls}", table[cls]
    return None


# --- adoption curves ------------------------------------------------------------------------

def adoption_curve(
    curve: str, years: np.ndarray, params: Mapping[str, np.ndarray], draws: int = 1
) -> np.ndarray:
    """Fraction (0..1) of plan_share reached at each time; params are (D,) arrays.

    Returns (D, Q). immediate: 1; linear: t/ramp capped at 1; logistic: 1/(1+e^{-k(t-m)});
    bass: (1-e^{-(p+q)t}) / (1 + (q/p) e^{-(p+q)t}).
    """
    t = years[None, :]
    if curve == "immediate":
        return np.ones((draws, years.size))
    if curve == "linear":
        ramp = params["ramp_years"][:, None]
        return np.minimum(t / ramp, 1.0)
    if curve == "logistic":
        k, mid = params["steepness"][:, None], params["midpoint_years"][:, None]
        return 1.0 / (1.0 + np.exp(-k * (t - mid)))
    if curve == "bass":
        p, q = params["p"][:, None], params["q"][:, None]
        e = np.exp(-(p + q) * t)
        return (1.0 - e) / (1.0 + (q / p) * e)
    raise ValueError(f"unknown curve {curve!r}")


CURVE_DEFAULTS: dict[str, dict[str, float]] = {
    "immediate": {},
    "linear": {"ramp_years": dft.LINEAR_RAMP_YEARS},
    "logistic": {
        "midpoint_years": dft.LOGISTIC_MIDPOINT_YEARS,
        "steepness": dft.LOGISTIC_STEEPNESS,
    },
    "bass": {"p": dft.BASS_P, "q": dft.BASS_Q},
}


# --- simulation -------------------------------------------------------------------------------

def _base_and_growth(
    scenario: Scenario, pool: PoolInput | None, sample: Sampler, base_date: date | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, date, date | None, str | None]:
    """Pool at the base date, growth, net contributions, base date, pool date and note.

    The base date is `start`, else the caller's (the latest market date), else the pool's
    own date. A series value older than the base date is grown to it at the growth rate and
    labelled as an estimate; a value dated after it is never used (the caller picks the
    observation on or before the base date).
    """
    spec = scenario.pool
    growth_p = spec.growth_rate
    if growth_p is None:
        growth_p = pool.growth_rate if pool and pool.growth_rate is not None else \
            dft.GROWTH_RATE_FALLBACK
    ncr_p = spec.net_contribution_rate
    if ncr_p is None:
        ncr_p = pool.net_contribution_rate if pool and pool.net_contribution_rate is not None \
            else dft.NET_CONTRIBUTION_FALLBACK
    growth = sample("pool.growth_rate", growth_p)
    ncr = sample("pool.net_contribution_rate", ncr_p)
    if scenario.start is not None:
        base_date = scenario.start
    elif base_date is None:
        if pool is None:
            raise ValueError(f"scenario {scenario.name!r}: no pool input and no `start` date")
        base_date = pool.period_end
    if spec.base_usd is not None:
        base = sample("pool.base_usd", spec.base_usd)
        return (base, growth, ncr, base_date, base_date,
                "fixed pool.base_usd of the scenario file, taken as of the base date")
    if pool is None:
        raise ValueError(f"scenario {scenario.name!r}: no value of series "
                         f"{spec.series!r} on or before the base date {base_date}")
    if pool.period_end > base_date:
        raise ValueError(f"scenario {scenario.name!r}: pool value dated {pool.period_end}, "
                         f"after the base date {base_date}")
    base = np.full(sample.n, float(pool.value_usd))
    note = None
    gap = (base_date - pool.period_end).days / 365.25
    if gap > 0:
        base = base * (1.0 + growth) ** gap
        note = (f"estimate: {spec.series} of {pool.period_end} grown to {base_date} at "
                f"{100 * float(growth[0]):.1f} %/yr")
    return base, growth, ncr, base_date, pool.period_end, note


def simulate(
    scenario: Scenario,
    pool: PoolInput | None,
    markets: Mapping[str, MarketInput],
    draws: int = 0,
    seed: int = 0,
    base_date: date | None = None,
) -> Paths:
    """Project pool, adoption, holdings and flows; draws=0 gives the central path.

    `markets` must already be the state at the base date (see inputs.MarketHistory.at).
    """
    sample = Sampler(draws, seed)
    n_q = scenario.quarters

    splits = {k: class_split(k, markets) for k in scenario.allocations}
    assets = tuple(a for a in ASSET_CLASS if any(a in s.weights for s in splits.values()))
    col = {a: i for i, a in enumerate(assets)}
    allocation = np.zeros((sample.n, len(assets)))
    for key, value in scenario.allocations.items():
        w = sample(f"allocations.{key}", value)
        for asset, share in splits[key].weights.items():
            allocation[:, col[asset]] += w * share

    base, growth, ncr, base_date, pool_as_of, pool_note = _base_and_growth(
        scenario, pool, sample, base_date)
    ad = scenario.adoption
    plan_share = sample("adoption.plan_share", ad.plan_share)
    uptake = sample("adoption.uptake", ad.uptake)
    curve_params = {
        k: sample(f"adoption.{k}", ad.params.get(k, v))
        for k, v in CURVE_DEFAULTS[ad.curve].items()
    }

    years = np.arange(1, n_q + 1, dtype=float) / 4.0
    pool_path = base[:, None] * np.exp(np.log1p(growth)[:, None] * years[None, :])
    adoption = plan_share[:, None] * adoption_curve(ad.curve, years, curve_params, sample.n)

    gross = np.empty((sample.n, len(assets)))
    mult = np.full((sample.n, len(assets)), np.nan)
    for a, i in col.items():
        found = _asset_value(scenario.returns, a, "returns")
        r = sample(*found) if found else np.full(sample.n, dft.EXPECTED_RETURN)
        gross[:, i] = (1.0 + r) ** 0.25
        if ASSET_CLASS[a] in MARKET_PRICED:
            found = _asset_value(scenario.impact.multiplier, a, "impact.multiplier")
            if found is None and dft.default_multiplier(a) is not None:
                lo, mid, hi = dft.default_multiplier(a)
                found = (f"impact.multiplier.{a}", Range(lo, mid, hi, "log_triangular"))
            if found is not None:
                mult[:, i] = sample(*found)
    y_p = scenario.impact.execution_constant
    if y_p is None:
        y_p = Range(*dft.EXECUTION_CONSTANT, dist="log_triangular")
    exec_y = sample("impact.execution_constant", y_p)

    holdings, flows = project(adoption * pool_path, uptake[:, None] * allocation, gross)
    return Paths(
        assets=assets,
        asset_class=tuple(ASSET_CLASS[a] for a in assets),
        period_ends=tuple(quarter_ends(base_date, n_q)),
        years=years,
        base_usd=base,
        pool=pool_path,
        adoption=adoption,
        uptake=uptake,
        allocation=allocation,
        gross_return=gross,
        holdings=holdings,
        flows=flows,
        multiplier=mult,
        execution_constant=exec_y,
        growth_rate=growth,
        net_contribution_rate=ncr,
        base_date=base_date,
        pool_as_of=pool_as_of,
        pool_note=pool_note,
        splits=tuple(splits.values()),
    )


def project(
    offered: np.ndarray, weights: np.ndarray, gross: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Holdings H = offered x weight and flows F[t] = H[t] - H[t-1] x R.

    offered (D, Q) dollars in plans offering the option, weights (D, A) uptake times
    allocation, gross (D, A) quarterly gross returns. Holdings start from zero.
    Returns (D, Q, A) views of arrays stored draws-last, (Q, A, D): every loop then runs
    over the long draws axis, and the quantiles copy contiguous rows.
    """
    x = np.ascontiguousarray(offered.T)  # (Q, D)
    w = np.ascontiguousarray(weights.T)  # (A, D)
    r = np.ascontiguousarray(gross.T)  # (A, D)
    holdings = x[:, None, :] * w[None, :, :]
    flows = np.empty_like(holdings)
    flows[0] = holdings[0]
    np.multiply(holdings[:-1], r[None, :, :], out=flows[1:])  # in place: no temporary
    np.subtract(holdings[1:], flows[1:], out=flows[1:])
    return holdings.transpose(2, 0, 1), flows.transpose(2, 0, 1)


def draws_last(x: np.ndarray) -> np.ndarray:
    """View a (D, ...) array as (..., D); contiguous for arrays made by this module."""
    return np.moveaxis(x, 0, -1)


# --- bands ----------------------------------------------------------------------------------

_POOL: ThreadPoolExecutor | None = None


def _threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def quantiles(x: np.ndarray, qs: Sequence[float] = QUANTILES) -> np.ndarray:
    """Quantiles over axis 0, equal to np.quantile(x, qs, axis=0) (linear method)."""
    return quantiles_many([x], qs)[0]


def quantiles_many(
    arrays: Sequence[np.ndarray], qs: Sequence[float] = QUANTILES
) -> list[np.ndarray]:
    """Quantiles over axis 0 of several arrays with the same number of draws.

    Why not np.quantile: it partitions along a strided axis in one thread. Here each array
    is copied once, transposed, into a reused buffer with the draws on the contiguous axis,
    and row blocks are partitioned in parallel threads (numpy releases the GIL).
    Each result is shaped (len(qs), *array.shape[1:]).
    """
    d = arrays[0].shape[0]
    q = np.asarray(qs, dtype=float)
    virtual = (d - 1) * q
    lo = np.floor(virtual).astype(np.intp)
    hi = np.minimum(lo + 1, d - 1)
    frac = virtual - lo
    upper = frac >= 0.5
    kth = np.unique(np.concatenate([lo, hi]))
    sizes = [int(np.prod(a.shape[1:], dtype=np.int64)) for a in arrays]
    buffer = np.empty(max(sizes) * d)
    result: list[np.ndarray] = []
    for arr, k in zip(arrays, sizes, strict=True):
        rows = buffer[: k * d].reshape(k, d)
        rows[...] = arr.reshape(d, k).T
        _partition_rows(rows, kth)
        a, b = rows[:, lo], rows[:, hi]
        diff = b - a
        out = a + diff * frac
        out[:, upper] = (b - diff * (1.0 - frac))[:, upper]
        result.append(out.T.reshape((len(q), *arr.shape[1:])))
    return result


def _partition_rows(rows: np.ndarray, kth: np.ndarray) -> None:
    """Partition each row in place, in parallel row blocks when the array is large."""
    global _POOL
    n_rows = rows.shape[0]
    workers = _threads() if rows.size >= 200_000 and n_rows > 1 else 1
    if workers == 1:
        rows.partition(kth, axis=1)
        return
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=_threads())
    bounds = np.linspace(0, n_rows, workers + 1).astype(int)
    blocks = [rows[s:e] for s, e in zip(bounds[:-1], bounds[1:], strict=True) if e > s]
    list(_POOL.map(lambda b: b.partition(kth, axis=1), blocks))
