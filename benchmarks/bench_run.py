"""Benchmark whole `altflow run` processes: cold, unchanged re-run, 1 GB warehouse, Dagster CLI.

Each figure is the median wall time of N whole processes (default 3), as a user would see it:

  cold          `altflow run --source snapshot` into a new warehouse
  unchanged     the same command again, nothing changed (every asset skipped)
  forced        `altflow run --force` on the normal warehouse (everything rebuilt)
  forced 1 GB   the same on a copy of the warehouse padded to >= 1 GB with random doubles
  dagster       `dagster asset materialize -m pipelines.definitions --select '*' --partition
                gold-sleeve` (everything, one scenario partition), on a copy of the warehouse
  imports       `import great_expectations` and loading the definitions, alone

Run: python benchmarks/bench_run.py [--repeat N] [--pad-gb 1.0]. Prints one line per figure;
it asserts nothing (a benchmark, not a test).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n" + "\n".join(tail))
    return seconds


def env_for(warehouse: Path) -> dict[str, str]:
    env = {**os.environ, "ALTFLOW_WAREHOUSE": str(warehouse), "ALTFLOW_SOURCE": "snapshot"}
    env["DAGSTER_HOME"] = str(warehouse.parent / "dagster_home")
    return env


def altflow(*args: str) -> list[str]:
    return [PYTHON, "-m", "pipelines.cli", "run", "--source", "snapshot", *args]


def median(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s  (runs: {', '.join(f'{v:.2f}' for v in values)})"


def pad(warehouse: Path, gigabytes: float) -> None:
    """Grow the file to ~`gigabytes` with random doubles (which DuckDB cannot compress) in a
    schema no asset reads; appended in slices until the file is big enough."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute("CREATE SCHEMA IF NOT EXISTS padding")
        con.execute("CREATE OR REPLACE TABLE padding.noise (a DOUBLE, b DOUBLE, c DOUBLE,"
                    " d DOUBLE)")
        rows = 8_000_000  # ~256 MB of doubles a slice
        while warehouse.stat().st_size < gigabytes * 1e9:
            con.execute(
                "INSERT INTO padding.noise SELECT random(), random(), random(), random()"
                f" FROM range({rows})"
            )
            con.execute("CHECKPOINT")
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pad-gb", type=float, default=1.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="altflow-bench-"))
    try:
        print(f"altflow run benchmark, {args.repeat} runs each, {os.cpu_count()} cores", flush=True)
        cold = []
        for i in range(args.repeat):
            warehouse = work / f"cold{i}" / "altflow.duckdb"
            cold.append(timed(altflow(), env_for(warehouse)))
        print(f"cold run                      {median(cold)}", flush=True)
        base = work / "cold0" / "altflow.duckdb"
        unchanged = [timed(altflow(), env_for(base)) for _ in range(args.repeat)]
        print(f"re-run, nothing changed       {median(unchanged)}", flush=True)
        forced = [timed(altflow("--force"), env_for(base)) for _ in range(args.repeat)]
        print(f"forced run (normal, {base.stat().st_size / 1e6:.0f} MB)     {median(forced)}",
              flush=True)

        padded = work / "padded" / "altflow.duckdb"
        padded.parent.mkdir()
        shutil.copyfile(base, padded)
        pad(padded, args.pad_gb)
        size = padded.stat().st_size / 1e9
        forced_padded = [timed(altflow("--force"), env_for(padded)) for _ in range(args.repeat)]
        print(f"forced run (padded, {size:.2f} GB)   {median(forced_padded)}", flush=True)
        ratio = statistics.median(forced_padded) / statistics.median(forced)
        print(f"  padded / normal             {ratio:6.2f} x", flush=True)

        dagster_runs = []
        for i in range(args.repeat):
            copy = work / f"dagster{i}" / "altflow.duckdb"
            # the instance that knows the scenario partitions (dagster's CLI needs one named)
            shutil.copytree(base.parent / "dagster_home", copy.parent / "dagster_home")
            shutil.copyfile(base, copy)
            command = [PYTHON, "-m", "dagster", "asset", "materialize", "-m",
                       "pipelines.definitions", "--select", "*", "--partition", "gold-sleeve"]
            dagster_runs.append(timed(command, env_for(copy)))

        gx = [timed([PYTHON, "-c", "import great_expectations"], os.environ.copy())
              for _ in range(args.repeat)]
        defs = [timed([PYTHON, "-c", "import pipelines.definitions"], env_for(base))
                for _ in range(args.repeat)]

        print(f"dagster asset materialize '*' {median(dagster_runs)}")
        ratio = statistics.median(dagster_runs) / statistics.median(cold)
        print(f"  dagster / cold CLI run      {ratio:6.2f} x")
        print(f"import great_expectations     {median(gx)}")
        print(f"import pipelines.definitions  {median(defs)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
