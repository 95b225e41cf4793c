"""Scenario files: loading, and every invalid case with its exact message."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from altflow.scenarios import (
    Problem,
    Range,
    ScenarioError,
    check_text,
    load_scenario,
    load_scenarios,
    scenario_files,
    validate_files,
)

SHIPPED = Path(__file__).resolve().parents[1] / "scenarios"
ALL_ASSETS = {
    "gold", "silver", "platinum", "palladium", "bitcoin", "ether",
    "private_equity", "private_credit", "real_estate", "infrastructure",
}
BASE = """\
name: ok
pool: {series: dc_plans}
horizon_years: 5
allocations: {gold: 0.01}
adoption: {curve: immediate}
"""


def problems(text: str, known_series=None, known_assets=None) -> list[tuple[str, str]]:
    scenario, found = check_text(text, "f.yaml", known_series, known_assets)
    assert (scenario is None) == bool(found)
    assert all(p.file == "f.yaml" for p in found)
    return [(p.key, p.reason) for p in found]


def test_minimal_file_loads_with_defaults() -> None:
    scenario, found = check_text(BASE, "f.yaml")
    assert found == []
    assert scenario.name == "ok"
    assert scenario.quarters == 20
    assert scenario.allocations == {"gold": 0.01}
    assert scenario.adoption.curve == "immediate"
    assert scenario.adoption.plan_share == 1.0 and scenario.adoption.uptake == 1.0
    assert scenario.uncertainty.draws == 0


def test_contract_example_loads_with_yaml12_floats_and_ranges() -> None:
    text = """\
name: tdf-sleeve-2pct
description: Target-date funds add a 2 % alternatives sleeve over five years
pool:
  series: dc_plans
  base_usd: 12.2e12
  growth_rate: 0.06
  net_contribution_rate: 0.01
horizon_years: 5
allocations:
  gold: 0.005
  bitcoin: 0.005
  private_equity: 0.01
adoption:
  curve: logistic
  plan_share: 0.4
  uptake: 0.5
  midpoint_years: 2
impact:
  multiplier:
    bitcoin: {low: 4, central: 12, high: 30}
uncertainty:
  draws: 2000
  seed: 7
