"""Validate == run: a scenario that passes the spec is tried on the warehouse's inputs.

Why: some problems depend on the data, not the file - a `start` before the first value of
the pool series, or before an asset's first market observation. ``altflow scenarios
validate`` must reject everything ``run`` would, so with a warehouse it runs the central path
(no Monte Carlo draws: the same dates, inputs and arithmetic, a fraction of the time) and
turns any failure into a one-line Problem naming the file and, where it can, the key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from .files import load_scenarios
from .spec_types import Problem, Scenario, UncertaintySpec, one_line

_ASSET = re.compile(r"no market data for (?:any asset of class|asset) '([a-z_]+)'")


def _key_for(message: str, scenario: Scenario) -> str:
    """The key path an engine message is about (the run as a whole when unknown)."""
    found = _ASSET.search(message)
    if found and found.group(1) in scenario.allocations:
        return f"allocations.{found.group(1)}"
    if "series" in message and scenario.pool.series:
        return "pool.series"
    if "base date" in message and scenario.start is not None:
        return "start"
    return "(run)"


def run_failure(exc: BaseException, scenario: Scenario) -> Problem:
    """One engine failure as a one-line Problem."""
    message = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
    return Problem(scenario.file or scenario.name, _key_for(message, scenario),
                   one_line(message, 240))


def check_runnable(scenario: Scenario, inputs: Any) -> list[Problem]:
    """Problems the engine meets running `scenario` on `inputs` (central path only)."""
    from .report import run_scenario

    quick = replace(scenario, uncertainty=UncertaintySpec(0, scenario.uncertainty.seed))
    try:
        run_scenario(quick, inputs.pool_for(quick), inputs.markets)
    except Exception as exc:  # noqa: BLE001 - every failure is the file's problem
        return [run_failure(exc, scenario)]
    return []


def validate_on_inputs(paths: Iterable[str | Path], inputs: Any) -> list[Problem]:
    """Spec problems plus run problems on the warehouse inputs, in file order."""
    paths = list(paths)
    scenarios, problems = load_scenarios(paths, inputs.known_series, inputs.known_assets)
    for scenario in scenarios:
        problems.extend(check_runnable(scenario, inputs))
    order = {str(p): i for i, p in enumerate(paths)}
    return sorted(problems, key=lambda p: order.get(p.file, len(order)))
