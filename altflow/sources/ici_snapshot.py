"""The ICI part of the embedded snapshot: published figures, one per row, and their releases.

``snapshot/ici/retirement_quarterly.csv`` (+ ``retirement_quarterly_government_db.csv``) hold
figures read from ICI release texts, the press quoting them, or public copies of ICI's data
workbook, one row per figure with its page URL, release and release date (see
snapshot/ici/NOTES.md). ``releases.csv`` says how each release's date is known. A figure is
keyed by period, series, release and release date: ICI re-issues a release now and then
(ret_17_q4 came out on 2018-03-22 and again, with revised IRA figures, on 2018-04-19), and
later releases revise earlier quarters; every version is kept.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import polars as pl

from altflow.sources.base import Payload
from altflow.sources.errors import SourceError
from altflow.sources.ici_releases import Release
from altflow.sources.ici_schema import (
    QUARTER_END_DAYS,
    RAW_SCHEMA,
    SERIES,
    USD_PER_BILLION,
    period_label_of,
)

FIGURE_COLUMNS = ("period_end", "series", "value_billions_usd", "release", "release_date",
                  "estimated", "url")
RELEASE_COLUMNS = ("release", "release_date", "date_basis", "url", "quote")
DATE_BASES = ("stated", "article", "unknown")
BOOLEANS = {"true": True, "false": False, "": None}


def _rows(payload: Payload, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """(line, cells) of a snapshot CSV whose header must be exactly `columns`."""
    file_name = payload.dataset + ".csv"
    rows = list(csv.reader(io.StringIO(payload.text("CSV"))))
    if not rows:
        raise payload.fail(f"{file_name}: empty CSV")
    header = [h.strip() for h in rows[0]]
    if tuple(header) != columns:
        raise payload.fail(f"{file_name}, row 1: header {header}, expected {list(columns)}:"
                           " column renamed?")
    out = []
    for line, row in enumerate(rows[1:], start=2):
        if not "".join(row).strip():
            continue
        if len(row) != len(header):
            raise payload.fail(f"{file_name}, row {line}: {len(row)} cells, expected"
                               f" {len(header)} (truncated file?)")
        out.append((line, dict(zip(header, (c.strip() for c in row), strict=True))))
    if not out:
        raise payload.fail(f"{file_name}: a header but no rows")
    return out


def _bad(payload: Payload, line: int, cell: dict[str, str], column: str,
         reason: str) -> SourceError:
    return payload.fail(f"{payload.dataset}.csv, row {line}, column {column}: {reason}"
                        f" {cell[column]!r}")


def _date(payload: Payload, line: int, cell: dict[str, str], column: str) -> date | None:
    if not cell[column]:
        return None
    try:
        return date.fromisoformat(cell[column])
    except ValueError:
        raise _bad(payload, line, cell, column, "bad date") from None


def parse_releases_csv(payload: Payload) -> dict[tuple[str, date | None], str]:
    """(release, release_date) -> how the date is known, for every release version."""
    releases: dict[tuple[str, date | None], str] = {}
    for line, cell in _rows(payload, RELEASE_COLUMNS):
        try:
            release = Release.parse(cell["release"])
        except ValueError:
            raise _bad(payload, line, cell, "release", "not a release id like ret_25_q1") from None
        released = _date(payload, line, cell, "release_date")
        basis = cell["date_basis"]
        if basis not in DATE_BASES:
            raise _bad(payload, line, cell, "date_basis", f"not one of {list(DATE_BASES)}:")
        if (released is None) != (basis == "unknown"):
            raise _bad(payload, line, cell, "date_basis",
                       "must be 'unknown' exactly when release_date is blank, got")
        if released is not None and released <= release.period_end:
            raise _bad(payload, line, cell, "release_date",
                       f"not after the quarter {release.id} covers:")
        if basis != "unknown" and not cell["url"].startswith(("http://", "https://")):
            raise _bad(payload, line, cell, "url", "not a URL")
        key = (release.id, released)
        if key in releases:
            raise _bad(payload, line, cell, "release", "listed twice:")
        releases[key] = basis
    return releases


def parse_snapshot_csv(payload: Payload,
                       releases: dict[tuple[str, date | None], str] | None = None
                       ) -> pl.DataFrame:
    """A snapshot file of published figures (one per row, with its page URL) in raw form.

    With `releases` (from :func:`parse_releases_csv`) every row's release and release date
    must be a listed release version, and the row gets that version's date basis.
    """
    file_name = payload.dataset + ".csv"
    records: list[dict[str, Any]] = []
    for line, cell in _rows(payload, FIGURE_COLUMNS):

        def bad(column: str, reason: str, line: int = line, cell: dict = cell) -> SourceError:
            return _bad(payload, line, cell, column, reason)

        try:
            period_end = date.fromisoformat(cell["period_end"])
        except ValueError:
            raise bad("period_end", "bad date") from None
        if (period_end.month, period_end.day) not in QUARTER_END_DAYS:
            raise bad("period_end", "not a quarter-end date")
        if cell["series"] not in SERIES:
            raise bad("series", "unknown series")
        try:
            billions = float(cell["value_billions_usd"].replace(",", ""))
        except ValueError:
            raise bad("value_billions_usd", "non-numeric value") from None
        if billions <= 0:
            raise bad("value_billions_usd", "not a positive amount")
        try:
            release = Release.parse(cell["release"])
        except ValueError:
            raise bad("release", "not a release id like ret_25_q1") from None
        if period_end > release.period_end:
            raise bad("period_end", f"later than release {release.id} runs to:")
        released = _date(payload, line, cell, "release_date")
        if releases is None:
            basis = "unknown" if released is None else "stated"
        elif (release.id, released) not in releases:
            raise bad("release_date", f"release {release.id} of this date is not listed in"
                                      " releases.csv:")
        else:
            basis = releases[(release.id, released)]
        if cell["estimated"].lower() not in BOOLEANS:
            raise bad("estimated", "not true, false or blank:")
        if not cell["url"].startswith(("http://", "https://")):
            raise bad("url", "not a URL")
        records.append({
            "period_end": period_end, "period": period_label_of(period_end),
            "frequency": "quarterly", "series": cell["series"],
            "value_billions_usd": billions, "value_usd": billions * USD_PER_BILLION,
            "estimated": BOOLEANS[cell["estimated"].lower()], "release": release.id,
            "as_of": release.period_end, "release_date": released,
            "release_date_basis": basis,
            "document": f"{file_name}, row {line} (figure stated in the page at url)",
            "url": cell["url"],
        })
    frame = pl.DataFrame(records, schema=RAW_SCHEMA)
    key = ["period_end", "series", "release", "release_date"]
    dupes = frame.group_by(key).len().filter(pl.col("len") > 1)
    if dupes.height:
        first = dupes.row(0, named=True)
        raise payload.fail(f"{file_name}: {first['series']} {first['period_end']} appears twice"
                           f" for release {first['release']} of {first['release_date']}")
    return frame
