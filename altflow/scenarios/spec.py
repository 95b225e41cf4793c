"""Scenario files: YAML loading and validation (CONTRACT.md section 5).

Why its own module: the CLI's ``scenarios validate`` and the pipeline both need the same
checks, and every problem must name file, key path and reason so a bad file never blocks
the valid ones. Nothing here imports numpy, polars or Dagster.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from altflow.universe import ASSET_CLASS, CLASSES  # noqa: F401 (re-exported)

CURVE_PARAMS: dict[str, tuple[str, ...]] = {
    "immediate": (),
    "linear": ("ramp_years",),
    "logistic": ("midpoint_years", "steepness"),
    "bass": ("p", "q"),
}
DISTS = ("triangular", "log_triangular")
# impact.market fields with their bounds (lo exclusive, hi inclusive): positive and finite,
# below $1 quadrillion; volatility as an annual fraction in (0, 10).
MARKET_FIELDS: dict[str, tuple[float, float]] = {
    "price_usd": (0.0, 1e15),
    "market_cap_usd": (0.0, 1e15),
    "daily_volume_usd": (0.0, 1e15),
    "annual_volatility": (0.0, 10.0),
}
MAX_DRAWS = 1_000_000
MAX_DRAW_QUARTERS = 4_000_000  # draws x quarters: keeps each (D, Q, A) array under ~320 MB
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
DOC = "(document)"


class Problem(NamedTuple):
    """One thing wrong with a scenario file."""

    file: str
    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.reason}"


class ScenarioError(Exception):
    """Raised when a scenario file is invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Range:
    """An uncertain parameter: drawn between low and high with mode central."""

    low: float
    central: float
    high: float
    dist: str = "triangular"


Param = float | Range


def central(value: Param) -> float:
    """The central value of a scalar or a range."""
    return value.central if isinstance(value, Range) else float(value)


def high(value: Param) -> float:
    return value.high if isinstance(value, Range) else float(value)


@dataclass(frozen=True)
class PoolSpec:
    series: str | None = None
    base_usd: Param | None = None
    growth_rate: Param | None = None
    net_contribution_rate: Param | None = None


@dataclass(frozen=True)
class AdoptionSpec:
    curve: str
    plan_share: Param = 1.0
    uptake: Param = 1.0
    params: dict[str, Param] = field(default_factory=dict)


@dataclass(frozen=True)
class ImpactSpec:
    multiplier: dict[str, Param] = field(default_factory=dict)
    execution_constant: Param | None = None
    # Per-asset overrides of the market state at the base date: asset -> {field: value},
    # fields from MARKET_FIELDS (only those the file gives).
    market: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class UncertaintySpec:
    draws: int = 0
    seed: int = 0


@dataclass(frozen=True)
class SensitivitySpec:
    allocation_scale: tuple[float, ...] | None = None
    uptake: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Scenario:
    """A validated scenario file."""

    name: str
    description: str
    pool: PoolSpec
    horizon_years: float
    allocations: dict[str, Param]
    adoption: AdoptionSpec
    impact: ImpactSpec = field(default_factory=ImpactSpec)
    returns: dict[str, Param] = field(default_factory=dict)
    uncertainty: UncertaintySpec = field(default_factory=UncertaintySpec)
    sensitivity: SensitivitySpec = field(default_factory=SensitivitySpec)
    start: date | None = None
    file: str = ""

    @property
    def quarters(self) -> int:
        return round(self.horizon_years * 4)


# --- YAML: YAML 1.2 floats (1e6, 12.2e12) and duplicate-key detection ----------------------