start: 2025-03-31
"""
    scenario, found = check_text(text, "f.yaml", {"dc_plans"}, ALL_ASSETS)
    assert found == []
    assert scenario.pool.base_usd == 12.2e12  # PyYAML alone would read a string here
    assert scenario.impact.multiplier["bitcoin"] == Range(4, 12, 30, "log_triangular")
    assert scenario.adoption.params == {"midpoint_years": 2.0}
    assert scenario.uncertainty.draws == 2000 and scenario.uncertainty.seed == 7
    assert scenario.start == date(2025, 3, 31)


def test_problem_str_is_file_key_reason() -> None:
    problem = Problem("a.yaml", "allocations.dogecoin", "why")
    assert str(problem) == "a.yaml: allocations.dogecoin: why"


KNOWN = ", ".join([
    "gold", "silver", "platinum", "palladium", "bitcoin", "ether", "private_equity",
    "private_credit", "real_estate", "infrastructure", "precious_metals", "crypto",
    "private_markets",
])

INVALID = [
    pytest.param(
        BASE + "colour: red\n",
        [("colour", "unknown key (expected one of: name, description, pool, horizon_years, "
                    "allocations, adoption, impact, returns, uncertainty, sensitivity, start)")],
        id="unknown-key",
    ),
    pytest.param(
        BASE.replace("{gold: 0.01}", "{gold: 0.01, dogecoin: 0.01}"),
        [("allocations.dogecoin", f"unknown asset or class 'dogecoin' (known: {KNOWN})")],
        id="unknown-asset",
    ),
    pytest.param(
        BASE.replace("{curve: immediate}", "{curve: immediate, uptake: 1.5}"),
        [("adoption.uptake", "must be between 0 and 1, got 1.5")],
        id="share-above-1",
    ),
    pytest.param(
        BASE.replace("{gold: 0.01}", "{gold: -0.1}"),
        [("allocations.gold", "must be between 0 and 1, got -0.1")],
        id="share-below-0",
    ),
    pytest.param(
        BASE.replace("{curve: immediate}", "{curve: immediate, plan_share: {low: 0.5, "
                                           "central: 0.9, high: 1.2}}"),
        [("adoption.plan_share.high", "must be between 0 and 1, got 1.2")],
        id="range-bound-outside",
    ),
    pytest.param(
        BASE.replace("{gold: 0.01}", "{gold: 0.6, bitcoin: {low: 0.3, central: 0.4, high: 0.5}}"),
        [("allocations", "weights sum to 1.1 at their high values, above 1")],
        id="weights-above-1",
    ),
    pytest.param(
        BASE.replace("horizon_years: 5", "horizon_years: five"),
        [("horizon_years", "must be a number, got string 'five'")],
        id="wrong-type-string",
    ),
    pytest.param(
        BASE.replace("horizon_years: 5", "horizon_years: true"),
        [("horizon_years", "must be a number, got boolean True")],
        id="wrong-type-boolean",
    ),
    pytest.param(
        BASE.replace("allocations: {gold: 0.01}", "allocations: 0.01"),
        [("allocations", "must be a mapping, got number")],
        id="wrong-type-mapping",
    ),
    pytest.param(
        BASE.replace("name: ok\n", ""),
        [("name", "required key missing")],
        id="missing-name",
    ),
    pytest.param(
        BASE.replace("adoption: {curve: immediate}\n", ""),
        [("adoption", "required key missing")],
        id="missing-adoption",
    ),
    pytest.param(
        BASE.replace("{curve: immediate}", "{uptake: 0.5}"),
        [("adoption.curve", "required key missing")],
        id="missing-curve",
    ),
    pytest.param(
        BASE.replace("name: ok", "name: My Scenario"),
        [("name", "must be a slug of a-z, 0-9, '_' and '-' (at most 64, starting with a "
                  "letter or digit), got 'My Scenario'")],
        id="bad-slug",
    ),
    pytest.param(
        BASE.replace("horizon_years: 5", "horizon_years: 2.1"),
        [("horizon_years", "must be a whole number of quarters (a multiple of 0.25), got 2.1")],
        id="partial-quarter",
    ),
    pytest.param(
        BASE.replace("horizon_years: 5", "horizon_years: 0"),
        [("horizon_years", "must be above 0, got 0")],
        id="zero-horizon",
    ),
    pytest.param(
        BASE.replace("{curve: immediate}", "{curve: logistic, p: 0.1}"),
        [("adoption.p", "not a parameter of curve 'logistic' (it takes: midpoint_years, "
                        "steepness)")],
        id="param-of-other-curve",
    ),
    pytest.param(
        BASE.replace("{curve: immediate}", "{curve: sigmoid}"),
        [("adoption.curve", "unknown curve 'sigmoid' (expected one of: immediate, linear, "
                            "logistic, bass)")],
        id="unknown-curve",
    ),
    pytest.param(
        BASE.replace("{gold: 0.01}", "{gold: {low: 0.02, central: 0.01, high: 0.03}}"),
        [("allocations.gold", "needs low <= central <= high, got 0.02, 0.01, 0.03")],
        id="range-order",
    ),
    pytest.param(
        BASE.replace("{gold: 0.01}", "{gold: {low: 0.0, mid: 0.01, high: 0.03}}"),
        [("allocations.gold.mid", "unknown key (expected one of: low, central, high, dist)"),
         ("allocations.gold.central", "required key missing")],
        id="range-keys",
    ),
    pytest.param(
        BASE + "uncertainty: {draws: -1, seed: 1.5}\n",
        [("uncertainty.draws", "must be between 0 and 1000000, got -1"),
         ("uncertainty.seed", "must be a whole number, got 1.5")],
        id="bad-uncertainty",
    ),
    pytest.param(
        BASE + "uncertainty: {draws: 500000}\n",
        [("uncertainty.draws", "draws x quarters must be at most 4000000 to fit in memory, "
                               "got 500000 x 20")],
        id="too-many-draws",
    ),
    pytest.param(
        BASE + "impact: {multiplier: {private_equity: 2}}\n",
        [("impact.multiplier.private_equity", "appraisal-priced: no market price to move")],
        id="multiplier-on-private-market",
    ),
    pytest.param(
        BASE.replace("{series: dc_plans}", "{growth_rate: 0.05}"),
        [("pool", "needs `series` or `base_usd`")],
        id="pool-without-base",
    ),
    pytest.param(
        BASE.replace("{series: dc_plans}", "{series: dc_plans, growth_rate: -1}"),
        [("pool.growth_rate", "must be above -1, got -1")],
        id="growth-at-minus-1",
    ),
    pytest.param(
        BASE + "start: soon\n",
        [("start", "must be a date (YYYY-MM-DD), got string 'soon'")],
        id="bad-start",
    ),
    pytest.param(
        BASE + "sensitivity: {uptake: [0.1, 2]}\n",
        [("sensitivity.uptake[1]", "must be between 0 and 1, got 2")],
        id="bad-sensitivity",
    ),
    pytest.param(
        BASE + "name: again\n",
        [("name", "duplicate key (line 6)")],
        id="duplicate-key",
    ),
    pytest.param(
        "- a\n- b\n",
        [("(document)", "must be a mapping of keys, got list")],
        id="not-a-mapping",
    ),
    pytest.param(
        BASE + "  bad: [\n",
        [("(document)", "not valid YAML at line 6: expected <block end>, but found "
                        "'<block mapping start>'")],
        id="yaml-syntax",
    ),
]


@pytest.mark.parametrize(("text", "expected"), INVALID)
def test_invalid_file_names_key_and_reason(text: str, expected: list[tuple[str, str]]) -> None:
    assert problems(text) == expected


def test_series_and_assets_the_warehouse_lacks() -> None:
    text = BASE.replace("dc_plans", "dc_planz").replace("{gold: 0.01}",
                                                        "{gold: 0.01, crypto: 0.01}")
    assert problems(text, {"dc_plans", "ira"}, {"silver"}) == [
        ("pool.series", "series 'dc_planz' is not in the warehouse (known: dc_plans, ira)"),
        ("allocations.gold", "no market data for asset 'gold' in the warehouse"),
        ("allocations.crypto", "no market data for any asset of class 'crypto' in the warehouse"),
    ]


def test_every_problem_of_a_file_is_reported_once() -> None:
    text = """\
