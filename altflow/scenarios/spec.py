"""Scenario files (CONTRACT.md section 5): the one import for loading and validating them.

Why a facade: the work is split by job, each module small and testable alone -
- :mod:`.safe_yaml`  reads YAML safely, with limits that fail fast (alias bombs, huge files);
- :mod:`.spec_types` the typed model (Scenario, PoolSpec, ImpactSpec, Range, Problem);
- :mod:`.validate`   turns a parsed document into a Scenario or one-line problems;
- :mod:`.files`      reads files from disk and validates many without one blocking the rest.
Callers keep importing from here. Nothing here imports numpy, polars or Dagster.
"""

from __future__ import annotations

from altflow.universe import ASSET_CLASS, CLASSES

from .files import (
    check_text,
    load_scenario,
    load_scenarios,
    read_scenario,
    read_text,
    scenario_files,
    validate_files,
)
from .safe_yaml import MAX_CHARS, MAX_DEPTH, MAX_VALUES, YamlProblem, parse_yaml
from .spec_types import (
    DOC,
    MAX_LINE,
    AdoptionSpec,
    ImpactSpec,
    Param,
    PoolSpec,
    Problem,
    Range,
    Scenario,
    ScenarioError,
    SensitivitySpec,
    UncertaintySpec,
    central,
    high,
    one_line,
)
from .validate import (
    CURVE_PARAMS,
    DISTS,
    EARLIEST_START,
    MARKET_FIELDS,
    MAX_DRAW_QUARTERS,
    MAX_DRAWS,
    MAX_HORIZON_YEARS,
    MAX_USD,
    check_document,
    latest_start,
)

__all__ = [
    "ASSET_CLASS", "CLASSES", "CURVE_PARAMS", "DISTS", "DOC", "EARLIEST_START", "MARKET_FIELDS",
    "MAX_CHARS", "MAX_DEPTH", "MAX_DRAWS", "MAX_DRAW_QUARTERS", "MAX_HORIZON_YEARS", "MAX_LINE",
    "MAX_USD", "MAX_VALUES", "AdoptionSpec", "ImpactSpec", "Param", "PoolSpec", "Problem",
    "Range", "Scenario", "ScenarioError", "SensitivitySpec", "UncertaintySpec", "YamlProblem",
    "central", "check_document", "check_text", "high", "latest_start", "load_scenario",
    "load_scenarios", "one_line", "parse_yaml", "read_scenario", "read_text", "scenario_files",
    "validate_files",
]