class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int):
        super().__init__(key)
        self.key, self.line = key, line


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads `12.2e12` as a float (PyYAML's YAML 1.1 reads it as text)."""


_FLOAT_TAG = "tag:yaml.org,2002:float"
_Loader.yaml_implicit_resolvers = {
    ch: [r for r in resolvers if r[0] != _FLOAT_TAG]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _FLOAT_TAG,
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, Mapping | list):
            continue
        if key in seen:
            raise _DuplicateKey(str(key), key_node.start_mark.line + 1)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml(text: str) -> Any:
    """Parse YAML with the scenario loader (raises yaml.YAMLError or _DuplicateKey)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


# --- validation -----------------------------------------------------------------------------

def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, date):
        return "date"
    return type(value).__name__


def _fmt(x: float) -> str:
    """Numbers in messages: whole numbers without exponent, others to 12 digits."""
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.12g}"


class _Checker:
    """Collects problems for one file while converting its document into a Scenario."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []

    def add(self, key: str, reason: str) -> None:
        self.problems.append(Problem(self.file, key, reason))

    def mapping(self, value: Any, key: str) -> dict | None:
        if isinstance(value, dict):
            return value
        self.add(key, f"must be a mapping, got {_type_name(value)}")
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
    ) -> float | None:
        """A plain number within bounds, or None after recording the problem."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            kind = "a whole number" if integer else "a number"
            self.add(key, f"must be {kind}, got {_type_name(value)} {value!r}")
            return None
        x = float(value)
        if math.isnan(x) or math.isinf(x):
            self.add(key, f"must be a finite number, got {value!r}")
            return None
        if integer and x != int(x):
            self.add(key, f"must be a whole number, got {_fmt(x)}")
            return None
        if lo is not None and hi is not None and not lo_open and not lo <= x <= hi:
            self.add(key, f"must be between {_fmt(lo)} and {_fmt(hi)}, got {_fmt(x)}")
            return None
        if lo is not None and (x <= lo if lo_open else x < lo):
            self.add(key, f"must be {'above' if lo_open else 'at least'} {_fmt(lo)}, "
                          f"got {_fmt(x)}")
            return None
        if hi is not None and x > hi:
            self.add(key, f"must be at most {_fmt(hi)}, got {_fmt(x)}")
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
        if chosen not in DISTS:
            self.add(f"{key}.dist", f"unknown distribution {chosen!r} "
                                    f"(expected one of: {', '.join(DISTS)})")
        if len(self.problems) > n:
            return None
        a, c, b = parts["low"], parts["central"], parts["high"]
        if not a <= c <= b:
            self.add(key, f"needs low <= central <= high, got {_fmt(a)}, {_fmt(c)}, {_fmt(b)}")
            return None
        if chosen == "log_triangular" and a <= 0:
            self.add(f"{key}.low", f"must be above 0 for log_triangular, got {_fmt(a)}")
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
                self.add(path, f"unknown asset or class {name!r} (known: {known})")
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


_TOP = (
    "name", "description", "pool", "horizon_years", "allocations", "adoption", "impact",
    "returns", "uncertainty", "sensitivity", "start",
)
_REQUIRED = ("name", "pool", "horizon_years", "allocations", "adoption")


def _check_document(
    doc: Any,
    file: str,
    known_series: set[str] | None,
    known_assets: set[str] | None,
) -> tuple[Scenario | None, list[Problem]]:
    c = _Checker(file)
    if not isinstance(doc, dict):
        c.add(DOC, f"must be a mapping of keys, got {_type_name(doc)}")
        return None, c.problems
    c.keys(doc, "", _TOP, _REQUIRED)

    name = doc.get("name")
    if "name" in doc:
        if not isinstance(name, str):
            c.add("name", f"must be a string, got {_type_name(name)}")
        elif not _SLUG.match(name):
            c.add("name", "must be a slug of a-z, 0-9, '_' and '-' (at most 64, starting "
                          f"with a letter or digit), got {name!r}")
    description = doc.get("description", "")
    if not isinstance(description, str):
        c.add("description", f"must be a string, got {_type_name(description)}")

    pool = _check_pool(c, doc.get("pool"), known_series) if "pool" in doc else None
    horizon = None
    if "horizon_years" in doc:
        horizon = c.scalar(doc["horizon_years"], "horizon_years", 0, 50, lo_open=True)
        if horizon is not None and abs(horizon * 4 - round(horizon * 4)) > 1e-9:
            c.add("horizon_years",
                  f"must be a whole number of quarters (a multiple of 0.25), got {_fmt(horizon)}")
            horizon = None

    allocations: dict[str, Param] = {}
    if "allocations" in doc:
        allocations = c.asset_map(doc["allocations"], "allocations", known_assets, 0, 1)
        if isinstance(doc["allocations"], dict) and not doc["allocations"]:
            c.add("allocations", "must name at least one asset or class")
        total = sum(high(v) for v in allocations.values())
        if total > 1 + 1e-12:
            c.add("allocations", f"weights sum to {_fmt(total)} at their high values, above 1")

    adoption = _check_adoption(c, doc.get("adoption")) if "adoption" in doc else None
    impact = _check_impact(c, doc.get("impact", {}), known_assets)
    returns = c.asset_map(doc.get("returns", {}), "returns", known_assets, -1, None, True)
    uncertainty = _check_uncertainty(c, doc.get("uncertainty", {}))
    sensitivity = _check_sensitivity(c, doc.get("sensitivity", {}))
    start = _check_start(c, doc["start"]) if "start" in doc else None

    if horizon is not None and uncertainty.draws * round(horizon * 4) > MAX_DRAW_QUARTERS:
        c.add("uncertainty.draws",
              f"draws x quarters must be at most {MAX_DRAW_QUARTERS} to fit in memory, "
              f"got {uncertainty.draws} x {round(horizon * 4)}")
    if c.problems:
        return None, c.problems
    assert pool is not None and adoption is not None and horizon is not None
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


def _check_pool(c: _Checker, doc: Any, known_series: set[str] | None) -> PoolSpec | None:
    doc = c.mapping(doc, "pool")
    if doc is None:
        return None
    c.keys(doc, "pool", ("series", "base_usd", "growth_rate", "net_contribution_rate"))
    series = doc.get("series")
    if series is not None and not isinstance(series, str):
        c.add("pool.series", f"must be a string, got {_type_name(series)}")
        series = None
    if "series" not in doc and "base_usd" not in doc:
        c.add("pool", "needs `series` or `base_usd`")
    if series is not None and known_series is not None and series not in known_series:
        known = ", ".join(sorted(known_series)) or "none"
        c.add("pool.series", f"series {series!r} is not in the warehouse (known: {known})")
    base = c.param(doc["base_usd"], "pool.base_usd", 0, None, True) if "base_usd" in doc else None
    growth = (
        c.param(doc["growth_rate"], "pool.growth_rate", -1, 1, True)
        if "growth_rate" in doc else None
    )
    ncr = (
        c.param(doc["net_contribution_rate"], "pool.net_contribution_rate", -1, 1, True)
        if "net_contribution_rate" in doc else None
    )
    return PoolSpec(series, base, growth, ncr)


_CURVE_BOUNDS: dict[str, tuple[float, float | None]] = {
    "ramp_years": (0.0, 100.0),
    "midpoint_years": (-100.0, 100.0),
    "steepness": (0.0, 50.0),
    "p": (0.0, 1.0),
    "q": (0.0, 10.0),
}


def _check_adoption(c: _Checker, doc: Any) -> AdoptionSpec | None:
    doc = c.mapping(doc, "adoption")
    if doc is None:
        return None
    curve = doc.get("curve")
    if "curve" not in doc:
        c.add("adoption.curve", "required key missing")
    elif curve not in CURVE_PARAMS:
        c.add("adoption.curve", f"unknown curve {curve!r} "
                                f"(expected one of: {', '.join(CURVE_PARAMS)})")
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
    if curve not in CURVE_PARAMS or plan is None or uptake is None:
        return None
    return AdoptionSpec(curve, plan, uptake, params)


def _check_impact(c: _Checker, doc: Any, known_assets: set[str] | None) -> ImpactSpec:
    doc = c.mapping(doc, "impact")
    if doc is None:
        return ImpactSpec()
    c.keys(doc, "impact", ("multiplier", "execution_constant", "market"))
    mult = c.asset_map(
        doc.get("multiplier", {}), "impact.multiplier", known_assets, 0, None, True,
        "log_triangular",
    )
    for name in list(mult):
        if ASSET_CLASS.get(name) == "private_markets" or name == "private_markets":
            c.add(f"impact.multiplier.{name}", "appraisal-priced: no market price to move")
    y = None
    if "execution_constant" in doc:
        y = c.param(doc["execution_constant"], "impact.execution_constant", 0, None, True,
                    "log_triangular")
    market = _check_market(c, doc["market"]) if "market" in doc else {}
    return ImpactSpec(mult, y, market)


def _check_market(c: _Checker, doc: Any) -> dict[str, dict[str, float]]:
    """impact.market: per-asset overrides of price, cap, volume and volatility."""
    out: dict[str, dict[str, float]] = {}
    doc = c.mapping(doc, "impact.market")
    if doc is None:
        return out
    for name, fields in doc.items():
        path = f"impact.market.{name}"
        if name not in ASSET_CLASS:
            c.add(path, f"unknown asset {str(name)[:40]!r} (known: {', '.join(ASSET_CLASS)})")
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
                x = c.scalar(fields[key], f"{path}.{key}", lo, hi, lo_open=True)
                if x is not None:
                    got[key] = x
        out[str(name)] = got
    return out


def _check_uncertainty(c: _Checker, doc: Any) -> UncertaintySpec:
    doc = c.mapping(doc, "uncertainty")
    if doc is None:
        return UncertaintySpec()
    c.keys(doc, "uncertainty", ("draws", "seed"))
    draws = c.scalar(doc.get("draws", 0), "uncertainty.draws", 0, MAX_DRAWS, integer=True)
    seed = c.scalar(doc.get("seed", 0), "uncertainty.seed", 0, 2**63 - 1, integer=True)
    return UncertaintySpec(int(draws or 0), int(seed or 0))


def _check_sensitivity(c: _Checker, doc: Any) -> SensitivitySpec:
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
                                      f"got {_type_name(values)}")
            out[k] = None
            continue
        got = [c.scalar(v, f"sensitivity.{k}[{i}]", 0, hi) for i, v in enumerate(values)]
        out[k] = tuple(v for v in got if v is not None)
    return SensitivitySpec(out["allocation_scale"], out["uptake"])


def _check_start(c: _Checker, value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    c.add("start", f"must be a date (YYYY-MM-DD), got {_type_name(value)} {value!r}")
    return None


# --- public entry points ----------------------------------------------------------------------

def check_text(
    text: str,
    file: str,
    known_series: set[str] | None = None,
    known_assets: set[str] | None = None,
) -> tuple[Scenario | None, list[Problem]]:
    """Validate scenario YAML text; returns the scenario or the problems, never raises."""
    try:
        doc = parse_yaml(text)
    except _DuplicateKey as e:
        return None, [Problem(file, e.key, f"duplicate key (line {e.line})")]
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        what = getattr(e, "problem", None) or str(e).splitlines()[0]
        return None, [Problem(file, DOC, f"not valid YAML{where}: {what}")]
    return _check_document(doc, file, known_series, known_assets)


def _read(path: str | Path, known_series, known_assets) -> tuple[Scenario | None, list[Problem]]:
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Problem(file, DOC, "file not found")]
    except (OSError, UnicodeDecodeError) as e:
        return None, [Problem(file, DOC, f"cannot read file: {e}")]
    return check_text(text, file, known_series, known_assets)


def load_scenario(
    path: str | Path,
    known_series: set[str] | None = None,
    known_assets: set[str] | None = None,
) -> Scenario:
    """Load and validate one file; raises ScenarioError listing every problem."""
    scenario, problems = _read(path, known_series, known_assets)
    if problems or scenario is None:
        raise ScenarioError(problems)
    return scenario


def load_scenarios(
    paths: Iterable[str | Path],
    known_series: set[str] | None = None,
    known_assets: set[str] | None = None,
) -> tuple[list[Scenario], list[Problem]]:
    """Load many files: the valid scenarios and the problems of the others.

    A name used by two files is a problem of the later file; the first one stays valid.
    """
    scenarios: list[Scenario] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for path in paths:
        scenario, found = _read(path, known_series, known_assets)
        if scenario is not None and scenario.name in seen:
            found = [Problem(str(path), "name",
                             f"duplicate scenario name {scenario.name!r} "
                             f"(also in {seen[scenario.name]})")]
            scenario = None
        problems.extend(found)
        if scenario is not None:
            seen[scenario.name] = str(path)
            scenarios.append(scenario)
    return scenarios, problems


def validate_files(
    paths: Iterable[str | Path],
    known_series: set[str] | None = None,
    known_assets: set[str] | None = None,
) -> list[Problem]:
    """Every problem of every file (empty when all are valid)."""
    return load_scenarios(paths, known_series, known_assets)[1]


def scenario_files(folder: str | Path) -> list[Path]:
    """The scenario files of a folder (*.yaml and *.yml, sorted)."""
    folder = Path(folder)
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
