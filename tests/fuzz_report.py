"""Counts for docs/reliability.md: the scenario fuzz corpus through a validator and the engine.

Not a test (no ``test_`` prefix): a script that builds one fixed corpus with the fuzz test's
generator (hypothesis, derandomized) plus its named cases, and counts for each file whether
`validate` raised, accepted or rejected it, and whether an accepted file then crashed in
`run_scenario`. ``--before COMMIT`` runs the same corpus through the spec module as it was at
that commit (a single-file spec.py, e.g. 4a1e595) for the before/after table.

    .venv/bin/python -m tests.fuzz_report --examples 2000
    .venv/bin/python -m tests.fuzz_report --examples 2000 --before 4a1e595
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import importlib.util
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings

from altflow.scenarios import check_text, run_scenario
from altflow.scenarios.preflight import check_runnable
from altflow.scenarios.spec import Range
from tests import test_fuzz_scenarios as fuzz

ROOT = Path(__file__).resolve().parents[1]


def corpus(examples: int) -> list[str]:
    texts: list[str] = []

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(fuzz.scenario_texts())
    def collect(text: str) -> None:
        texts.append(text)

    collect()
    return texts


def _old_spec(commit: str) -> Any:
    source = subprocess.run(["git", "show", f"{commit}:altflow/scenarios/spec.py"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "old_spec.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_spec", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_spec"] = module
    spec.loader.exec_module(module)
    return module


def _convert(x: Any, old: Any) -> Any:
    """An old-spec Scenario with the current Range type (the engine checks isinstance)."""
    if old is not None and isinstance(x, old.Range):
        return Range(x.low, x.central, x.high, x.dist)
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return dataclasses.replace(x, **{f.name: _convert(getattr(x, f.name), old)
                                         for f in dataclasses.fields(x)})
    if isinstance(x, dict):
        return {k: _convert(v, old) for k, v in x.items()}
    return x


class _Slow(Exception):
    pass


def _alarm(*_: object) -> None:
    raise _Slow


def evaluate(texts: list[str], old: Any = None) -> tuple[collections.Counter, collections.Counter]:
    check = old.check_text if old is not None else check_text
    counts: collections.Counter = collections.Counter()
    kinds: collections.Counter = collections.Counter()
    signal.signal(signal.SIGALRM, _alarm)
    for text in texts:
        counts["files"] += 1
        t0 = time.perf_counter()
        signal.alarm(10)
        try:
            try:
                scenario, problems = check(text, "f.yaml", fuzz.SERIES, fuzz.ASSETS)
                if scenario is not None and old is None:
                    problems = check_runnable(scenario, fuzz.INPUTS)
                    scenario = scenario if not problems else None
            except _Slow:
                counts["validate over 10 s"] += 1
                continue
            except Exception as exc:  # noqa: BLE001 - counting them is the point
                counts["validate tracebacks"] += 1
                kinds[f"validate {type(exc).__name__}"] += 1
                continue
            lines = [str(p) for p in problems]
            counts["longest message"] = max([counts["longest message"], *map(len, lines)])
            if any(len(line) > 300 or "\n" in line for line in lines):
                counts["messages over 300 chars or multi-line"] += 1
            if scenario is None:
                counts["rejected"] += 1
                continue
            counts["accepted"] += 1
            try:
                sc = _convert(scenario, old)
                draws = min(sc.uncertainty.draws, fuzz.MAX_FUZZ_DRAWS)
                sc = dataclasses.replace(sc, uncertainty=dataclasses.replace(sc.uncertainty,
                                                                             draws=draws))
                run_scenario(sc, fuzz.INPUTS.pool_for(sc), fuzz.INPUTS.markets)
            except _Slow:
                counts["run over 10 s"] += 1
            except Exception as exc:  # noqa: BLE001
                counts["valid, then crash in run"] += 1
                kinds[f"run {type(exc).__name__}: {str(exc)[:70]}"] += 1
        finally:
            signal.alarm(0)
            counts["slowest ms"] = max(counts["slowest ms"],
                                       round(1000 * (time.perf_counter() - t0)))
    return counts, kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--before", help="a commit whose altflow/scenarios/spec.py to use")
    args = parser.parse_args()
    old = _old_spec(args.before) if args.before else None
    named = [text for _, text, _ in fuzz.NAMED]
    for label, texts in (("fuzzed", corpus(args.examples)), ("named", named)):
        counts, kinds = evaluate(texts, old)
        print(f"{label}: {dict(counts)}")
        for kind, n in kinds.most_common(12):
            print(f"    {n} {kind}")


if __name__ == "__main__":
    main()
