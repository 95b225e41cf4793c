"""The one Dagster instance of a warehouse: where `altflow run` records runs and `altflow ui` reads.

Default ``DAGSTER_HOME`` is ``dagster_home/`` beside the warehouse (``data/dagster_home`` for
the default warehouse); ``DAGSTER_HOME`` overrides it. Its ``dagster.yaml`` is written on first
use: telemetry off (no banners, no network), and a run queue that starts one run at a time,
because every run publishes the whole warehouse (see docs/scale-out.md).

Run history goes to Dagster's own SQLite files, through
``pipelines.run_history.KeptOpenSqliteEventLogStorage`` (one open connection per file instead
of one per event; see that module for why and what it costs).
"""

from __future__ import annotations

import os
from pathlib import Path

from altflow import config

DAGSTER_YAML = """\
# Written by altflow (pipelines/instance.py). Edit freely; altflow does not overwrite it.
telemetry:
  enabled: false
event_log_storage:   # Dagster's SQLite event log in $DAGSTER_HOME/history/runs, kept open
  module: pipelines.run_history
  class: KeptOpenSqliteEventLogStorage
concurrency:
  runs:
    max_concurrent_runs: 1   # one writer at a time: every run publishes the whole warehouse
  pools:
    default_limit: 1
"""


def dagster_home() -> Path:
    """DAGSTER_HOME, else ``dagster_home`` beside the warehouse file."""
    explicit = config.env("DAGSTER_HOME")
    return Path(explicit) if explicit else config.warehouse_path().parent / "dagster_home"


def ensure_dagster_home() -> Path:
    """Create DAGSTER_HOME with altflow's dagster.yaml if missing, and export it."""
    home = dagster_home().resolve()
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    if not settings.exists():
        settings.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
