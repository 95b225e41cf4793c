"""Run every scenario file of a folder against the warehouse inputs, into mart tables.

A bad file (or one the engine cannot run) becomes a row in ``scenario_files`` with its
problem; it never stops the valid ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from .inputs import WarehouseInputs
from .report import run_scenario
from .spec import Problem, load_scenarios, one_line, scenario_files

MART_TABLES = ("scenario_flows", "scenario_impact", "scenario_summary", "scenario_sensitivity")
FILES_SCHEMA = {"file": pl.Utf8, "scenario": pl.Utf8, "status": pl.Utf8, "problem": pl.Utf8}


@dataclass
class BatchResult:
    tables: dict[str, pl.DataFrame]
    problems: list[Problem] = field(default_factory=list)
    scenarios: list[str] = field(default_factory=list)
    files: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=FILES_SCHEMA))


def run_folder(folder: Path, inputs: WarehouseInputs) -> BatchResult:
    paths = scenario_files(folder)
    scenarios, problems = load_scenarios(paths, inputs.known_series, inputs.known_assets)
    parts: dict[str, list[pl.DataFrame]] = {t: [] for t in MART_TABLES}
    rows = []
    ran = []
    for scenario in scenarios:
        # H2: per-file guard - any failure of one scenario is its own one-line problem,
        # never an exception that stops the other files (issue 12).
        try:
            pool = inputs.pool_for(scenario)
            result = run_scenario(scenario, pool, inputs.markets)
        except Exception as exc:  # noqa: BLE001
            reason = one_line(f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError)
                              else str(exc), 240)
            problems.append(Problem(scenario.file or scenario.name, "(run)", reason))
            continue
        # H2: end of per-file guard
        ran.append(scenario.name)
        rows.append({"file": scenario.file, "scenario": scenario.name, "status": "ok"})
        for table in MART_TABLES:
            parts[table].append(getattr(result, table.removeprefix("scenario_")))
    rows += [
        {"file": p.file, "status": "invalid", "problem": f"{p.key}: {p.reason}"} for p in problems
    ]
    tables = {t: pl.concat(frames, how="diagonal_relaxed") for t, frames in parts.items() if frames}
    files = pl.DataFrame(rows, schema=FILES_SCHEMA) if rows else pl.DataFrame(schema=FILES_SCHEMA)
    return BatchResult(tables, problems, ran, files)
