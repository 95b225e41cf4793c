"""The typed model of a validated scenario file, and the Problem a bad file yields.

Why its own module: the engine, the report and the validator all speak these types; none of
them needs the YAML loader to use them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

MAX_LINE = 300  # every problem prints as one line of at most this many characters
DOC = "(document)"
# Control characters would break the one-line rule; they print escaped instead.
_CONTROL = {i: f"\\x{i:02x}" for i in (*range(0, 32), 127)} | {10: "\\n", 13: "\\r", 9: "\\t"}


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """Text as one printable line of at most `limit` characters (cut with an ellipsis)."""
    text = text.translate(_CONTROL)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Problem(NamedTuple):
    """One thing wrong with a scenario file."""

    file: str
    key: str
    reason: str

    def __str__(self) -> str:
        return one_line(f"{self.file}: {self.key}: {self.reason}")


class ScenarioError(Exception):
    """Raised when a scenario file is invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Range:
    """An uncertain parameter: drawn between low and high with mode central."""

    low: float
    central: float
    high: float
    dist: str = "triangular"


Param = float | Range


def central(value: Param) -> float:
    """The central value of a scalar or a range."""
    return value.central if isinstance(value, Range) else float(value)


def high(value: Param) -> float:
    return value.high if isinstance(value, Range) else float(value)


@dataclass(frozen=True)
class PoolSpec:
    """The pool: a warehouse series, or a fixed base (then `series` is None)."""

    series: str | None = None
    base_usd: Param | None = None
    growth_rate: Param | None = None
    net_contribution_rate: Param | None = None


@dataclass(frozen=True)
class AdoptionSpec:
    curve: str
    plan_share: Param = 1.0
    uptake: Param = 1.0
    params: dict[str, Param] = field(default_factory=dict)


@dataclass(frozen=True)
class ImpactSpec:
    multiplier: dict[str, Param] = field(default_factory=dict)
    execution_constant: Param | None = None
    # Per-asset overrides of the market state at the base date: asset -> {field: value},
    # fields from MARKET_FIELDS (only those the file gives).
    market: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class UncertaintySpec:
    draws: int = 0
    seed: int = 0


@dataclass(frozen=True)
class SensitivitySpec:
    allocation_scale: tuple[float, ...] | None = None
    uptake: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Scenario:
    """A validated scenario file."""

    name: str
    description: str
    pool: PoolSpec
    horizon_years: float
    allocations: dict[str, Param]
    adoption: AdoptionSpec
    impact: ImpactSpec = field(default_factory=ImpactSpec)
    returns: dict[str, Param] = field(default_factory=dict)
    uncertainty: UncertaintySpec = field(default_factory=UncertaintySpec)
    sensitivity: SensitivitySpec = field(default_factory=SensitivitySpec)
    start: date | None = None
    file: str = ""

    @property
    def quarters(self) -> int:
        return round(self.horizon_years * 4)
