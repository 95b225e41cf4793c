"""The ``altflow`` command line: run, query, ui, scenarios, report.

Heavy imports (Dagster, Great Expectations) happen inside the commands that need them, so
``altflow query`` and ``altflow scenarios ...`` start quickly.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

from altflow import config

EXIT_FAILED = 1
EXIT_USAGE = 2


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    """One line on stderr (`altflow: ...`), whatever the message held; returns the exit code."""
    text = " ".join(str(message).split())
    print(f"altflow: {text[:500]}", file=sys.stderr)
    return code


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (`altflow: ...`, exit 2) instead of usage text plus error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"altflow: {self.prog.removeprefix('altflow ')}: {message} "
                              f"(see `{self.prog} --help`)\n")


def _warehouse_path(args: argparse.Namespace) -> Path:
    return Path(args.warehouse) if getattr(args, "warehouse", None) else config.warehouse_path()


def cmd_run(args: argparse.Namespace) -> int:
    """`altflow run`; the options reach the definitions through the environment, restored after."""
    saved = dict(os.environ)
    try:
        return _run(args)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _run(args: argparse.Namespace) -> int:
    if args.source:
        os.environ["ALTFLOW_SOURCE"] = args.source
    if args.warehouse:
        os.environ["ALTFLOW_WAREHOUSE"] = str(args.warehouse)
    if args.scenarios:
        os.environ["ALTFLOW_SCENARIOS"] = str(args.scenarios)
    warehouse, mode = config.warehouse_path(), config.source_mode()
    import warnings

    warnings.simplefilter("ignore")  # Dagster's beta/preview notices are not the user's concern
    from pipelines.definitions import build_definitions
    from pipelines.runner import run_assets, summary_table

    defs = build_definitions()
    print(f"altflow run: source={mode} warehouse={warehouse} select={args.select or '*'}")
    try:
        outcome = run_assets(defs, args.select, warehouse=warehouse, force=args.force)
    except ValueError as exc:
        return _fail(str(exc))
    if outcome.steps:
        print()
        print(summary_table(outcome))
        built = sum(not s.is_check and s.status == "ok" for s in outcome.steps.values())
        print(f"\n{built} assets built in {outcome.seconds:.1f} s (run {outcome.run_id})")
    if outcome.published:
        print(f"published: {warehouse}")
    elif outcome.steps:
        print(f"NOT published: {warehouse} is unchanged (still the last published state)")
        if outcome.working_copy:
            print(f"unpublished working state kept for inspection: {outcome.working_copy}")
    for name, reason in outcome.warnings:  # the reasons were printed in full above
        line = f"WARN check {name}: {reason}"
        print(line if len(line) <= 100 else line[:99] + "…")
    if outcome.success:
        return 0
    for line in outcome.failures:
        print(line, file=sys.stderr)
    return EXIT_FAILED


def cmd_query(args: argparse.Namespace) -> int:
    """Sandboxed read-only SQL (altflow.query): exit 2 for a refused or bad query or path."""
    from altflow.query import QueryError, check_output_path, render_text, run_query, write_output

    if args.format == "parquet" and not args.out:
        return _fail("--format parquet writes a binary file: give --out FILE")
    try:
        if args.out:
            check_output_path(args.out)
        result = run_query(_warehouse_path(args), args.sql, want_arrow=args.format == "parquet")
        if args.format == "parquet":
            size = write_output(args.out, result.arrow)
            print(f"altflow query: wrote {args.out} ({size:,} bytes, "
                  f"{result.arrow.num_rows:,} rows)", file=sys.stderr)
            return 0
        text = render_text(result, args.format)
        if args.out:
            size = write_output(args.out, text)
            print(f"altflow query: wrote {args.out} ({size:,} bytes)", file=sys.stderr)
        else:
            print(text)
    except QueryError as exc:
        return _fail(str(exc), EXIT_USAGE if exc.usage else EXIT_FAILED)
    return 0


def _warehouse_inputs(args: argparse.Namespace):  # noqa: ANN202 (lazy import of the type)
    """Pool and market inputs from the warehouse, or None if there is none yet.

    Raises WarehouseError with one line when the file is not a readable altflow warehouse
    (not DuckDB, a directory, unreadable, or marts of an unexpected shape).
    """
    import duckdb

    from altflow.scenarios.inputs import load_inputs
    from altflow.warehouse import Warehouse, WarehouseError

    warehouse = Warehouse(_warehouse_path(args))
    if not warehouse.path.exists():
        return None
    if warehouse.path.is_dir():
        raise WarehouseError(f"{warehouse.path} is a directory, not a DuckDB warehouse file")
    try:
        return load_inputs(warehouse)
    except duckdb.Error as exc:
        raise WarehouseError(f"{warehouse.path}: cannot read scenario inputs: "
                             f"{' '.join(str(exc).split())}") from None


def cmd_scenarios_validate(args: argparse.Namespace) -> int:
    """Every problem of every file, one line each; checked against the warehouse if any."""
    from altflow.scenarios.preflight import validate_on_inputs
    from altflow.scenarios.spec import validate_files
    from altflow.warehouse import WarehouseError

    try:
        inputs = _warehouse_inputs(args)
    except WarehouseError as exc:
        return _fail(str(exc))
    if inputs is None:
        print("altflow: note: no warehouse yet, pool series and assets are not checked against "
              "it (run `altflow run` first)", file=sys.stderr)
    if inputs is None:
        problems = validate_files(args.files)
    else:  # what `run` would meet on this warehouse's data, too (validate == run)
        problems = validate_on_inputs(args.files, inputs)
    for problem in problems:
        print(problem)
    if problems:
        return EXIT_USAGE
    print(f"{len(args.files)} scenario file(s) valid")
    return 0


def cmd_scenarios_run(args: argparse.Namespace) -> int:
    """One scenario on the warehouse's inputs; a failure of the engine is one line, exit 1."""
    from altflow.scenarios.preflight import run_failure
    from altflow.scenarios.report import run_scenario
    from altflow.scenarios.spec import ScenarioError, load_scenario
    from altflow.warehouse import WarehouseError

    try:
        inputs = _warehouse_inputs(args)
    except WarehouseError as exc:
        return _fail(str(exc))
    if inputs is None:
        return _fail(f"no warehouse at {_warehouse_path(args)}: run `altflow run` first "
                     "(or pass --warehouse)")
    try:
        scenario = load_scenario(args.file, inputs.known_series, inputs.known_assets)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    try:
        pool = inputs.pool_for(scenario)
        result = run_scenario(scenario, pool, inputs.markets)
        text = result.to_json() if args.json else result.to_text()
    except Exception as exc:  # noqa: BLE001 - one line naming the file, never a traceback
        return _fail(str(run_failure(exc, scenario)), EXIT_FAILED)
    print(text)
    return 0