name: Bad Name
pool: {series: nowhere, speed: 3}
horizon_years: -1
allocations: {gold: 2, dogecoin: 0.1}
adoption: {curve: linear, uptake: 7}
"""
    got = problems(text, {"dc_plans"}, ALL_ASSETS)
    keys = [k for k, _ in got]
    assert keys == [
        "name", "pool.speed", "pool.series", "horizon_years", "allocations.gold",
        "allocations.dogecoin", "adoption.uptake",
    ]
    assert len(set(keys)) == len(keys)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_scenario_raises_with_all_problems(tmp_path: Path) -> None:
    bad = _write(tmp_path, "bad.yaml", BASE.replace("horizon_years: 5", "horizon_years: x")
                 .replace("{gold: 0.01}", "{gold: 3}"))
    with pytest.raises(ScenarioError) as err:
        load_scenario(bad)
    assert [str(p) for p in err.value.problems] == [
        f"{bad}: horizon_years: must be a number, got string 'x'",
        f"{bad}: allocations.gold: must be between 0 and 1, got 3",
    ]
    assert str(err.value) == "\n".join(str(p) for p in err.value.problems)


def test_missing_file_is_a_problem(tmp_path: Path) -> None:
    gone = tmp_path / "gone.yaml"
    assert validate_files([gone]) == [Problem(str(gone), "(document)", "file not found")]


def test_bad_file_never_blocks_valid_ones(tmp_path: Path) -> None:
    good = _write(tmp_path, "a.yaml", BASE)
    bad = _write(tmp_path, "b.yaml", BASE.replace("name: ok", "name: other")
                 .replace("{gold: 0.01}", "{dogecoin: 0.01}"))
    good2 = _write(tmp_path, "c.yaml", BASE.replace("name: ok", "name: third"))
    scenarios, found = load_scenarios([good, bad, good2])
    assert [s.name for s in scenarios] == ["ok", "third"]
    assert [(p.file, p.key) for p in found] == [(str(bad), "allocations.dogecoin")]
    assert validate_files([good, good2]) == []


def test_duplicate_names_across_files(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.yaml", BASE)
    b = _write(tmp_path, "b.yaml", BASE)
    scenarios, found = load_scenarios([a, b])
    assert [s.file for s in scenarios] == [str(a)]
    assert found == [Problem(str(b), "name", f"duplicate scenario name 'ok' (also in {a})")]


def test_shipped_scenarios_are_valid() -> None:
    files = scenario_files(SHIPPED)
    assert len(files) >= 8
    scenarios, found = load_scenarios(files, {"dc_plans"}, ALL_ASSETS)
    assert found == []
    names = {s.name for s in scenarios}
    assert {"bitwise-1pct-bitcoin", "default-flows-a0010-u10", "default-flows-a0025-u25",
            "default-flows-a0050-u25", "default-flows-a0100-u50", "tdf-private-markets-sleeve",
            "gold-sleeve", "crypto-brokerage-window"} <= names
    assert all(s.description for s in scenarios)
    assert max(s.uncertainty.draws for s in scenarios) == 10_000


def test_scenario_package_imports_no_dagster() -> None:
    """The engine must start fast: importing and running it pulls in no Dagster or GX."""
    import subprocess
    import sys

    code = ("import sys, altflow.scenarios as s; s.run_scenario; "
            "print(any(m in sys.modules for m in ('dagster', 'great_expectations')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=SHIPPED.parent)
    assert out.stdout.strip() == "False"


def test_impact_market_overrides_load_as_plain_numbers() -> None:
    text = BASE.replace("{gold: 0.01}", "{bitcoin: 0.01}") + (
        "impact:\n  market:\n    bitcoin: {price_usd: 119018, market_cap_usd: 2.368e12,"
        " daily_volume_usd: 5.0e10, annual_volatility: 0.45}\n"
    )
    scenario, found = check_text(text, "f.yaml", {"dc_plans"}, ALL_ASSETS)
    assert found == []
    assert scenario.impact.market == {"bitcoin": {
        "price_usd": 119018.0, "market_cap_usd": 2.368e12, "daily_volume_usd": 5.0e10,
        "annual_volatility": 0.45,
    }}


@pytest.mark.parametrize(("market", "expected"), [
    ("{dogecoin: {price_usd: 1}}",
     [("impact.market.dogecoin", "unknown asset 'dogecoin' (known: gold, silver, platinum, "
       "palladium, bitcoin, ether, private_equity, private_credit, real_estate, "
       "infrastructure)")]),
    ("{bitcoin: {price_usd: -1, colour: 1}}",
     [("impact.market.bitcoin.colour", "unknown key (expected one of: price_usd, "
       "market_cap_usd, daily_volume_usd, annual_volatility)"),
      ("impact.market.bitcoin.price_usd", "must be above 0, got -1")]),
    ("{private_equity: {market_cap_usd: 1e12}}",
     [("impact.market.private_equity", "appraisal-priced: no market state to override")]),
    ("{bitcoin: {}}",
     [("impact.market.bitcoin", "must give at least one of: price_usd, market_cap_usd, "
       "daily_volume_usd, annual_volatility")]),
    ("{bitcoin: {market_cap_usd: .inf}}",
     [("impact.market.bitcoin.market_cap_usd", "must be a finite number, got inf")]),
    ("{bitcoin: {price_usd: '100'}}",
     [("impact.market.bitcoin.price_usd", "must be a number, got string '100'")]),
    ("3", [("impact.market", "must be a mapping, got number")]),
])
def test_impact_market_rejects(market: str, expected: list[tuple[str, str]]) -> None:
    assert problems(BASE + f"impact: {{market: {market}}}\n") == expected


# --- bounds, dates, safety limits (issue 12) -------------------------------------------------

@pytest.mark.parametrize(("edit", "expected"), [
    (("{series: dc_plans}", "{base_usd: 1.0000001e15}"),
     [("pool.base_usd", "must be at most 1e+15, got 1.0000001e+15")]),
    (("{series: dc_plans}", "{base_usd: {low: 1e12, central: 2e12, high: 2e15}}"),
     [("pool.base_usd.high", "must be at most 1e+15, got 2e+15")]),
    (("{series: dc_plans}", "{series: null}"),
     [("pool.series", "must be the name of a series, got null")]),
    (("horizon_years: 5", "horizon_years: 50.25"),
     [("horizon_years", "must be at most 50, got 50.25")]),
    (("{curve: immediate}", "{curve: [logistic]}"),
     [("adoption.curve", "unknown curve ['logistic'] (expected one of: immediate, linear, "
                         "logistic, bass)")]),
])
def test_physical_bounds_and_types(edit: tuple[str, str], expected) -> None:
    assert problems(BASE.replace(*edit)) == expected


def test_start_window_is_1990_to_ten_years_ahead() -> None:
    from altflow.scenarios.spec import check_document, latest_start, parse_yaml

    today = date(2026, 12, 1)
    assert latest_start(today) == date(2036, 12, 1)
    doc = parse_yaml(BASE + "start: 2036-12-02\n")
    _, found = check_document(doc, "f.yaml", None, None, today)
    assert [(p.key, p.reason) for p in found] == [
        ("start", "must be between 1990-01-01 and 2036-12-01 (10 years from today), "
                  "got 2036-12-02")]
    ok, found = check_document(parse_yaml(BASE + "start: 1990-01-01\n"), "f", None, None, today)
    assert found == [] and ok.start == date(1990, 1, 1)


@pytest.mark.parametrize(("value", "reason"), [
    ("2025-02-30", "'2025-02-30' is not a calendar date"),
    ("'2025-02-30'", "'2025-02-30' is not a calendar date"),
    ("2025-03-31 12:00:00", "must be a date without a time of day (YYYY-MM-DD), "
                            "got 2025-03-31 12:00:00"),
    ("'31/03/2025'", "must be a date (YYYY-MM-DD), got string '31/03/2025'"),
])
def test_start_must_be_a_calendar_date(value: str, reason: str) -> None:
    assert problems(BASE + f"start: {value}\n") == [("start", reason)]


def test_start_string_is_read_as_a_date() -> None:
    scenario, found = check_text(BASE + "start: '2025-03-31'\n", "f.yaml")
    assert found == [] and scenario.start == date(2025, 3, 31)
    assert type(scenario.start) is date


def test_keys_are_their_source_text() -> None:
    """YAML 1.1 reads `on:` as True and `2025-01-01:` as a date; keys stay text here."""
    assert problems(BASE + "on: 1\n2025-01-01: 2\n")[0][0] == "on"
    assert [k for k, _ in problems(BASE + "on: 1\n2025-01-01: 2\n")] == ["on", "2025-01-01"]


def test_every_message_is_one_line_of_at_most_300_characters(tmp_path: Path) -> None:
    long_dir = tmp_path / ("d" * 200)
    long_dir.mkdir()
    path = _write(long_dir, "f.yaml", BASE.replace("name: ok", 'name: "' + "x\\n" * 500 + '"'))
    found = validate_files([path])
    assert len(found) == 1
    line = str(found[0])
    assert len(line) == 300 and line.endswith("…") and "\n" not in line


def test_file_limits(tmp_path: Path) -> None:
    big = _write(tmp_path, "big.yaml", "x" * 5_000_000)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00name: x")
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    assert [(p.key, p.reason) for p in validate_files([big, binary, folder])] == [
        ("(document)", "larger than 4,000,000 bytes; not a scenario file"),
        ("(document)", "not UTF-8 text (byte 0)"),
        ("(document)", "is a directory, not a file"),
    ]


def test_yaml_anchors_and_merges_still_work() -> None:
    text = BASE.replace("allocations: {gold: 0.01}", "allocations: {gold: &w 0.01, silver: *w}")
    text += "impact:\n  multiplier:\n    gold: &m {low: 1, central: 2, high: 3}\n    silver:\n" \
            "      <<: *m\n      high: 4\n"
    scenario, found = check_text(text, "f.yaml")
    assert found == []
    assert scenario.allocations == {"gold": 0.01, "silver": 0.01}
    assert scenario.impact.multiplier["silver"] == Range(1, 2, 4, "log_triangular")
