"""Settings read from the environment (contract section 3), in one place."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT_DIR = PROJECT_ROOT / "snapshot"
SQL_DIR = PROJECT_ROOT / "sql"
DEFAULT_SCENARIOS_DIR = PROJECT_ROOT / "scenarios"

SOURCE_MODES = ("snapshot", "live")
DEFAULT_HTTP_TIMEOUT = 30.0
DEFAULT_HTTP_RETRIES = 4


class ConfigError(ValueError):
    """An environment variable or option has a value altflow cannot use."""


def env(name: str) -> str | None:
    """An environment variable, with empty treated as unset."""
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def warehouse_path() -> Path:
    """ALTFLOW_WAREHOUSE, default ``data/altflow.duckdb`` under the working directory."""
    return Path(env("ALTFLOW_WAREHOUSE") or Path.cwd() / "data" / "altflow.duckdb")


def source_mode() -> str:
    mode = (env("ALTFLOW_SOURCE") or "snapshot").lower()
    if mode not in SOURCE_MODES:
        raise ConfigError(f"ALTFLOW_SOURCE={mode!r}: expected one of {', '.join(SOURCE_MODES)}")
    return mode


def scenarios_dir() -> Path:
    return Path(env("ALTFLOW_SCENARIOS") or DEFAULT_SCENARIOS_DIR)


def base_url(source_id: str, default: str) -> str:
    """ALTFLOW_<SRC>_BASE_URL or the real service, without a trailing slash."""
    return (env(f"ALTFLOW_{source_id.upper()}_BASE_URL") or default).rstrip("/")


def env_number(name: str, default: float, kind: type = float) -> float:
    """A non-negative finite number from the environment, or `default` when unset."""
    raw = env(name)
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a {kind.__name__}") from None
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name}={raw!r}: must not be negative or infinite")
    return value


@dataclass(frozen=True)
class HttpSettings:
    """Per-request read timeout (s), connect timeout (s) and retries for transient faults."""

    timeout: float = DEFAULT_HTTP_TIMEOUT
    connect_timeout: float = 10.0
    retries: int = DEFAULT_HTTP_RETRIES
    backoff: float = 1.0  # first retry waits ~backoff s, then doubling (Retry-After wins)

    @classmethod
    def from_env(cls) -> HttpSettings:
        timeout = env_number("ALTFLOW_HTTP_TIMEOUT", DEFAULT_HTTP_TIMEOUT, float)
        return cls(
            timeout=timeout,
            connect_timeout=min(10.0, timeout),
            retries=int(env_number("ALTFLOW_HTTP_RETRIES", DEFAULT_HTTP_RETRIES, int)),
            backoff=env_number("ALTFLOW_HTTP_BACKOFF", 1.0, float),
        )
