"""FRED's keyless CSV endpoint (``/graph/fredgraph.csv?id=SERIES``): series registry and parser.

FRED serves one column of dates headed ``observation_date`` (``DATE`` in older downloads)
and one column headed with the series id; a missing observation is ``.``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

import polars as pl

from altflow.sources.base import Payload, Source
from altflow.sources.errors import SourceError

DATE_HEADERS = ("observation_date", "DATE")


@dataclass(frozen=True)
class FredSeries:
    """A FRED series altflow uses, with its units and the factor that turns them into USD."""

    id: str
    title: str
    units: str
    frequency: str
    usd_per_unit: float | None  # None: not a dollar amount (an index, a rate)


SERIES: dict[str, FredSeries] = {
    s.id: s
    for s in (
        FredSeries(
            "CBBTCUSD",
            "Coinbase Bitcoin, daily closing price (a second bitcoin history beside CoinGecko)",
            "U.S. Dollars per bitcoin, not seasonally adjusted",
            "daily",
            None,
        ),
        FredSeries(
            "CPIAUCSL",
            "Consumer Price Index for All Urban Consumers: All Items in U.S. City Average",
            "Index 1982-1984=100, seasonally adjusted",
            "monthly",
            None,
        ),
        # Z.1 defined-contribution series: fetched live; not in the embedded snapshot (no
        # stored copy of their values could be found), so snapshot runs skip them and say so.
        FredSeries(
            "BOGZ1FL574090055Q",
            "Private pension funds; defined contribution plans; total financial assets, level"
            " (Z.1 FL574090055, table L.118.c)",
            "Millions of Dollars, not seasonally adjusted",
            "quarterly",
            1e6,
        ),
        FredSeries(
            "BOGZ1FA574090055Q",
            "Private pension funds; defined contribution plans; total financial assets,"
            " transactions (Z.1 FA574090055, table F.118.c)",
            "Millions of Dollars, seasonally adjusted annual rate",
            "quarterly",
            1e6,
        ),
        FredSeries(
            "BOGZ1FL224090055Q",
            "State and local government employee defined contribution retirement funds; total"
            " financial assets, level (Z.1 FL224090055, table L.120)",
            "Millions of Dollars, not seasonally adjusted",
            "quarterly",
            1e6,
        ),
        FredSeries(
            "BOGZ1FL344090055Q",
            "Federal government employee defined contribution retirement funds (Thrift Savings"
            " Plan); total financial assets, level (Z.1 FL344090055, table L.119)",
            "Millions of Dollars, not seasonally adjusted",
            "quarterly",
            1e6,
        ),
        FredSeries(
            "BOGZ1FL594090005Q",
            "Pension funds; total financial assets, level (Z.1 FL594090005: private and"
            " public, DB and DC)",
            "Millions of Dollars",
            "quarterly",
            1e6,
        ),
    )
}


class Fred(Source):
    id = "fred"
    default_base_url = "https://fred.stlouisfed.org"

    def fetch_series(self, series_id: str) -> Payload:
        return self.fetch(series_id, "/graph/fredgraph.csv", {"id": series_id})


def parse_fredgraph_csv(payload: Payload) -> pl.DataFrame:
    """Parse fredgraph.csv into (series_id, date, value); '.' becomes null.

    Raises SourceError naming the series for an HTML page, a renamed column, a bad date or
    a non-numeric value, so a layout change fails loudly instead of loading garbage.
    """
    series_id = payload.dataset
    rows = list(csv.reader(io.StringIO(payload.text("CSV"))))
    if not rows:
        raise payload.fail("empty CSV")
    header = [h.strip() for h in rows[0]]
    if len(header) < 2 or header[0] not in DATE_HEADERS:
        raise payload.fail(
            f"unexpected CSV header {header[:3]}; expected observation_date (or DATE),{series_id}"
        )
    if series_id not in header[1:]:
        raise payload.fail(f"CSV has no column {series_id!r} (header {header})")
    col = header.index(series_id)
    dates: list[date] = []
    values: list[float | None] = []
    for line_no, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) <= col:
            raise payload.fail(f"line {line_no}: row {row} is short (truncated response?)")
        raw_date, raw_value = row[0].strip(), row[col].strip()
        try:
            dates.append(date.fromisoformat(raw_date))
        except ValueError:
            raise payload.fail(f"line {line_no}: bad date {raw_date!r}") from None
        if raw_value in (".", ""):
            values.append(None)
            continue
        try:
            values.append(float(raw_value))
        except ValueError:
            raise payload.fail(f"line {line_no}: non-numeric value {raw_value!r}") from None
    if not dates:
        raise payload.fail("CSV has a header but no observations")
    if len(set(dates)) != len(dates):
        raise payload.fail("duplicated observation dates")
    return pl.DataFrame(
        {"series_id": [series_id] * len(dates), "date": dates, "value": values},
        schema={"series_id": pl.Utf8, "date": pl.Date, "value": pl.Float64},
    )


def fetch_all(source: Fred, series_ids: list[str]) -> tuple[pl.DataFrame, list[Payload]]:
    """Fetch and parse every series, with its units; any failure raises before anything returns."""
    frames, payloads = [], []
    for series_id in series_ids:
        if series_id not in SERIES:
            raise SourceError("fred", series_id, "not in altflow's FRED series registry")
        payload = source.fetch_series(series_id)
        frame = parse_fredgraph_csv(payload)
        frames.append(frame)
        payloads.append(payload.with_as_of(frame.drop_nulls("value")["date"].max()))
    registry = pl.DataFrame(
        [
            {"series_id": s.id, "units": s.units, "frequency": s.frequency,
             "usd_per_unit": s.usd_per_unit}
            for s in SERIES.values()
        ],
        schema={"series_id": pl.Utf8, "units": pl.Utf8, "frequency": pl.Utf8,
                "usd_per_unit": pl.Float64},
    )
    return pl.concat(frames).join(registry, on="series_id", how="left"), payloads
