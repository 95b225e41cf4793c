"""Scenario engine: where DC-plan money would go, and what it does to each market.

Plain Python over numpy and polars; no Dagster. The spec names (loading, validation) are
imported eagerly because they need only PyYAML; the engine and the tables load on first
use, so `altflow scenarios validate` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .spec import (
    ASSET_CLASS,
    CLASSES,
    Problem,
    Range,
    Scenario,
    ScenarioError,
    check_text,
    load_scenario,
    load_scenarios,
    scenario_files,
    validate_files,
)

_LAZY = {
    "MarketInput": "engine",
    "PoolInput": "engine",
    "Paths": "engine",
    "simulate": "engine",
    "quantiles": "engine",
    "ScenarioResult": "report",
    "run_scenario": "report",
    "format_text": "report",
    "to_json": "report",
    "to_dict": "report",
}

__all__ = [
    "ASSET_CLASS",
    "CLASSES",
    "Problem",
    "Range",
    "Scenario",
    "ScenarioError",
    "check_text",
    "load_scenario",
    "load_scenarios",
    "scenario_files",
    "validate_files",
    "MarketInput",
    "PoolInput",
    "Paths",
    "simulate",
    "quantiles",
    "ScenarioResult",
    "run_scenario",
    "format_text",
    "to_json",
    "to_dict",
]

if TYPE_CHECKING:
    from .engine import MarketInput, Paths, PoolInput, quantiles, simulate
    from .report import ScenarioResult, format_text, run_scenario, to_dict, to_json


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
