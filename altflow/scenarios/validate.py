"""The scenario validator: a parsed YAML document in, a typed Scenario or its problems out.

Why its own module: ``altflow scenarios validate`` and the pipeline run exactly these checks,
and anything the engine cannot run must be refused here, with file, key path and reason.
It never raises on any document the YAML loader produces: every value is checked for its
type before it is used, and values outside physically meaningful bounds are refused.
"""

from __future__ import annotations

import math
import re
import reprlib
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from altflow.universe import ASSET_CLASS, CLASSES

from .safe_yaml import BadDate, Oversized
from .spec_types import (
    DOC,
    AdoptionSpec,
    ImpactSpec,
    Param,
    PoolSpec,
    Problem,
    Range,
    Scenario,
    SensitivitySpec,
    UncertaintySpec,
    high,
    one_line,
)

CURVE_PARAMS: dict[str, tuple[str, ...]] = {
    "immediate": (),
    "linear": ("ramp_years",),
    "logistic": ("midpoint_years", "steepness"),
    "bass": ("p", "q"),
}
DISTS = ("triangular", "log_triangular")
MAX_DRAWS = 1_000_000
MAX_DRAW_QUARTERS = 4_000_000  # draws x quarters: keeps each (D, Q, A) array under ~320 MB
MAX_HORIZON_YEARS = 50
# Physically meaningful bounds: all the world's wealth is under $1 quadrillion (1e15).
MAX_USD = 1e15
MAX_RETURN = 10.0  # +1000 % a year
MAX_MULTIPLIER = 1000.0
MAX_EXECUTION_CONSTANT = 100.0
EARLIEST_START = date(1990, 1, 1)  # before the retirement and market series altflow has
START_YEARS_AHEAD = 10
# impact.market fields with their bounds (lo exclusive, hi inclusive): positive and finite,
# below $1 quadrillion; volatility as an annual fraction in (0, 10).
MARKET_FIELDS: dict[str, tuple[float, float]] = {
    "price_usd": (0.0, MAX_USD),
    "market_cap_usd": (0.0, MAX_USD),
    "daily_volume_usd": (0.0, MAX_USD),
    "annual_volatility": (0.0, 10.0),
}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_CURVE_BOUNDS: dict[str, tuple[float, float | None]] = {
    "ramp_years": (0.0, 100.0),
    "midpoint_years": (-100.0, 100.0),
    "steepness": (0.0, 50.0),
    "p": (0.0, 1.0),
    "q": (0.0, 10.0),
}
TOP_KEYS = (
    "name", "description", "pool", "horizon_years", "allocations", "adoption", "impact",
    "returns", "uncertainty", "sensitivity", "start",
)
REQUIRED_KEYS = ("name", "pool", "horizon_years", "allocations", "adoption")

_repr = reprlib.Repr()  # Python 3.11: attributes, not keyword arguments
_repr.maxlevel, _repr.maxdict, _repr.maxlist, _repr.maxtuple, _repr.maxset = 2, 3, 3, 3, 3
_repr.maxstring, _repr.maxlong, _repr.maxother = 60, 40, 60


def show(value: Any) -> str:
    """A value for a message: its repr, short whatever its size."""
    return one_line(_repr.repr(value), 80)


def latest_start(today: date | None = None) -> date:
    """The latest `start` accepted: the same day START_YEARS_AHEAD years from today."""
    today = today or date.today()
    try:
        return today.replace(year=today.year + START_YEARS_AHEAD)
    except ValueError:  # 29 February
        return today.replace(year=today.year + START_YEARS_AHEAD, day=28)


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Oversized):
        return "number"
    if isinstance(value, BadDate):
        return "date"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, datetime):
        return "date-time"
    if isinstance(value, date):
        return "date"
    if isinstance(value, set | frozenset):
        return "set"
    return type(value).__name__


def fmt(x: float) -> str:
    """Numbers in messages: whole numbers without exponent, others to 12 digits."""
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.12g}"


