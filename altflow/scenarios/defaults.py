"""Default parameters of the scenario engine, each with its source, as-of date and status.

Why a registry: every number the model uses without the scenario file naming it must be
traceable. ``DEFAULTS`` is the single list that docs/model.md mirrors; an entry whose
``status`` is ``"assumption"`` has no public figure behind it and says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from altflow.universe import TRADING_DAYS_PER_YEAR

Triple = tuple[float, float, float]


@dataclass(frozen=True)
class Default:
    """One documented default: a scalar or a (low, central, high) triple."""

    name: str
    value: float | Triple
    unit: str
    source: str
    as_of: str
    note: str
    status: str = "sourced"  # sourced | derived | assumption | convention
    # for a (low, central, high) triple: what each end is, in its source's own terms
    bounds: tuple[str, str, str] | None = None


# --- published inputs the fits and derivations rest on -------------------------------------

DC_POOL_USD = 12.2e12
TDF_OFFER_2006 = 0.32
TDF_OFFER_2020 = 0.87
TDF_LAUNCH_YEAR = 1993
TDF_SHARE_OF_ASSETS_2020 = 0.28
GS_GOLD_PCT_PER_100T = 0.017
GS_GOLD_PCT_PER_100T_2024 = 0.024
GOLD_STOCK_TONNES = 220_000.0
BITWISE_FLOW_USD = 122e9
BITWISE_PRICE_RISE = 0.63
BITWISE_TARGET_PRICE = 194_000.0
BTC_SUPPLY_2025 = 19.9e6
BOFA_FLOW_PER_PCT_USD = 93e6
BOFA_BTC_MARKET_CAP_USD = 1.1e12


def _logistic_fit() -> tuple[float, float]:
    """Steepness (1/yr) and midpoint (years after launch) through the two TDF points."""
    lo = math.log(TDF_OFFER_2006 / (1 - TDF_OFFER_2006))
    hi = math.log(TDF_OFFER_2020 / (1 - TDF_OFFER_2020))
    k = (hi - lo) / (2020 - 2006)
    midpoint = 2006 - lo / k - TDF_LAUNCH_YEAR
    return k, midpoint


def _bass_cdf(t: float, p: float, q: float) -> float:
    e = math.exp(-(p + q) * t)
    return (1 - e) / (1 + (q / p) * e)


def _bass_fit() -> tuple[float, float]:
    """(p, q) with F(2006-1993)=32 % and F(2020-1993)=87 % (Newton on log p, log q)."""
    t1, t2 = 2006 - TDF_LAUNCH_YEAR, 2020 - TDF_LAUNCH_YEAR
    x = [math.log(0.01), math.log(0.2)]

    def res(v: list[float]) -> tuple[float, float]:
        p, q = math.exp(v[0]), math.exp(v[1])
        return _bass_cdf(t1, p, q) - TDF_OFFER_2006, _bass_cdf(t2, p, q) - TDF_OFFER_2020

    for _ in range(60):
        r = res(x)
        h = 1e-7
        j = [[0.0, 0.0], [0.0, 0.0]]
        for c in range(2):
            y = list(x)
            y[c] += h
            rc = res(y)
            j[0][c] = (rc[0] - r[0]) / h
            j[1][c] = (rc[1] - r[1]) / h
        det = j[0][0] * j[1][1] - j[0][1] * j[1][0]
        dx0 = (r[0] * j[1][1] - r[1] * j[0][1]) / det
        dx1 = (j[0][0] * r[1] - j[1][0] * r[0]) / det
        x = [x[0] - dx0, x[1] - dx1]
        if abs(dx0) + abs(dx1) < 1e-13:
            break
    return math.exp(x[0]), math.exp(x[1])


LOGISTIC_STEEPNESS, LOGISTIC_MIDPOINT_YEARS = _logistic_fit()
LINEAR_RAMP_YEARS = (2020 - 2006) / (TDF_OFFER_2020 - TDF_OFFER_2006)
BASS_P, BASS_Q = _bass_fit()

GOLD_M_CENTRAL = GS_GOLD_PCT_PER_100T * GOLD_STOCK_TONNES / 100.0
GOLD_M_HIGH = GS_GOLD_PCT_PER_100T_2024 * GOLD_STOCK_TONNES / 100.0
GOLD_M_LOW = GOLD_M_CENTRAL / 2.0
BTC_M_LOW = 4.0
BTC_M_CENTRAL = (
    BITWISE_PRICE_RISE
    * (BITWISE_TARGET_PRICE / (1 + BITWISE_PRICE_RISE))
    * BTC_SUPPLY_2025
    / BITWISE_FLOW_USD
)
BTC_M_HIGH = 0.01 * BOFA_BTC_MARKET_CAP_USD / BOFA_FLOW_PER_PCT_USD

GOLD_M: Triple = (GOLD_M_LOW, GOLD_M_CENTRAL, GOLD_M_HIGH)
BTC_M: Triple = (BTC_M_LOW, BTC_M_CENTRAL, BTC_M_HIGH)
MULTIPLIERS: dict[str, Triple] = {
    "gold": GOLD_M,
    "silver": GOLD_M,
    "platinum": GOLD_M,
    "palladium": GOLD_M,
    "bitcoin": BTC_M,
    "ether": BTC_M,
}
EXECUTION_CONSTANT: Triple = (0.5, 1.0, 1.0)
EXPECTED_RETURN = 0.0
GROWTH_RATE_FALLBACK = 0.0
NET_CONTRIBUTION_FALLBACK = 0.0
SENSITIVITY_ALLOCATION_SCALE = (0.5, 1.0, 2.0)
SENSITIVITY_UPTAKE = (0.1, 0.25, 0.5, 1.0)
APPRAISAL_NOTE = "appraisal-priced: no market price"
# A market state older than this before the base date gets a note (weekends and exchange
# holidays leave metals without a fixing for up to four days; crypto trades daily).
MARKET_STATE_TOLERANCE_DAYS = 7
# Private-market sizes are annual or semi-annual published figures.
APPRAISAL_STATE_TOLERANCE_DAYS = 366
# What market_cap_usd measures, per class; the multipliers are defined against it.
MARKET_CAP_BASIS: dict[str, str] = {
    "precious_metals": "above-ground stock x price (jewellery included)",
    "crypto": "circulating supply x price (CoinGecko)",
}
GOLD_INVESTOR_CB_HOLDINGS_USD = 12.6e12
GOLD_ABOVE_GROUND_TONNES_2025 = 219_891.0
SPLIT_RULE = (
    "a class allocation splits over the class members that have market data at the base "
    "date, in proportion to market cap (market-priced classes) or AUM (private markets); "
    "members without a size are left out and named in the outputs; if none has a size the "
    "split is equal"
)

_ICI_Q1_2025 = "https://www.ici.org/statistical-report/ret_25_q1"
_BRIGHTSCOPE = (
    "https://401kspecialistmag.com/a-closer-look-at-large-401k-investment-menus-"
    "brightscope-ici-data/ (BrightScope/ICI, A Close Look at 401(k) Plans, 2020)"
)
_TDF_LAUNCH = "https://www.plansponsor.com/thought-leadership/time-is-on-your-side-yes-it-is/"
_GK = "https://www.nber.org/papers/w28967"
_GK_RANGE = "https://cxoadvisory.com/big-ideas/inelastic-markets-hypothesis"
_GLASSNODE = (
    "http://cryptocornercafe.com/cafe/2024/01/12/"
    "is-bitcoin-near-top-yet-what-glassnodes-price-multiplier-model-says/"
)
_BITWISE = "https://www.cryptoquibbler.com/2025/08/bitwise-forecasts-122b-of-crypto.html"
_BITWISE_63 = "https://bbapi.viigoo.eu.org/en/square/post/28289441058530"
_BOFA = (
    "https://coinspeaker.com/bank-of-america-reports-it-takes-93m-inflow-into-"
    "bitcoin-market-to-move-it-by-1/amp"
)
_BOFA_CAP = (
    "https://cryptoloverz.com/2021/03/19/financial-institution-of-america-claims-"
    "it-prices-simply-93-million-to-maneuver-bitcoins-value-by-1/"
)
_GS_2025 = "https://eu.36kr.com/en/p/3430961441132168"
_GS_2024 = "https://whizbuddy.com/about-that-us3000-gold-forecast-from-goldman-sachs"
_WGC_STOCK = (
    "https://www.gold.org/about-gold/gold-supply/gold-mining/how-much-gold-has-been-mined"
)
_TOTH = "https://doi.org/10.1103/PhysRevX.1.021006"
_SQRT_RANGE = "https://www.signaltrace.wiki/markov-model/Concepts/Square-Root-Law-of-Market-Impact"
_DONIER = "https://papers.ssrn.com/sol3/papers.cfm?abstract_id=2536001"
_WGC_2026 = "https://www.gold.org/goldhub/research/gold-strategic-asset-2026-edition/20449"

DEFAULTS: tuple[Default, ...] = (
    Default(
        "dc_pool_usd", DC_POOL_USD, "USD", _ICI_Q1_2025, "2025-03-31",
        "US employer-based DC plan assets (ICI); the base of the published back-of-envelope "
        "estimates. Runs normally take the latest value from marts.retirement_assets.",
    ),
    Default(
        "tdf_offer_share_2006", TDF_OFFER_2006, "share of large 401(k) plans", _BRIGHTSCOPE,
        "2006", "Large 401(k) plans offering target-date funds.",
    ),
    Default(
        "tdf_offer_share_2020", TDF_OFFER_2020, "share of large 401(k) plans", _BRIGHTSCOPE,
        "2020", "Large 401(k) plans offering target-date funds.",
    ),
    Default(
        "tdf_share_of_large_plan_assets_2020", TDF_SHARE_OF_ASSETS_2020, "share of assets",
        _BRIGHTSCOPE, "2020",
        "Large 401(k) plan assets invested in target-date funds (3 % in 2006); the plan_share "
        "of the shipped TDF-sleeve scenarios.",
    ),
    Default(
        "tdf_launch_year", float(TDF_LAUNCH_YEAR), "year", _TDF_LAUNCH, "1993",
        "First target-date fund; the time origin of the diffusion fits.",
    ),
    Default(
        "logistic_steepness", LOGISTIC_STEEPNESS, "1/year", _BRIGHTSCOPE, "2006-2020",
        "Logistic through the two TDF points with saturation 1.", "derived",
    ),
    Default(
        "logistic_midpoint_years", LOGISTIC_MIDPOINT_YEARS, "years after launch", _BRIGHTSCOPE,
        "2006-2020", "Half of large plans offered TDFs ~17 years after the 1993 launch.",
        "derived",
    ),
    Default(
        "linear_ramp_years", LINEAR_RAMP_YEARS, "years from 0 to plan_share", _BRIGHTSCOPE,
        "2006-2020", "Straight line through the two TDF points: 3.9 points a year.", "derived",
    ),
    Default(
        "bass_p", BASS_P, "1/year", _BRIGHTSCOPE, "2006-2020",
        "Bass innovation coefficient; F(13)=0.32, F(27)=0.87 from the 1993 launch.", "derived",
    ),
    Default(
        "bass_q", BASS_Q, "1/year", _BRIGHTSCOPE, "2006-2020",
        "Bass imitation coefficient (same fit).", "derived",
    ),
    Default(
        "multiplier_us_equities", (3.0, 5.0, 8.0), "dP/P per flow/market cap", _GK, "2021-06",
        f"Gabaix & Koijen inelastic-markets multiplier; range 3-8 per {_GK_RANGE}. "
        "Reference only: no shipped asset uses it.",
    ),
    Default(
        "multiplier_bitcoin", BTC_M, "dP/P per flow/market cap",
        f"{_GLASSNODE} ; {_BITWISE} ; {_BITWISE_63} ; {_BOFA} ; {_BOFA_CAP}",
        "2024-01 / 2025-08 / 2021-03",
        "low: Glassnode '4-5x' (Jan 2024); central: Bitwise Aug 2025, $122bn lifts BTC "
        "~63 % to ~$194k, so M = 0.63 x ($194k/1.63 x 19.9m BTC) / $122bn = 12.2 "
        "(the 19.9m supply is an assumption from the issuance schedule); high: BofA Mar 2021, "
        "$93m moves BTC 1 % at a ~$1.1tn cap, M = 0.01 x 1.1e12 / 93e6 = 118.",
        "derived",
        bounds=(
            "Glassnode: the low end of its stated '4-5x' range",
            "implied by Bitwise's point estimate (+63 % to ~$194k on $122bn)",
            "Bank of America's point estimate ($93m per 1 %), at a much smaller 2021 cap; "
            "no source calls it an upper bound",
        ),
    ),
    Default(
        "multiplier_ether", BTC_M, "dP/P per flow/market cap", "none: no public estimate found",
        "n/a", "Bitcoin's range reused for ether.", "assumption",
    ),
    Default(
        "multiplier_gold", GOLD_M, "dP/P per flow/market cap",
        f"{_GS_2025} ; {_GS_2024} ; {_WGC_STOCK}", "2025-08 / 2024",
        "Goldman Sachs: +1.7 % price per 100 t of conviction-buyer net purchases (Aug 2025), "
        "'at least 2.4 %' per 100 t (2024); ~220,000 t above ground (GS; WGC: 219,891 t "
        "end-2025). 100 t is 100/220,000 of the stock's value, so M = 0.017 x 2,200 = 37.4 "
        "(central) and 0.024 x 2,200 = 52.8 (high). low = central / 2 is an assumption. "
        "M is defined against the whole above-ground stock (market_cap_basis); against "
        "WGC's ~$12.6tn of investor and central-bank holdings it would be about 0.41 x as "
        "large.",
        "derived",
        bounds=(
            "assumption: central / 2; no published figure below Goldman's was found",
            "Goldman Sachs (Aug 2025) point estimate: +1.7 % per 100 t",
            "Goldman Sachs (2024) 'at least 2.4 %' per 100 t: the LOWER bound of that "
            "regression, used as the top of the range for want of a published upper bound",
        ),
    ),
    Default(
        "multiplier_silver_platinum_palladium", GOLD_M, "dP/P per flow/market cap",
        "none: no public estimate found", "n/a", "Gold's range reused.", "assumption",
    ),
    Default(
        "execution_constant_y", EXECUTION_CONSTANT, "dimensionless",
        f"{_TOTH} ; {_SQRT_RANGE} ; {_DONIER}", "2011 / 2015 / undated wiki page",
        "Square-root law I = Y sigma_daily sqrt(Q/V): Y of order one (Toth et al. 2011); "
        "calibrated prefactors 0.5-1.0; the law holds on bitcoin (Donier & Bonart 2015).",
    ),
    Default(
        "gold_market_cap_basis", GOLD_ABOVE_GROUND_TONNES_2025, "tonnes", f"{_WGC_STOCK} ; "
        f"{_WGC_2026}", "2025-12-31",
        "Gold's market_cap_usd is the whole above-ground stock (the latest WGC figure dated "
        "on or before the base date: 219,891 t at end-2025, jewellery ~44 % included) x the "
        "LBMA price, about $31tn at $4,400/oz; the gold multiplier is defined on this basis. "
        "WGC values physical holdings of investors and central banks at about $12.6tn "
        "(Gold as a strategic asset, 2026 edition); to use that basis, override "
        "impact.market.gold.market_cap_usd and scale the multiplier by the same ratio.",
        "convention",
    ),
    Default(
        "class_split_rule", 0.0, "rule", "none", "n/a", SPLIT_RULE[0].upper() + SPLIT_RULE[1:]
        + ".", "assumption",
    ),
    Default(
        "market_state_tolerance_days", float(MARKET_STATE_TOLERANCE_DAYS), "days", "convention",
        "n/a", "A market-priced asset's state dated more than this before the base date gets a "
        "note (metals have no fixing on weekends and holidays).", "convention",
    ),
    Default(
        "appraisal_state_tolerance_days", float(APPRAISAL_STATE_TOLERANCE_DAYS), "days",
        "convention", "n/a", "The same for private markets, whose sizes are annual or "
        "semi-annual published figures.", "convention",
    ),
    Default(
        "trading_days_precious_metals", TRADING_DAYS_PER_YEAR["precious_metals"], "days/year",
        "convention", "n/a", "~252 trading days a year, 63 a quarter.", "convention",
    ),
    Default(
        "trading_days_crypto", TRADING_DAYS_PER_YEAR["crypto"], "days/year", "convention",
        "n/a", "Crypto trades every calendar day: 365 a year, 91.25 a quarter.", "convention",
    ),
    Default(
        "expected_return", EXPECTED_RETURN, "annual, nominal", "none", "n/a",
        "Asset price drift used to separate flows from return effects; 0 unless the "
        "scenario's `returns` says otherwise.", "assumption",
    ),
    Default(
        "growth_rate_fallback", GROWTH_RATE_FALLBACK, "annual", "none", "n/a",
        "Used only when neither the scenario nor marts.pool_growth gives a growth rate.",
        "assumption",
    ),
    Default(
        "net_contribution_fallback", NET_CONTRIBUTION_FALLBACK, "annual share of pool",
        "none", "n/a", "Used only when neither the scenario nor marts.pool_growth gives one.",
        "assumption",
    ),
    Default(
        "sensitivity_grid", 0.0, "grid", "none", "n/a",
        f"allocation_scale {SENSITIVITY_ALLOCATION_SCALE} x uptake {SENSITIVITY_UPTAKE} "
        "unless the scenario's `sensitivity` says otherwise.", "assumption",
    ),
)


def default_multiplier(asset: str) -> Triple | None:
    """The documented (low, central, high) multiplier of an asset, None if it has no price."""
    return MULTIPLIERS.get(asset)


def trading_days_per_quarter(asset_class: str) -> float | None:
    """Trading days in a quarter for a market-priced class (None for private markets)."""
    days = TRADING_DAYS_PER_YEAR.get(asset_class)
    return None if days is None else days / 4.0
