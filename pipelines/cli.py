"""The ``altflow`` command line: run, query, ui, scenarios, report.

Heavy imports (Dagster, Great Expectations) happen inside the commands that need them, so
``altflow query`` and ``altflow scenarios ...`` start quickly.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from altflow import config

EXIT_FAILED = 1
EXIT_USAGE = 2


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"altflow: {message}", file=sys.stderr)
    return code


def cmd_run(args: argparse.Namespace) -> int:
    if args.source:
        os.environ["ALTFLOW_SOURCE"] = args.source
    if args.warehouse:
        os.environ["ALTFLOW_WAREHOUSE"] = str(args.warehouse)
    if args.scenarios:
        os.environ["ALTFLOW_SCENARIOS"] = str(args.scenarios)
    from pipelines.definitions import build_definitions
    from pipelines.runner import run_assets, summary_table

    defs = build_definitions()
    warehouse, mode = config.warehouse_path(), config.source_mode()
    print(f"altflow run: source={mode} warehouse={warehouse} select={args.select or '*'}")
    try:
        outcome = run_assets(defs, args.select)
    except ValueError as exc:
        return _fail(str(exc))
    print()
    print(summary_table(outcome))
    print(f"\n{len(outcome.steps)} steps in {outcome.seconds:.1f} s; warehouse: {warehouse}")
    if outcome.success:
        return 0
    for line in outcome.failures:
        print(line, file=sys.stderr)
    return EXIT_FAILED


def cmd_query(args: argparse.Namespace) -> int:
    import duckdb

    from altflow.display import render
    from altflow.warehouse import Warehouse, WarehouseError

    path = Path(args.warehouse) if args.warehouse else config.warehouse_path()
    try:
        frame = Warehouse(path).query(args.sql)
    except WarehouseError as exc:
        return _fail(str(exc))
    except duckdb.Error as exc:
        return _fail(f"query failed: {' '.join(str(exc).split())}")
    print(render(frame, args.format))
    return 0


def _warehouse_inputs(args: argparse.Namespace):  # noqa: ANN202 (lazy import of the type)
    """Pool and market inputs from the warehouse, or None (with a note) if there is none."""
    from altflow.scenarios.inputs import load_inputs
    from altflow.warehouse import Warehouse

    warehouse = Warehouse(args.warehouse or config.warehouse_path())
    if not warehouse.path.exists():
        return None
    return load_inputs(warehouse)


def cmd_scenarios_validate(args: argparse.Namespace) -> int:
    from altflow.scenarios.spec import validate_files

    inputs = _warehouse_inputs(args)
    if inputs is None:
        print("altflow: note: no warehouse yet, pool series and assets are not checked against "
              "it (run `altflow run` first)", file=sys.stderr)
    problems = validate_files(
        args.files,
        known_series=inputs.known_series if inputs else None,
        known_assets=inputs.known_assets if inputs and inputs.markets else None,
    )
    for problem in problems:
        print(problem)
    if problems:
        return EXIT_USAGE
    print(f"{len(args.files)} scenario file(s) valid")
    return 0


def cmd_scenarios_run(args: argparse.Namespace) -> int:
    from altflow.scenarios.report import run_scenario
    from altflow.scenarios.spec import ScenarioError, load_scenario
    from altflow.warehouse import WarehouseError

    try:
        inputs = _warehouse_inputs(args)
    except WarehouseError as exc:
        return _fail(str(exc))
    if inputs is None:
        return _fail("no warehouse: run `altflow run` first (or pass --warehouse)")
    try:
        scenario = load_scenario(args.file, inputs.known_series, inputs.known_assets)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    pool = inputs.pool_for(scenario)
    result = run_scenario(scenario, pool, inputs.markets)
    print(result.to_json() if args.json else result.to_text())
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from altflow.report import write_report
    from altflow.warehouse import Warehouse, WarehouseError

    warehouse = Warehouse(args.warehouse or config.warehouse_path())
    out = args.out or warehouse.path.with_name("report.html")
    try:
        write_report(warehouse, out)
    except WarehouseError as exc:
        return _fail(str(exc))
    print(f"altflow report: wrote {out} ({out.stat().st_size:,} bytes)")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    home = Path(env.get("DAGSTER_HOME") or Path.cwd() / "data" / "dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    env["DAGSTER_HOME"] = str(home.resolve())
    workspace = config.PROJECT_ROOT / "workspace.yaml"
    env["ALTFLOW_WAREHOUSE"] = str(config.warehouse_path().resolve())  # as seen from here
    command = [sys.executable, "-m", "dagster", "dev", "-w", str(workspace)]
    command += ["-h", args.host, "-p", str(args.port)]
    print(f"altflow ui: http://{args.host}:{args.port} (Ctrl-C to stop; DAGSTER_HOME={home})")
    try:
        return subprocess.call(command, env=env, cwd=config.PROJECT_ROOT)
    except KeyboardInterrupt:
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="altflow",
        description="Retirement-plan flows into gold, crypto and private markets: "
        "a Dagster + DuckDB pipeline.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="materialize the asset graph (with checks), in-process")
    run.add_argument("--source", choices=config.SOURCE_MODES, help="default: $ALTFLOW_SOURCE")
    run.add_argument("--select", help="Dagster asset selection, e.g. 'tag:source=fred'")
    run.add_argument("--scenarios", type=Path, help="folder of scenario YAML files")
    run.add_argument("--warehouse", type=Path, help="DuckDB file; default $ALTFLOW_WAREHOUSE")
    run.set_defaults(func=cmd_run)

    query = sub.add_parser("query", help="read-only SQL over the warehouse")
    query.add_argument("sql")
    query.add_argument("--format", choices=("table", "csv", "json"), default="table")
    query.add_argument("--warehouse", type=Path)
    query.set_defaults(func=cmd_query)

    scenarios = sub.add_parser("scenarios", help="validate or run scenario files")
    scenario_sub = scenarios.add_subparsers(dest="scenarios_command", required=True)
    validate = scenario_sub.add_parser("validate", help="exit 0 if every file is valid, else 2")
    validate.add_argument("files", nargs="+", type=Path)
    validate.add_argument("--warehouse", type=Path)
    validate.set_defaults(func=cmd_scenarios_validate)
    srun = scenario_sub.add_parser("run", help="run one scenario on the warehouse (no writes)")
    srun.add_argument("file", type=Path)
    srun.add_argument("--json", action="store_true", help="print JSON instead of a table")
    srun.add_argument("--warehouse", type=Path)
    srun.set_defaults(func=cmd_scenarios_run)

    report = sub.add_parser("report", help="write a self-contained HTML report with charts")
    report.add_argument("--out", type=Path, help="default: report.html beside the warehouse")
    report.add_argument("--warehouse", type=Path)
    report.set_defaults(func=cmd_report)

    ui = sub.add_parser("ui", help="Dagster webserver + daemon on 127.0.0.1:3000")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except config.ConfigError as exc:
        return _fail(str(exc))


if __name__ == "__main__":
    sys.exit(main())