def _output_problem(out: Path) -> str | None:
    """Why `out` cannot receive a file, or None (checked before any work is done)."""
    from altflow.query import QueryError, check_output_path

    try:
        check_output_path(out)
    except QueryError as exc:
        return str(exc)
    return None


def cmd_report(args: argparse.Namespace) -> int:
    """The HTML report; no warehouse or an unwritable --out is exit 2, failed work exit 1."""
    import duckdb

    from altflow.report import write_report
    from altflow.warehouse import Warehouse, WarehouseError

    warehouse = Warehouse(_warehouse_path(args))
    if not warehouse.path.exists():
        return _fail(f"no warehouse at {warehouse.path}: run `altflow run` first "
                     "(or set ALTFLOW_WAREHOUSE / pass --warehouse)")
    if warehouse.path.is_dir():
        return _fail(f"{warehouse.path} is a directory, not a DuckDB warehouse file")
    out = Path(args.out) if args.out else warehouse.path.with_name("report.html")
    problem = _output_problem(out)
    if problem:
        return _fail(problem)
    try:
        write_report(warehouse, out)
    except WarehouseError as exc:
        return _fail(str(exc))
    except duckdb.Error as exc:
        return _fail(f"report failed reading {warehouse.path}: {exc}", EXIT_FAILED)
    except OSError as exc:
        out.with_name(f".{out.name}.tmp").unlink(missing_ok=True)  # write_report's temporary
        return _fail(f"cannot write {out}: {exc.strerror or exc}")
    print(f"altflow report: wrote {out} ({out.stat().st_size:,} bytes)")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from pipelines.instance import ensure_dagster_home

    home = ensure_dagster_home()  # the instance `altflow run` records its runs in
    env = dict(os.environ)
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
    parser = _Parser(
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
    run.add_argument("--force", action="store_true", help="rebuild even unchanged assets")
    run.set_defaults(func=cmd_run)

    query = sub.add_parser("query", help="read-only SQL over the warehouse")
    query.add_argument("sql")
    query.add_argument("--format", choices=("table", "csv", "json", "markdown", "parquet"),
                       default="table", help="table (default), csv, json, markdown, parquet")
    query.add_argument("--out", type=Path, help="write to FILE instead of stdout "
                       "(required for parquet)")
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
    """Every failure ends as one line on stderr: exit 2 for bad input, 1 for failed work."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except config.ConfigError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except BrokenPipeError:  # e.g. `altflow query ... | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 0
    except Exception as exc:  # noqa: BLE001 - the last resort: never a traceback
        return _fail(f"{args.command} failed: {type(exc).__name__}: {exc}", EXIT_FAILED)


def entry() -> NoReturn:
    """The console script: :func:`main`, then leave without tearing the interpreter down.

    Why: after a run, Python's own shutdown (freeing the modules of Dagster, GX, pandas and
    matplotlib) took about a second in which nothing happens for the user. Everything that
    must outlive the process is closed or flushed by then: the warehouse is published, the
    run recorded, the worker processes stopped.
    """
    code = main()
    from altflow import workers

    workers.stop()  # the idle workers leave at once (see workers._warm)
    gc.collect()  # releases the pool's semaphores (else multiprocessing warns they leaked)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
