"""What every ICI reader produces: the series altflow takes from ICI and the raw frame's schema.

Kept apart from the readers so that release discovery, the workbook reader and the snapshot
reader share one definition (one list, not three).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

SOURCE_ID = "ici"
DATASET = "retirement_quarterly"
GOVERNMENT_DB_DATASET = "retirement_quarterly_government_db"
RELEASES_DATASET = "releases"
# figure files of the snapshot, in the order they are read; RELEASES_DATASET dates their releases
FIGURE_DATASETS = (DATASET, GOVERNMENT_DB_DATASET)
SNAPSHOT_DATASETS = (*FIGURE_DATASETS, RELEASES_DATASET)
USD_PER_BILLION = 1e9

# Every series altflow takes from ICI (government_db = state and local + federal DB plans).
SERIES = (
    "total_retirement", "ira", "dc_plans", "private_db", "state_local_db", "federal_db",
    "government_db", "annuities", "401k", "403b", "457", "tsp", "other_private_dc",
)

RAW_SCHEMA: dict[str, Any] = {
    "period_end": pl.Date,
    "period": pl.Utf8,  # as labelled: "2025:Q1" (quarter-end) or "2024" (year-end)
    "frequency": pl.Utf8,  # quarterly | annual
    "series": pl.Utf8,
    "value_billions_usd": pl.Float64,  # as published
    "value_usd": pl.Float64,
    "estimated": pl.Boolean,  # ICI's "e" marker; null where the source does not say
    "release": pl.Utf8,  # ret_YY_qN
    "as_of": pl.Date,  # the quarter the release runs to
    "release_date": pl.Date,  # the day this version of the release came out, where known
    "release_date_basis": pl.Utf8,  # how release_date is known (stated | article | ...)
    "document": pl.Utf8,  # workbook table ("ret_25_q1_data.xls, Table 1") or snapshot file
    "url": pl.Utf8,  # the document the figure was read from
}

_QUARTER_END = {1: (3, 31), 2: (6, 30), 3: (9, 30), 4: (12, 31)}
QUARTER_END_DAYS = frozenset(_QUARTER_END.values())


def quarter_end(year: int, quarter: int) -> date:
    month, day = _QUARTER_END[quarter]
    return date(year, month, day)


def period_label_of(period_end: date) -> str:
    return f"{period_end.year}:Q{(period_end.month - 1) // 3 + 1}"