class Checker:
    """Collects problems for one file while converting its document into a Scenario."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []

    def add(self, key: str, reason: str) -> None:
        self.problems.append(Problem(self.file, one_line(key, 120), one_line(reason)))

    def mapping(self, value: Any, key: str) -> dict | None:
        if isinstance(value, dict):
            return value
        self.add(key, f"must be a mapping, got {type_name(value)}")
        return None

    def keys(
        self,
        doc: dict,
        prefix: str,
        allowed: Iterable[str],
        required: Iterable[str] = (),
        hint: str | None = None,
    ) -> None:
        allowed = tuple(allowed)
        for k in doc:
            if k not in allowed:
                path = f"{prefix}.{k}" if prefix else str(k)
                self.add(path, hint or f"unknown key (expected one of: {', '.join(allowed)})")
        for k in required:
            if k not in doc:
                self.add(f"{prefix}.{k}" if prefix else k, "required key missing")

    def scalar(
        self,
        value: Any,
        key: str,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
        integer: bool = False,
        hi_open: bool = False,
    ) -> float | None:
        """A plain number within bounds, or None after recording the problem."""
        kind = "a whole number" if integer else "a number"
        if isinstance(value, Oversized):
            self.add(key, f"must be {kind} written in at most 100 characters, got one of "
                          f"{len(value)} ({value[:12]}...)")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(key, f"must be {kind}, got {type_name(value)} {show(value)}")
            return None
        if isinstance(value, int) and abs(value) > 10**300:
            self.add(key, f"must be a number below 1e300, got {show(value)}")
            return None
        x = float(value)
        if math.isnan(x) or math.isinf(x):
            self.add(key, f"must be a finite number, got {value!r}")
            return None
        if integer and x != int(x):
            self.add(key, f"must be a whole number, got {fmt(x)}")
            return None
        if lo is not None and hi is not None and not lo_open and not hi_open \
                and not lo <= x <= hi:
            self.add(key, f"must be between {fmt(lo)} and {fmt(hi)}, got {fmt(x)}")
            return None
        if lo is not None and (x <= lo if lo_open else x < lo):
            self.add(key, f"must be {'above' if lo_open else 'at least'} {fmt(lo)}, "
                          f"got {fmt(x)}")
            return None
        if hi is not None and (x >= hi if hi_open else x > hi):
            self.add(key, f"must be {'below' if hi_open else 'at most'} {fmt(hi)}, got {fmt(x)}")
            return None
        return x

    def param(
        self,
        value: Any,
        key: str,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
        dist: str = "triangular",
    ) -> Param | None:
        """A scalar or {low, central, high[, dist]} within bounds."""
        if not isinstance(value, dict):
            return self.scalar(value, key, lo, hi, lo_open)
        n = len(self.problems)
        self.keys(value, key, ("low", "central", "high", "dist"), ("low", "central", "high"))
        parts = {
            k: self.scalar(value[k], f"{key}.{k}", lo, hi, lo_open)
            for k in ("low", "central", "high")
            if k in value
        }
        chosen = value.get("dist", dist)
        if not isinstance(chosen, str) or chosen not in DISTS:
            self.add(f"{key}.dist", f"unknown distribution {show(chosen)} "
                                    f"(expected one of: {', '.join(DISTS)})")
        if len(self.problems) > n:
            return None
        a, c, b = parts["low"], parts["central"], parts["high"]
        if not a <= c <= b:
            self.add(key, f"needs low <= central <= high, got {fmt(a)}, {fmt(c)}, {fmt(b)}")
            return None
        if chosen == "log_triangular" and a <= 0:
            self.add(f"{key}.low", f"must be above 0 for log_triangular, got {fmt(a)}")
            return None
        if a == b:
            return a
        return Range(a, c, b, chosen)

    def asset_map(
        self,
        doc: Any,
        key: str,
        known_assets: set[str] | None,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
        dist: str = "triangular",
    ) -> dict[str, Param]:
        """A mapping from asset or class ids to parameters."""
        out: dict[str, Param] = {}
        doc = self.mapping(doc, key)
        if doc is None:
            return out
        for name, value in doc.items():
            path = f"{key}.{name}"
            if name not in ASSET_CLASS and name not in CLASSES:
                known = ", ".join([*ASSET_CLASS, *CLASSES])
                self.add(path, f"unknown asset or class {show(name)} (known: {known})")
                continue
            self.market_data(name, path, known_assets)
            p = self.param(value, path, lo, hi, lo_open, dist)
            if p is not None:
                out[str(name)] = p
        return out

    def market_data(self, name: str, path: str, known_assets: set[str] | None) -> None:
        if known_assets is None:
            return
        if name in ASSET_CLASS and name not in known_assets:
            self.add(path, f"no market data for asset {name!r} in the warehouse")
        elif name in CLASSES and not known_assets.intersection(CLASSES[name]):
            self.add(path, f"no market data for any asset of class {name!r} in the warehouse")


def check_document(
    doc: Any,
    file: str,
    known_series: set[str] | None,
    known_assets: set[str] | None,
    today: date | None = None,
) -> tuple[Scenario | None, list[Problem]]:
    """The Scenario a parsed document describes, or every problem it has."""
    c = Checker(file)
    if not isinstance(doc, dict):
        c.add(DOC, f"must be a mapping of keys, got {type_name(doc)}")
        return None, c.problems
    c.keys(doc, "", TOP_KEYS, REQUIRED_KEYS)

    name = doc.get("name")
    if "name" in doc:
        if not isinstance(name, str):
            c.add("name", f"must be a string, got {type_name(name)}")
        elif not _SLUG.match(name):
            c.add("name", "must be a slug of a-z, 0-9, '_' and '-' (at most 64, starting "
                          f"with a letter or digit), got {show(name)}")
    description = doc.get("description", "")
    if description is None:
        description = ""
    if not isinstance(description, str):
        c.add("description", f"must be a string, got {type_name(description)}")

    pool = _check_pool(c, doc.get("pool"), known_series) if "pool" in doc else None
    horizon = None
    if "horizon_years" in doc:
        horizon = c.scalar(doc["horizon_years"], "horizon_years", 0, MAX_HORIZON_YEARS,
                           lo_open=True)
        if horizon is not None and abs(horizon * 4 - round(horizon * 4)) > 1e-9:
            c.add("horizon_years",
                  f"must be a whole number of quarters (a multiple of 0.25), got {fmt(horizon)}")
            horizon = None

    allocations: dict[str, Param] = {}
    if "allocations" in doc:
        allocations = c.asset_map(doc["allocations"], "allocations", known_assets, 0, 1)
        if isinstance(doc["allocations"], dict) and not doc["allocations"]:
            c.add("allocations", "must name at least one asset or class")
        total = sum(high(v) for v in allocations.values())
        if total > 1 + 1e-12:
            c.add("allocations", f"weights sum to {fmt(total)} at their high values, above 1")

    adoption = _check_adoption(c, doc.get("adoption")) if "adoption" in doc else None
    impact = _check_impact(c, doc.get("impact", {}), known_assets)
    returns = c.asset_map(doc.get("returns", {}), "returns", known_assets, -1, MAX_RETURN, True)
    uncertainty = _check_uncertainty(c, doc.get("uncertainty", {}))
    sensitivity = _check_sensitivity(c, doc.get("sensitivity", {}))
    start = _check_start(c, doc["start"], today) if "start" in doc else None

    if horizon is not None and uncertainty.draws * round(horizon * 4) > MAX_DRAW_QUARTERS:
        c.add("uncertainty.draws",
              f"draws x quarters must be at most {MAX_DRAW_QUARTERS} to fit in memory, "
              f"got {uncertainty.draws} x {round(horizon * 4)}")
    if c.problems:
        return None, c.problems
    assert pool is not None and adoption is not None and horizon is not None
    assert isinstance(name, str) and isinstance(description, str)
    return (
        Scenario(
            name=name,
            description=description.strip(),
            pool=pool,
            horizon_years=horizon,
            allocations=allocations,
            adoption=adoption,
            impact=impact,
            returns=returns,
            uncertainty=uncertainty,
            sensitivity=sensitivity,
            start=start,
            file=file,
        ),
        [],
    )


def _check_pool(c: Checker, doc: Any, known_series: set[str] | None) -> PoolSpec | None:
    doc = c.mapping(doc, "pool")
    if doc is None:
        return None
    n = len(c.problems)
    c.keys(doc, "pool", ("series", "base_usd", "growth_rate", "net_contribution_rate"))
    series = doc.get("series")
    if "series" in doc and (not isinstance(series, str) or not series):
        what = {"": "an empty string", None: "null"}.get(series) if isinstance(
            series, str | None) else f"{type_name(series)} {show(series)}"
        c.add("pool.series", f"must be the name of a series, got {what}")
        series = None
    if "series" not in doc and "base_usd" not in doc:
        c.add("pool", "needs `series` or `base_usd`")
    if series is not None and known_series is not None and series not in known_series:
        known = ", ".join(sorted(known_series)) or "none"
        c.add("pool.series", f"series {show(series)} is not in the warehouse (known: {known})")
    base = (
        c.param(doc["base_usd"], "pool.base_usd", 0, MAX_USD, True)
        if "base_usd" in doc else None
    )
    growth = (
        c.param(doc["growth_rate"], "pool.growth_rate", -1, 1, True)
        if "growth_rate" in doc else None
    )
    ncr = (
        c.param(doc["net_contribution_rate"], "pool.net_contribution_rate", -1, 1, True)
        if "net_contribution_rate" in doc else None
    )
    if len(c.problems) > n:
        return None
    return PoolSpec(series, base, growth, ncr)


def _check_adoption(c: Checker, doc: Any) -> AdoptionSpec | None:
    doc = c.mapping(doc, "adoption")
    if doc is None:
        return None
    curve = doc.get("curve")
    if "curve" not in doc:
        c.add("adoption.curve", "required key missing")
    elif not isinstance(curve, str) or curve not in CURVE_PARAMS:
        c.add("adoption.curve", f"unknown curve {show(curve)} "
                                f"(expected one of: {', '.join(CURVE_PARAMS)})")
        curve = None
    params: dict[str, Param] = {}
    own = CURVE_PARAMS.get(curve, ()) if isinstance(curve, str) else ()
    all_params = {p for ps in CURVE_PARAMS.values() for p in ps}
    for k in doc:
        if k in ("curve", "plan_share", "uptake"):
            continue
        path = f"adoption.{k}"
        if k in all_params and curve in CURVE_PARAMS and k not in own:
            expects = ", ".join(own) or "no parameters"
            c.add(path, f"not a parameter of curve {curve!r} (it takes: {expects})")
        elif k not in all_params:
            allowed = ", ".join(["curve", "plan_share", "uptake", *sorted(all_params)])
            c.add(path, f"unknown key (expected one of: {allowed})")
        else:
            lo, hi = _CURVE_BOUNDS[k]
            p = c.param(doc[k], path, lo, hi, lo_open=k not in ("midpoint_years",))
            if p is not None:
                params[k] = p
    plan = c.param(doc.get("plan_share", 1.0), "adoption.plan_share", 0, 1)
    uptake = c.param(doc.get("uptake", 1.0), "adoption.uptake", 0, 1)
    if not isinstance(curve, str) or curve not in CURVE_PARAMS or plan is None \
            or uptake is None:
        return None
    return AdoptionSpec(curve, plan, uptake, params)


def _check_impact(c: Checker, doc: Any, known_assets: set[str] | None) -> ImpactSpec:
    doc = c.mapping(doc, "impact")
    if doc is None:
        return ImpactSpec()
    c.keys(doc, "impact", ("multiplier", "execution_constant", "market"))
    mult = c.asset_map(
        doc.get("multiplier", {}), "impact.multiplier", known_assets, 0, MAX_MULTIPLIER, True,
        "log_triangular",
    )
    for name in list(mult):
        if ASSET_CLASS.get(name) == "private_markets" or name == "private_markets":
            c.add(f"impact.multiplier.{name}", "appraisal-priced: no market price to move")
    y = None
    if "execution_constant" in doc:
        y = c.param(doc["execution_constant"], "impact.execution_constant", 0,
                    MAX_EXECUTION_CONSTANT, True, "log_triangular")
    market = _check_market(c, doc["market"]) if "market" in doc else {}
    return ImpactSpec(mult, y, market)


def _check_market(c: Checker, doc: Any) -> dict[str, dict[str, float]]:
    """impact.market: per-asset overrides of price, cap, volume and volatility."""
    out: dict[str, dict[str, float]] = {}
    doc = c.mapping(doc, "impact.market")
    if doc is None:
        return out
    for name, fields in doc.items():
        path = f"impact.market.{name}"
        if name not in ASSET_CLASS:
            c.add(path, f"unknown asset {show(name)} (known: {', '.join(ASSET_CLASS)})")
            continue
        if ASSET_CLASS[name] == "private_markets":
            c.add(path, "appraisal-priced: no market state to override")
            continue
        fields = c.mapping(fields, path)
        if fields is None:
            continue
        if not fields:
            c.add(path, f"must give at least one of: {', '.join(MARKET_FIELDS)}")
            continue
        c.keys(fields, path, MARKET_FIELDS)
        got: dict[str, float] = {}
        for key, (lo, hi) in MARKET_FIELDS.items():
            if key in fields:
                x = c.scalar(fields[key], f"{path}.{key}", lo, hi, lo_open=True,
                             hi_open=key == "annual_volatility")
                if x is not None:
                    got[key] = x
        out[str(name)] = got
    return out


def _check_uncertainty(c: Checker, doc: Any) -> UncertaintySpec:
    doc = c.mapping(doc, "uncertainty")
    if doc is None:
        return UncertaintySpec()
    c.keys(doc, "uncertainty", ("draws", "seed"))
    draws = c.scalar(doc.get("draws", 0), "uncertainty.draws", 0, MAX_DRAWS, integer=True)
    seed = c.scalar(doc.get("seed", 0), "uncertainty.seed", 0, 2**63 - 1, integer=True)
    return UncertaintySpec(int(draws or 0), int(seed or 0))


def _check_sensitivity(c: Checker, doc: Any) -> SensitivitySpec:
    doc = c.mapping(doc, "sensitivity")
    if doc is None:
        return SensitivitySpec()
    c.keys(doc, "sensitivity", ("allocation_scale", "uptake"))
    out: dict[str, tuple[float, ...] | None] = {}
    for k, hi in (("allocation_scale", 1000.0), ("uptake", 1.0)):
        if k not in doc:
            out[k] = None
            continue
        values = doc[k]
        if not isinstance(values, list) or not values:
            c.add(f"sensitivity.{k}", f"must be a non-empty list of numbers, "
                                      f"got {type_name(values)}")
            out[k] = None
            continue
        if len(values) > 100:
            c.add(f"sensitivity.{k}", f"must list at most 100 values, got {len(values)}")
            out[k] = None
            continue
        got = [c.scalar(v, f"sensitivity.{k}[{i}]", 0, hi) for i, v in enumerate(values)]
        out[k] = tuple(v for v in got if v is not None)
    return SensitivitySpec(out["allocation_scale"], out["uptake"])


def _check_start(c: Checker, value: Any, today: date | None = None) -> date | None:
    """A calendar date (no time of day) in [EARLIEST_START, today + START_YEARS_AHEAD]."""
    if isinstance(value, BadDate):
        c.add("start", f"{show(str(value))} is not a calendar date")
        return None
    if isinstance(value, datetime):
        c.add("start", f"must be a date without a time of day (YYYY-MM-DD), got {value}")
        return None
    got: date | None = value if isinstance(value, date) else None
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            got = date.fromisoformat(value.strip())
        except ValueError:
            c.add("start", f"{show(value)} is not a calendar date")
            return None
    if got is None:
        c.add("start", f"must be a date (YYYY-MM-DD), got {type_name(value)} {show(value)}")
        return None
    last = latest_start(today)
    if not EARLIEST_START <= got <= last:
        c.add("start", f"must be between {EARLIEST_START} and {last} (10 years from today), "
                       f"got {got}")
        return None
    return got
