"""FRED's keyless CSV endpoint (``/graph/fredgraph.csv?id=SERIES``): series registry and parser.

FRED serves one column of dates headed ``observation_date`` (``DATE`` in older downloads)
and one column headed with the series id; a missing observation is ``.``.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import date

import polars as pl

from altflow.sources.base import Batch, DatasetResult, Payload, Source, check_recent, today
from altflow.sources.errors import SourceError

DATE_HEADERS = ("observation_date", "DATE")


@dataclass(frozen=True)
class FredSeries:
    """A FRED series altflow uses: the one registry, written to ``raw.fred_series``.

    ``series`` and ``measure`` name it inside altflow (the Z.1 staging model joins them, so
    there is no second list in SQL); ``allow_negative`` is the sign rule (indexes, prices
    and levels must be > 0, Z.1 transactions may be negative); ``optional`` series are
    fetched when FRED has them: an HTTP 404 is reported as a note, not a failure.
    """

    id: str
    title: str
    units: str
    frequency: str
    usd_per_unit: float | None  # None: not a dollar amount (an index, a rate)
    series: str
    measure: str | None = None  # Z.1: level | transactions_quarterly | transactions_saar
    allow_negative: bool = False
    optional: bool = False

    @property
    def z1_code(self) -> str | None:
        """The Financial Accounts code (FL574090055) of a BOGZ1 series, else None."""
        return self.id[5:-1] if self.id.startswith("BOGZ1") and self.id.endswith("Q") else None


_Z1_SECTORS = (
    # (code, altflow series, description, Z.1 table)
    ("574090055", "private_dc_z1",
     "Private pension funds; defined contribution plans; total financial assets", "L.118.c"),
    ("224090055", "state_local_dc_z1",
     "State and local government employee defined contribution retirement funds; total"
     " financial assets", "L.120"),
    ("344090055", "federal_dc_z1",
     "Federal government employee defined contribution retirement funds (Thrift Savings"
     " Plan); total financial assets", "L.119"),
)
_Z1_MEASURES = (
    # (prefix, measure, title suffix, units, may be negative)
    ("FL", "level", "level", "Millions of Dollars, not seasonally adjusted", False),
    ("FU", "transactions_quarterly", "transactions",
     "Millions of Dollars, not seasonally adjusted", True),
    ("FA", "transactions_saar", "transactions (seasonally adjusted annual rate)",
     "Millions of Dollars, seasonally adjusted annual rate", True),
)
# Fetched (and in the registry) before the registry became the SQL's list too; the other
# Z.1 measures are optional until a live fetch has confirmed FRED carries them.
_CONFIRMED = {"BOGZ1FL574090055Q", "BOGZ1FA574090055Q", "BOGZ1FL224090055Q",
              "BOGZ1FL344090055Q", "BOGZ1FL594090005Q"}

SERIES: dict[str, FredSeries] = {
    s.id: s
    for s in (
        FredSeries(
            "CBBTCUSD",
            "Coinbase Bitcoin, daily closing price (a second bitcoin history beside CoinGecko)",
            "U.S. Dollars per bitcoin, not seasonally adjusted",
            "daily",
            None,
            "bitcoin_usd",
        ),
        FredSeries(
            "CPIAUCSL",
            "Consumer Price Index for All Urban Consumers: All Items in U.S. City Average",
            "Index 1982-1984=100, seasonally adjusted",
            "monthly",
            None,
            "cpi",
        ),
        *(
            FredSeries(
                f"BOGZ1{prefix}{code}Q",
                f"{description}, {suffix} (Z.1 {prefix}{code}, table"
                f" {table if prefix == 'FL' else 'F' + table[1:]})",
                units,
                "quarterly",
                1e6,
                series,
                measure,
                allow_negative=negative,
                optional=f"BOGZ1{prefix}{code}Q" not in _CONFIRMED,
            )
            for code, series, description, table in _Z1_SECTORS
            for prefix, measure, suffix, units, negative in _Z1_MEASURES
        ),
        FredSeries(
            "BOGZ1FL594090005Q",
            "Pension funds; total financial assets, level (Z.1 FL594090005: private and"
            " public, DB and DC)",
            "Millions of Dollars, not seasonally adjusted",
            "quarterly",
            1e6,
            "pension_funds_z1",
            "level",
        ),
        # H4: the Z.1 release covering 2026:Q1 is stored only as its transactions table
        # (S.129.t), so the pension total's flows reach 2026:Q1 (snapshot/fred/NOTES.md)
        FredSeries(
            "BOGZ1FA594090005Q",
            "Pension funds; net acquisition of financial assets, transactions (seasonally"
            " adjusted annual rate) (Z.1 FA594090005, table F.117 / S.129.t)",
            "Millions of Dollars, seasonally adjusted annual rate",
            "quarterly",
            1e6,
            "pension_funds_z1",
            "transactions_saar",
            allow_negative=True,
        ),
    )
}

# How old the latest observation of a live series may be before the payload is taken for
# a truncated one (fredgraph.csv has no "observation_end" to compare with; a body cut at a
# line boundary is complete CSV, only its history stops early). Generous: FRED publishes
# monthly CPI about two weeks after the month and Z.1 about ten weeks after the quarter,
# dating each observation by the period's first day.
MAX_AGE_DAYS = {"daily": 45, "weekly": 60, "monthly": 200, "quarterly": 400, "annual": 800}

REGISTRY_TABLE = "raw.fred_series"
OBSERVATIONS_TABLE = "raw.fred_observations"
REGISTRY_SCHEMA = {
    "series_id": pl.Utf8,
    "z1_code": pl.Utf8,
    "series": pl.Utf8,
    "measure": pl.Utf8,
    "description": pl.Utf8,
    "units": pl.Utf8,
    "frequency": pl.Utf8,
    "usd_per_unit": pl.Float64,
    "allow_negative": pl.Boolean,
    "optional": pl.Boolean,
}
OBSERVATIONS_SCHEMA = {
    "series_id": pl.Utf8,
    "date": pl.Date,
    "value": pl.Float64,
    "units": pl.Utf8,
    "frequency": pl.Utf8,
    "usd_per_unit": pl.Float64,
}


def registry_frame() -> pl.DataFrame:
    """The registry as the ``raw.fred_series`` table (one row per series)."""
    return pl.DataFrame(
        [
            {
                "series_id": s.id,
                "z1_code": s.z1_code,
                "series": s.series,
                "measure": s.measure,
                "description": s.title,
                "units": s.units,
                "frequency": s.frequency,
                "usd_per_unit": s.usd_per_unit,
                "allow_negative": s.allow_negative,
                "optional": s.optional,
            }
            for s in SERIES.values()
        ],
        schema=REGISTRY_SCHEMA,
    )


class Fred(Source):
    id = "fred"
    default_base_url = "https://fred.stlouisfed.org"
    path = "/graph/fredgraph.csv"

    def fetch_series(self, series_id: str) -> Payload:
        return self.fetch(series_id, self.path, {"id": series_id})

    def batch(self, series_ids: list[str] | None = None) -> Batch:
        """Every registered series (or `series_ids`), each its own dataset, plus the registry.

        A series that fails (network, HTTP, refused by the parser) is a failure of that
        series alone; an optional series FRED does not have (HTTP 404) is a note. Snapshot
        mode reads the series the embedded copy holds and notes the others as gaps.
        """
        wanted = list(series_ids or SERIES)
        batch = self.new_batch({OBSERVATIONS_TABLE: OBSERVATIONS_SCHEMA})
        batch.static[REGISTRY_TABLE] = registry_frame()
        unknown = [s for s in wanted if s not in SERIES]
        if unknown:
            raise SourceError(self.id, ", ".join(unknown), "not in altflow's FRED series registry")
        available, missing = self.split_available(wanted)
        if missing:
            batch.notes.append(f"fred: not in the embedded snapshot, skipped: {', '.join(missing)}")
        check_recency = self.mode == "live"
        for series_id in available:
            meta = SERIES[series_id]

            def work(meta: FredSeries = meta) -> DatasetResult:
                payload = self.fetch_series(meta.id)
                frame = parse_fredgraph_csv(payload, today() if check_recency else None)
                frame = frame.with_columns(
                    units=pl.lit(meta.units),
                    frequency=pl.lit(meta.frequency),
                    usd_per_unit=pl.lit(meta.usd_per_unit, pl.Float64),
                )
                as_of = frame.drop_nulls("value")["date"].max()
                return DatasetResult(
                    payload.with_as_of(as_of), {OBSERVATIONS_TABLE: frame},
                    key={"series_id": meta.id},
                )

            before = len(batch.failures)
            self.attempt(batch, series_id, (OBSERVATIONS_TABLE,),
                         f"{self.endpoint(self.path)}?id={series_id}", work,
                         key={"series_id": series_id})
            if len(batch.failures) > before and meta.optional and " HTTP 404 " in (
                f" {batch.failures[-1].reason} "
            ):
                dropped = batch.failures.pop()
                batch.notes.append(f"fred: optional series not on FRED: {dropped.message}")
        latest = batch.table(OBSERVATIONS_TABLE)["date"].max()
        batch.metadata["latest_observation"] = str(latest)
        batch.metadata["missing_from_snapshot"] = ", ".join(missing) or "none"
        return batch


def _check_history(
    payload: Payload, meta: FredSeries | None, dates: list[date], as_of: date | None
) -> None:
    """Refuse a series whose history ends long before a live fetch (a truncated body)."""
    limit = MAX_AGE_DAYS.get(meta.frequency) if meta is not None else None
    if limit is not None:
        check_recent(payload, max(dates), as_of, limit, f"{meta.frequency} series")


def parse_fredgraph_csv(payload: Payload, as_of: date | None = None) -> pl.DataFrame:
    """Parse fredgraph.csv into (series_id, date, value); '.' becomes null.

    Raises SourceError naming the series for an HTML page, a renamed column, a bad date, a
    non-numeric or non-finite value (NaN, inf), a value of the wrong sign for the series
    (registry ``allow_negative``: an index, a price or a level must be > 0), and, given the
    fetch date `as_of`, a history that stops too early for the series' frequency (a body
    cut at a line boundary), so a layout change or a cut fails loudly instead of loading.
    """
    series_id = payload.dataset
    meta = SERIES.get(series_id)
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
            value = float(raw_value)
        except ValueError:
            raise payload.fail(f"line {line_no}: non-numeric value {raw_value!r}") from None
        if not math.isfinite(value):
            raise payload.fail(f"line {line_no}: non-finite value {raw_value!r}")
        if meta is not None and not meta.allow_negative and value <= 0:
            raise payload.fail(
                f"line {line_no}: value {raw_value} on {raw_date} is not positive"
                f" ({meta.series} must be > 0)"
            )
        values.append(value)
    if not dates:
        raise payload.fail("CSV has a header but no observations")
    if len(set(dates)) != len(dates):
        raise payload.fail("duplicated observation dates")
    if all(v is None for v in values):
        raise payload.fail("every observation is missing ('.')")
    _check_history(payload, meta, dates, as_of)
    return pl.DataFrame(
        {"series_id": [series_id] * len(dates), "date": dates, "value": values},
        schema={"series_id": pl.Utf8, "date": pl.Date, "value": pl.Float64},
    )


def fetch_all(source: Fred, series_ids: list[str]) -> tuple[pl.DataFrame, list[Payload]]:
    """(observations, payloads) of `series_ids`; any failure raises (for tests and scripts)."""
    batch = source.batch(series_ids)
    batch.raise_failures()
    return batch.table(OBSERVATIONS_TABLE), batch.payloads
