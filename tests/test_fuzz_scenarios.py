"""Scenario files never crash: fuzzed and named bad inputs, validate == run (issue 12).

For every file: `validate` either accepts it or returns one-line problems of at most 300
characters (never an exception, never the validator's internal-error fallback); and a file
that validate accepts on the fixture warehouse runs through the engine without raising.

Two parts:
- NAMED: the cases found by hand (impossible dates, 400-digit integers, list-valued curves,
  `!!set` keys, Python tags, datetimes, far starts, null series, base_usd without start,
  NaN/inf, alias bombs, huge files, ...), each with the message it must give;
- a hypothesis property test mutating the shipped scenarios (derandomized, so CI repeats
  the same examples) with wrong types, odd scalars, deleted and unknown keys, and text cuts.

Counts of the last full run are in docs/reliability.md.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from altflow.scenarios import MarketInput, PoolInput, check_text, run_scenario
from altflow.scenarios.batch import run_folder
from altflow.scenarios.files import INTERNAL
from altflow.scenarios.inputs import MarketHistory, PoolHistory, WarehouseInputs
from altflow.scenarios.preflight import check_runnable
from altflow.scenarios.spec import MAX_LINE, UncertaintySpec, parse_yaml

SHIPPED = Path(__file__).resolve().parents[1] / "scenarios"
SHIPPED_FILES = sorted(SHIPPED.glob("*.yaml"))
MAX_FUZZ_DRAWS = 200  # the Monte Carlo size does not change the code path; keeps runs fast


# --- a small deterministic warehouse ------------------------------------------------------------

def _history(asset: str, cls: str, first: int, cap: float, vol: float | None,
             price: float | None, **extra: float) -> list[MarketInput]:
    """Yearly mid-year states from `first` to 2025, plus 2025-08-15 (the Bitwise date)."""
    days = [date(y, 6, 30) for y in range(first, 2026)] + [date(2025, 8, 15)]
    return [
        MarketInput(asset, cls, cap if cls != "private_markets" else None,
                    cap * 0.02 if cls != "private_markets" else None, vol,
                    note=None, price_usd=price, as_of=d, source="fixture", **extra)
        for d in days
    ]


def fixture_inputs() -> WarehouseInputs:
    rows = {
        "gold": _history("gold", "precious_metals", 1989, 20e12, 0.15, 3300.0),
        "silver": _history("silver", "precious_metals", 1989, 2e12, 0.28, 38.0),
        "bitcoin": _history("bitcoin", "crypto", 2013, 2.3e12, 0.50, 117000.0),
        "ether": _history("ether", "crypto", 2016, 0.5e12, 0.70, 4300.0),
        "private_equity": _history("private_equity", "private_markets", 2010, 0, None, None,
                                   aum_usd=4.7e12, annual_fundraising_usd=0.6e12,
                                   dry_powder_usd=1.2e12),
        "private_credit": _history("private_credit", "private_markets", 2010, 0, None, None,
                                   aum_usd=1.7e12, annual_fundraising_usd=0.2e12,
                                   dry_powder_usd=0.4e12),
    }
    extra = {"platinum": MarketInput("platinum", "precious_metals", None, None, None)}
    pool_points = tuple((date(y, 12, 31), 3e12 * 1.06 ** (y - 1995)) for y in range(1995, 2025))
    pools = {
        "dc_plans": PoolHistory("dc_plans", (*pool_points, (date(2025, 6, 30), 13e12)),
                                0.06, 0.01),
        "ira": PoolHistory("ira", ((date(2024, 12, 31), 17e12), (date(2025, 6, 30), 18e12)),
                           0.07, None),
    }
    return WarehouseInputs(pools, MarketHistory(rows, extra))


INPUTS = fixture_inputs()
SERIES, ASSETS = INPUTS.known_series, INPUTS.known_assets


class Outcome:
    """What happened to one file: accepted and ran, or rejected with its problems."""

    def __init__(self, text: str):
        t0 = time.perf_counter()
        scenario, problems = check_text(text, "fuzz.yaml", SERIES, ASSETS)
        if scenario is not None:
            problems = check_runnable(scenario, INPUTS)  # validate == run (the CLI's validate)
        self.seconds = time.perf_counter() - t0
        self.problems = problems
        self.lines = [str(p) for p in problems]
        self.scenario = scenario if not problems else None

    def check(self) -> None:
        """The two properties: one-line problems, and accepted files run."""
        for line in self.lines:
            assert INTERNAL not in line, line
            assert "\n" not in line and "\r" not in line, line
            assert len(line) <= MAX_LINE, line
        if self.scenario is not None:
            draws = min(self.scenario.uncertainty.draws, MAX_FUZZ_DRAWS)
            sc = replace(self.scenario,
                         uncertainty=UncertaintySpec(draws, self.scenario.uncertainty.seed))
            result = run_scenario(sc, INPUTS.pool_for(sc), INPUTS.markets)  # must not raise
            assert result.flows.height > 0


# --- named cases ----------------------------------------------------------------------------------

BASE = """\
name: ok
pool: {series: dc_plans}
horizon_years: 5
allocations: {gold: 0.01}
adoption: {curve: immediate}
"""
FIXED = BASE.replace("{series: dc_plans}", "{base_usd: 12.2e12, growth_rate: 0}")


def _bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return BASE + "\n".join(lines) + "\n"


def _merge_bomb(levels: int = 40) -> str:
    lines = ["m0: &m0 {x: 1, y: 2}"]
    for i in range(1, levels):
        lines.append(f"m{i}: &m{i} {{<<: [*m{i - 1}], l{i}: [*m{i - 1}, *m{i - 1}]}}")
    return BASE + "\n".join(lines) + "\n"


# (id, text, expected: None = accepted and runs; else (key, reason substring) of the 1st problem)
NAMED = [
    ("date-out-of-range", BASE + "start: 2025-02-30\n",
     ("start", "'2025-02-30' is not a calendar date")),
    ("date-out-of-range-text", BASE + "start: '2025-13-01'\n",
     ("start", "'2025-13-01' is not a calendar date")),
    ("date-in-another-field", BASE.replace("horizon_years: 5", "horizon_years: 2025-02-30"),
     ("horizon_years", "must be a number, got date '2025-02-30'")),
    ("400-digit-integer", BASE.replace("horizon_years: 5", "horizon_years: " + "9" * 400),
     ("horizon_years", "written in at most 100 characters, got one of 400")),
    ("400-digit-seed", BASE + "uncertainty: {seed: " + "7" * 400 + "}\n",
     ("uncertainty.seed", "at most 100 characters")),
    ("99-digit-integer", BASE.replace("{gold: 0.01}", "{gold: " + "9" * 99 + "}"),
     ("allocations.gold", "must be between 0 and 1, got 1e+99")),
    ("5000-digit-integer", BASE.replace("horizon_years: 5", "horizon_years: " + "1" * 5000),
     ("horizon_years", "at most 100 characters")),
    ("curve-as-list", BASE.replace("{curve: immediate}", "{curve: [logistic]}"),
     ("adoption.curve", "unknown curve ['logistic']")),
    ("curve-as-mapping", BASE.replace("{curve: immediate}", "{curve: {logistic: 1}}"),
     ("adoption.curve", "unknown curve {'logistic': 1}")),
    ("set-as-key", BASE + "? !!set {a, b}\n: 1\n",
     ("(document)", "a mapping key must be plain text, got a mapping")),
    ("set-key-in-allocations", BASE.replace("{gold: 0.01}", "{? !!set {gold}: 0.01}"),
     ("(document)", "a mapping key must be plain text")),
    ("list-as-key", BASE + "? [a, b]\n: 1\n",
     ("(document)", "a mapping key must be plain text, got a list")),
    ("set-as-value", BASE.replace("{gold: 0.01}", "!!set {gold}"),
     ("allocations", "must be a mapping, got set")),
    ("python-object-tag", BASE + "x: !!python/object/apply:os.system ['echo owned']\n",
     ("(document)", "could not determine a constructor for the tag")),
    ("python-name-tag", BASE.replace("horizon_years: 5", "horizon_years: !!python/name:os.getcwd"),
     ("(document)", "could not determine a constructor")),
    ("custom-tag", BASE.replace("horizon_years: 5", "horizon_years: !years 5"),
     ("(document)", "could not determine a constructor for the tag '!years'")),
    ("datetime-for-date", BASE + "start: 2025-03-31 12:00:00\n",
     ("start", "must be a date without a time of day")),
    ("datetime-iso-for-date", BASE + "start: 2025-03-31T00:00:00Z\n",
     ("start", "must be a date without a time of day")),
    ("start-9999", BASE + "start: 9999-06-30\n", ("start", "must be between 1990-01-01 and")),
    ("start-1900", BASE + "start: 1900-03-31\n", ("start", "must be between 1990-01-01 and")),
    ("start-before-series", BASE + "start: 1990-03-31\n",
     ("pool.series", "no value of series 'dc_plans' on or before the base date 1990-03-31")),
    ("start-before-bitcoin", FIXED.replace("{gold: 0.01}", "{bitcoin: 0.01}")
     + "start: 2005-03-31\n",
     ("allocations.bitcoin", "no market data for asset 'bitcoin' on or before the base date")),
    ("pool-series-null", BASE.replace("{series: dc_plans}", "{series: null}"),
     ("pool.series", "must be the name of a series, got null")),
    ("pool-series-empty", BASE.replace("{series: dc_plans}", "{series: ''}"),
     ("pool.series", "got an empty string")),
    ("pool-series-list", BASE.replace("{series: dc_plans}", "{series: [dc_plans]}"),
     ("pool.series", "must be the name of a series, got list")),
    ("pool-null", BASE.replace("{series: dc_plans}", "null"), ("pool", "must be a mapping")),
    ("base-usd-without-start", FIXED, None),
    ("base-usd-range-without-start",
     BASE.replace("{series: dc_plans}", "{base_usd: {low: 1e12, central: 2e12, high: 3e12}}")
     + "uncertainty: {draws: 50, seed: 1}\n", None),
    ("base-usd-1e308", BASE.replace("{series: dc_plans}", "{base_usd: 1e308}"),
     ("pool.base_usd", "must be at most 1e+15, got 1e+308")),
    ("base-usd-above-quadrillion", BASE.replace("{series: dc_plans}", "{base_usd: 1.5e15}"),
     ("pool.base_usd", "must be at most 1e+15")),
    ("base-usd-nan", BASE.replace("{series: dc_plans}", "{base_usd: .nan}"),
     ("pool.base_usd", "must be a finite number, got nan")),
    ("base-usd-inf", BASE.replace("{series: dc_plans}", "{base_usd: .inf}"),
     ("pool.base_usd", "must be a finite number, got inf")),
    ("base-usd-1e400", BASE.replace("{series: dc_plans}", "{base_usd: 1e400}"),
     ("pool.base_usd", "must be a finite number, got inf")),
    ("allocation-nan", BASE.replace("{gold: 0.01}", "{gold: .NaN}"),
     ("allocations.gold", "must be a finite number")),
    ("range-with-inf", BASE.replace("{gold: 0.01}", "{gold: {low: 0, central: 0.01, high: .inf}}"),
     ("allocations.gold.high", "must be a finite number, got inf")),
    ("horizon-51-years", BASE.replace("horizon_years: 5", "horizon_years: 51"),
     ("horizon_years", "must be at most 50, got 51")),
    ("horizon-50-years", BASE.replace("horizon_years: 5", "horizon_years: 50"), None),
    ("return-1e6", BASE + "returns: {gold: 1e6}\n", ("returns.gold", "must be at most 10")),
    ("multiplier-1e300", BASE + "impact: {multiplier: {gold: 1e300}}\n",
     ("impact.multiplier.gold", "must be at most 1000")),
    ("market-override-bad", BASE + "impact: {market: {gold: {price_usd: -5}}}\n",
     ("impact.market.gold.price_usd", "must be above 0, got -5")),
    ("market-override-vol-10", BASE + "impact: {market: {gold: {annual_volatility: 10}}}\n",
     ("impact.market.gold.annual_volatility", "must be below 10, got 10")),
    ("market-override-ok", BASE.replace("{gold: 0.01}", "{bitcoin: 0.01}")
     + "impact: {market: {bitcoin: {price_usd: 119018, market_cap_usd: 2.368e12}}}\n", None),
    ("market-override-unknown-asset", BASE + "impact: {market: {doge: {price_usd: 1}}}\n",
     ("impact.market.doge", "unknown asset 'doge'")),
    ("alias-bomb", _bomb(), ("(document)", "more than 50,000 values once aliases are expanded")),
    ("merge-key-bomb", _merge_bomb(), ("(document)", "more than 50,000 values")),
    ("recursive-alias", BASE + "loop: &l [*l]\n",
     ("(document)", "an alias refers to a value that contains it")),
    ("undefined-alias", BASE.replace("{gold: 0.01}", "*nowhere"),
     ("(document)", "found undefined alias 'nowhere'")),
    ("nested-5000-deep", BASE + "deep: " + "[" * 5000 + "]" * 5000 + "\n",
     ("(document)", "nested deeper than 20 levels")),
    ("huge-file", BASE + "description: " + "x" * 2_000_000 + "\n",
     ("(document)", "above the 1,000,000 allowed")),
    ("huge-key", BASE + "k" * 100_000 + ": 1\n", ("(document)", "could not find expected ':'")),
    ("long-key", BASE + "k" * 1000 + ": 1\n", ("k" * 119 + "…", "unknown key")),
    ("newline-in-key", BASE + '"a\\nb": 1\n', ("a\\nb", "unknown key")),
    ("control-chars", BASE.replace("name: ok", 'name: "o\\x1bk"'), ("name", "must be a slug")),
    ("yaml11-boolean-key", BASE + "on: 1\n", ("on", "unknown key")),
    ("duplicate-key", BASE + "horizon_years: 6\n", ("horizon_years", "duplicate key (line 6)")),
    ("two-documents", BASE + "---\n" + BASE, ("(document)", "but found another document")),
    ("empty-file", "", ("(document)", "must be a mapping of keys, got null")),
    ("tab-indent", BASE + "impact:\n\tmultiplier: {}\n", ("(document)", "not valid YAML")),
    ("binary-value", BASE.replace("{gold: 0.01}", "!!binary aGVsbG8="),
     ("allocations", "must be a mapping, got bytes")),
    ("bad-int-tag", BASE.replace("horizon_years: 5", "horizon_years: !!int abc"),
     ("(document)", "cannot read 'abc' as a number")),
    ("bad-float-tag", BASE.replace("horizon_years: 5", "horizon_years: !!float abc"),
     ("(document)", "cannot read 'abc' as a number")),
    ("sexagesimal", BASE.replace("horizon_years: 5", "horizon_years: 1:30"),
     ("horizon_years", "must be at most 50, got 90")),
    ("draws-too-many", BASE + "uncertainty: {draws: 1000001}\n",
     ("uncertainty.draws", "must be between 0 and 1000000")),
    ("sensitivity-1000-values", BASE + "sensitivity: {uptake: [" + ", ".join(["0.5"] * 1000)
     + "]}\n", ("sensitivity.uptake", "must list at most 100 values")),
    ("allocation-of-class", BASE.replace("{gold: 0.01}", "{private_markets: 0.01}"), None),
    ("class-without-sized-members", BASE.replace("{gold: 0.01}", "{precious_metals: 0.02}"),
     None),
    ("bass-extreme", BASE.replace("{curve: immediate}", "{curve: bass, p: 1e-300, q: 10}"),
     None),
    ("logistic-extreme", BASE.replace("{curve: immediate}",
                                      "{curve: logistic, steepness: 50, midpoint_years: -100}"),
     None),
]


@pytest.mark.parametrize(("text", "expected"), [pytest.param(t, e, id=i) for i, t, e in NAMED])
def test_named_case(text: str, expected: tuple[str, str] | None) -> None:
    outcome = Outcome(text)
    outcome.check()
    assert outcome.seconds < 2.0  # bombs and huge files fail fast
    if expected is None:
        assert outcome.lines == [], outcome.lines
        assert outcome.scenario is not None
        return
    assert outcome.problems, "expected a problem"
    key, reason = expected
    first = outcome.problems[0]
    assert (first.key, reason in first.reason) == (key, True), str(first)


def test_base_usd_without_start_uses_the_latest_market_date() -> None:
    """Contract section 5: no `start` -> base date = the latest date with market data."""
    outcome = Outcome(FIXED)
    assert outcome.scenario is not None
    result = run_scenario(outcome.scenario, None, INPUTS.markets)
    first_quarter = result.flows["period_end"].min()
    assert first_quarter == date(2025, 9, 30)  # the first quarter end after 2025-08-15


def test_shipped_scenarios_run_on_the_fixture_warehouse() -> None:
    for path in SHIPPED_FILES:
        outcome = Outcome(path.read_text())
        assert outcome.lines == [], (path.name, outcome.lines)
        outcome.check()


# --- a bad file never blocks the valid ones (marts.scenario_files) --------------------------------

def test_folder_lists_bad_files_and_builds_every_valid_one(tmp_path: Path, monkeypatch) -> None:
    for path in SHIPPED_FILES:
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "zz-bad-date.yaml").write_text(BASE.replace("ok", "bad-date")
                                               + "start: 2025-02-30\n")
    (tmp_path / "zz-bomb.yaml").write_text(_bomb().replace("name: ok", "name: bomb"))
    (tmp_path / "zz-before-series.yaml").write_text(
        BASE.replace("name: ok", "name: early") + "start: 1990-03-31\n")
    batch = run_folder(tmp_path, INPUTS)
    assert sorted(batch.scenarios) == sorted(
        yaml.safe_load(p.read_text())["name"] for p in SHIPPED_FILES)
    files = {Path(r["file"]).name: r for r in batch.files.to_dicts()}
    assert files["zz-bad-date.yaml"]["status"] == "invalid"
    assert files["zz-bad-date.yaml"]["problem"] == "start: '2025-02-30' is not a calendar date"
    assert "alias bomb" in files["zz-bomb.yaml"]["problem"]
    assert files["zz-before-series.yaml"]["problem"].startswith("(run): ")
    assert all(len(r["problem"] or "") <= MAX_LINE for r in files.values())


def test_folder_survives_an_engine_crash_in_one_file(tmp_path: Path, monkeypatch) -> None:
    import altflow.scenarios.batch as batch_module

    (tmp_path / "a.yaml").write_text(FIXED.replace("name: ok", "name: a"))
    (tmp_path / "b.yaml").write_text(FIXED.replace("name: ok", "name: b"))
    real = batch_module.run_scenario

    def flaky(scenario, *args, **kwargs):
        if scenario.name == "a":
            raise KeyError("boom")
        return real(scenario, *args, **kwargs)

    monkeypatch.setattr(batch_module, "run_scenario", flaky)
    batch = run_folder(tmp_path, INPUTS)
    assert batch.scenarios == ["b"]
    rows = {Path(r["file"]).name: r for r in batch.files.to_dicts()}
    assert rows["a.yaml"]["status"] == "invalid"
    assert rows["a.yaml"]["problem"] == "(run): KeyError: 'boom'"
    assert rows["b.yaml"]["status"] == "ok"


# --- property-based fuzzing -----------------------------------------------------------------------

SHIPPED_DOCS = [parse_yaml(p.read_text()) for p in SHIPPED_FILES]

# YAML snippets that are hard to produce from Python values (inserted as raw text).
RAW_SNIPPETS = [
    "2025-02-30", "2025-03-31 12:00:00", "2025-03-31", "9999-06-30", "1900-01-01", "1989-12-31",
    "9" * 400, "-" + "9" * 120, "1e308", "1e400", "-1e400", ".nan", ".inf", "-.inf", "0x1F",
    "0o17", "1_000", "1:30", "~", "null", "''", "[]", "{}", "[logistic]", "{low: 1}",
    "!!set {a, b}", "!!python/object:os.system {}", "!!python/name:os.getcwd", "!!binary aGk=",
    "!!float 1", "!!str 5", "!!int 7", "*nowhere", "&x 1", "{low: 0.1, central: 0.05, high: 1}",
    "{low: 0, central: 0, high: 0, dist: log_triangular}", "[" * 22 + "1" + "]" * 22,
    "\"a\\nb\"", "yes", "on", "-0", "0", "1", "-1", "0.5", "2.1", "50", "50.25", "1e15", "1.5e15",
]
PY_VALUES = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-2, max_value=2),
    st.text(max_size=30),
    st.dates(min_value=date(1800, 1, 1), max_value=date(9999, 12, 31)),
    st.lists(st.integers(-5, 5), max_size=3),
    st.dictionaries(st.sampled_from(["low", "central", "high", "dist", "x"]),
                    st.floats(-1, 2), max_size=4),
)
TWEAKS = {
    int: st.integers(0, 12),
    float: st.one_of(st.floats(0, 1), st.sampled_from([0.0, 1e-9, 0.999, 1e12, 2e13, 1e15])),
    date: st.dates(min_value=date(1990, 1, 1), max_value=date(2036, 1, 1)),
}
KEY_NAMES = st.sampled_from([
    "name", "pool", "series", "base_usd", "growth_rate", "horizon_years", "allocations", "gold",
    "bitcoin", "crypto", "private_equity", "adoption", "curve", "uptake", "plan_share",
    "midpoint_years", "steepness", "p", "q", "ramp_years", "impact", "multiplier", "market",
    "price_usd", "start", "uncertainty", "draws", "seed", "sensitivity", "colour", "",
])


def _paths(doc: object, prefix: tuple = ()) -> list[tuple]:
    """Every key path of a parsed document (mapping keys and list indexes)."""
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _set(doc: object, path: tuple, value: object) -> object:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        return {**doc, head: _set(doc.get(head), rest, value)}
    if isinstance(doc, list) and isinstance(head, int) and head < len(doc):
        return [*doc[:head], _set(doc[head], rest, value), *doc[head + 1:]]
    return doc


def _delete(doc: object, path: tuple) -> object:
    if len(path) == 1 and isinstance(doc, dict):
        return {k: v for k, v in doc.items() if k != path[0]}
    if len(path) > 1 and isinstance(doc, dict) and path[0] in doc:
        return {**doc, path[0]: _delete(doc[path[0]], path[1:])}
    return doc


def _dump(doc: object) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False)


@st.composite
def scenario_texts(draw: st.DrawFn) -> str:
    """A shipped scenario with one to four mutations, as YAML text."""
    doc = draw(st.sampled_from(SHIPPED_DOCS))
    raw: dict[str, str] = {}
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        kind = draw(st.sampled_from(["raw", "value", "delete", "add-key", "rename"]
                                    + ["tweak"] * 6))
        if kind == "tweak" and path:  # a plausible value: keeps many files valid but new
            old = _get(doc, path)
            if isinstance(old, bool) or not isinstance(old, int | float | date):
                continue
            doc = _set(doc, path, draw(TWEAKS[type(old)]))
        elif kind == "raw" and path:
            marker = f"__RAW{len(raw)}__"
            raw[marker] = draw(st.sampled_from(RAW_SNIPPETS))
            doc = _set(doc, path, marker)
        elif kind == "value" and path:
            doc = _set(doc, path, draw(PY_VALUES))
        elif kind == "delete" and path:
            doc = _delete(doc, path)
        elif kind == "add-key":
            target = path if isinstance(_get(doc, path), dict) else ()
            doc = _set(doc, (*target, draw(KEY_NAMES)), draw(PY_VALUES))
        elif kind == "rename" and path and isinstance(path[-1], str):
            parent = _get(doc, path[:-1])
            if isinstance(parent, dict):
                new = draw(KEY_NAMES)
                renamed = {new if k == path[-1] else k: v for k, v in parent.items()}
                doc = _set(doc, path[:-1], renamed)
    text = _dump(doc)
    for marker, snippet in raw.items():
        text = text.replace(f"'{marker}'", snippet).replace(marker, snippet)
    tail = draw(st.sampled_from(["none"] * 7 + ["cut", "bomb", "junk"]))
    if tail == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    elif tail == "bomb":
        text += "\n".join(_bomb(draw(st.integers(2, 9))).splitlines()[5:]) + "\n"
    elif tail == "junk":
        text += draw(st.text(max_size=40))
    return text


def _get(doc: object, path: tuple) -> object:
    for part in path:
        if isinstance(doc, dict):
            doc = doc.get(part)
        elif isinstance(doc, list) and isinstance(part, int) and part < len(doc):
            doc = doc[part]
        else:
            return None
    return doc


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenario_texts())
def test_fuzzed_scenarios_never_crash(text: str) -> None:
    Outcome(text).check()


def test_fuzz_generator_reaches_both_outcomes() -> None:
    """The generator is not degenerate: it yields accepted and rejected files."""
    seen = {"accepted": 0, "rejected": 0}

    @settings(max_examples=60, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(scenario_texts())
    def sample(text: str) -> None:
        seen["accepted" if Outcome(text).scenario is not None else "rejected"] += 1

    sample()
    assert seen["accepted"] > 0 and seen["rejected"] > 0, seen


def test_pool_input_fixture_matches_the_engine() -> None:
    """The fixture's pool as the engine sees it (guards the fixture against drift)."""
    assert INPUTS.pools["dc_plans"] == PoolInput("dc_plans", date(2025, 6, 30), 13e12, 0.06, 0.01)
