"""Scenario files on disk: read (bounded), parse, validate; many files without one blocking.

Why its own module: the CLI, the pipeline and the tests all go through these entry points,
and none of them may see an exception from a bad file: every failure becomes a Problem that
names file, key path and reason on one line.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .safe_yaml import MAX_CHARS, YamlProblem, parse_yaml
from .spec_types import DOC, Problem, Scenario, ScenarioError
from .validate import check_document

INTERNAL = "internal validator error (please report): "


def check_text(
    text: str,
    file: str,
    known_series: set[str] | None = None,
    known_assets: set[str] | None = None,
) -> tuple[Scenario | None, list[Problem]]:
    """Validate scenario YAML text; returns the scenario or the problems, never raises."""
    try:
        doc = parse_yaml(text)
    except YamlProblem as e:
        return None, [Problem(file, e.key or DOC, e.reason)]
    try:
        return check_document(doc, file, known_series, known_assets)
    except Exception as exc:  # noqa: BLE001 - last resort: a bad file must never crash a run
        return None, [Problem(file, DOC, f"{INTERNAL}{type(exc).__name__}: {exc}")]


def read_text(path: str | Path) -> tuple[str | None, list[Problem]]:
    """A file's text (at most MAX_CHARS), or the one problem that stops reading it."""
    file = str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CHARS * 4 + 1)  # UTF-8 is at most 4 bytes a character
    except FileNotFoundError:
        return None, [Problem(file, DOC, "file not found")]
    except IsADirectoryError:
        return None, [Problem(file, DOC, "is a directory, not a file")]
    except OSError as e:
        return None, [Problem(file, DOC, f"cannot read file: {e.strerror or e}")]
    if len(data) > MAX_CHARS * 4:
        return None, [Problem(file, DOC, f"larger than {MAX_CHARS * 4:,} bytes; not a "
                                         "scenario file")]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as e:
        return None, [Problem(file, DOC, f"not UTF-8 text (byte {e.start})")]


def read_scenario(
    path: str | Path,
    known_series: set[str] | None = None,
    known_assets: set[str] | None = None,
) -> tuple[Scenario | None, list[Problem]]:
    """One file: the scenario, or its problems (never raises)."""
    text, problems = read_text(path)
    if text is None:
        return None, problems
    return check_text(text, str(path), known_series, known_assets)


def load_scenario(
    path: str | Path,
    known_series: set[str] | None = None,
    known_assets: set[str] | None = None,
) -> Scenario:
    """Load and validate one file; raises ScenarioError listing every problem."""
    scenario, problems = read_scenario(path, known_series, known_assets)
    if problems or scenario is None:
        raise ScenarioError(problems)
    return scenario


def load_scenarios(
    paths: Iterable[str | Path],
    known_series: set[str] | None = None,
    known_assets: set[str] | None = None,
) -> tuple[list[Scenario], list[Problem]]:
    """Load many files: the valid scenarios and the problems of the others.

    A name used by two files is a problem of the later file; the first one stays valid.
    """
    scenarios: list[Scenario] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for path in paths:
        scenario, found = read_scenario(path, known_series, known_assets)
        if scenario is not None and scenario.name in seen:
            found = [Problem(str(path), "name",
                             f"duplicate scenario name {scenario.name!r} "
                             f"(also in {seen[scenario.name]})")]
            scenario = None
        problems.extend(found)
        if scenario is not None:
            seen[scenario.name] = str(path)
            scenarios.append(scenario)
    return scenarios, problems


def validate_files(
    paths: Iterable[str | Path],
    known_series: set[str] | None = None,
    known_assets: set[str] | None = None,
) -> list[Problem]:
    """Every problem of every file (empty when all are valid)."""
    return load_scenarios(paths, known_series, known_assets)[1]


def scenario_files(folder: str | Path) -> list[Path]:
    """The scenario files of a folder (*.yaml and *.yml, sorted)."""
    folder = Path(folder)
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
