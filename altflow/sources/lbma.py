"""LBMA precious-metal benchmark prices from the public JSON price files.

``https://prices.lbma.org.uk/json/<file>.json`` serves one file per metal and fixing
(``gold_am``, ``gold_pm``, ``silver``, ``platinum_am``, ``platinum_pm``, ``palladium_am``,
``palladium_pm``): a JSON array with one record per London business day,
``{"is_cms_locked": 0, "d": "2026-06-08", "v": [usd, gbp, eur]}``, prices per troy ounce.

A ``null`` or ``0`` in ``v`` means no fixing in that currency that day (a holiday, or EUR
before 1999) and becomes a missing value; a negative price, a duplicated date, a record
without ``d`` or ``v``, or a non-numeric price is an error naming the file and the field.
The staging model prefers the PM fixing and falls back to AM where PM is missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import polars as pl

from altflow.sources.base import Batch, DatasetResult, Payload, Source, check_recent, today
from altflow.sources.errors import SourceError

CURRENCIES = ("usd", "gbp", "eur")  # the order of the "v" array


@dataclass(frozen=True)
class LbmaFile:
    """One LBMA price file: its dataset name (file stem), metal (asset id) and fixing."""

    dataset: str
    asset: str
    fixing: str  # "am", "pm" or "daily" (silver has a single daily auction)


FILES: dict[str, LbmaFile] = {
    f.dataset: f
    for f in (
        LbmaFile("gold_am", "gold", "am"),
        LbmaFile("gold_pm", "gold", "pm"),
        LbmaFile("silver", "silver", "daily"),
        LbmaFile("platinum_am", "platinum", "am"),
        LbmaFile("platinum_pm", "platinum", "pm"),
        LbmaFile("palladium_am", "palladium", "am"),
        LbmaFile("palladium_pm", "palladium", "pm"),
    )
}
REQUIRED_METALS = ("gold", "silver", "platinum")  # palladium is welcome, not required
TABLE = "raw.lbma_prices"
# A live file whose latest fixing is older than this is taken for a truncated one (LBMA
# publishes every London business day; the longest holiday gap is a few days).
MAX_AGE_DAYS = 30

RAW_SCHEMA = {
    "dataset": pl.Utf8,
    "asset": pl.Utf8,
    "fixing": pl.Utf8,
    "date": pl.Date,
    "usd": pl.Float64,
    "gbp": pl.Float64,
    "eur": pl.Float64,
}


class Lbma(Source):
    id = "lbma"
    default_base_url = "https://prices.lbma.org.uk"
    min_interval = 1.0  # seven small files; no need to hurry

    def fetch_file(self, dataset: str) -> Payload:
        if dataset not in FILES:
            raise SourceError(self.id, dataset, "not an LBMA price file altflow knows")
        return self.fetch(dataset, f"/json/{dataset}.json")

    def datasets(self) -> list[str]:
        """Files to read: every file live; in snapshot mode, those the snapshot holds.

        The embedded snapshot may lack a metal (no archived copy was found); its prices are
        then simply absent and :func:`missing_metals` names it. A snapshot without a single
        LBMA file fails.
        """
        chosen, _missing = self.split_available(list(FILES))
        if not chosen:
            raise SourceError(self.id, ", ".join(FILES), "no LBMA price file in the snapshot")
        return chosen

    def batch(self) -> Batch:
        """Every price file, each its own dataset (its rows keyed by ``dataset``)."""
        batch = self.new_batch({TABLE: RAW_SCHEMA})
        datasets = self.datasets()
        for dataset in datasets:

            def work(dataset: str = dataset) -> DatasetResult:
                payload = self.fetch_file(dataset)
                frame = parse_price_json(payload)
                as_of = frame.drop_nulls("usd")["date"].max()
                if self.mode == "live":
                    check_recent(payload, frame["date"].max(), today(), MAX_AGE_DAYS,
                                 "daily price file")
                return DatasetResult(payload.with_as_of(as_of), {TABLE: frame},
                                     key={"dataset": dataset})

            self.attempt(batch, dataset, (TABLE,), self.endpoint(f"/json/{dataset}.json"),
                         work, key={"dataset": dataset})
        missing = missing_metals(datasets)
        if missing:
            batch.notes.append(f"lbma: no price file for {', '.join(missing)} in the snapshot")
        frame = batch.table(TABLE)
        batch.metadata["latest_fixing"] = str(frame.drop_nulls("usd")["date"].max())
        batch.metadata["missing_metals"] = ", ".join(missing) or "none"
        return batch


def missing_metals(datasets: list[str]) -> list[str]:
    """Required metals (gold, silver, platinum) that none of `datasets` prices."""
    priced = {FILES[d].asset for d in datasets}
    return [m for m in REQUIRED_METALS if m not in priced]


def _price(payload: Payload, index: int, day: str, currency: str, raw: object) -> float | None:
    field = f"record {index} ({day}) v.{currency}"
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise payload.fail(f"{field}: non-numeric price {raw!r}")
    value = float(raw)
    if not math.isfinite(value):
        raise payload.fail(f"{field}: non-finite price {raw!r}")
    if value < 0:
        raise payload.fail(f"{field}: negative price {value:g}")
    return value or None  # 0 marks a day without a fixing


def parse_price_json(payload: Payload) -> pl.DataFrame:
    """Parse one LBMA price file into (dataset, asset, fixing, date, usd, gbp, eur).

    Raises SourceError naming the file and the record/field for an HTML page, truncated
    JSON, a record without ``d`` or ``v``, a bad date, a non-numeric or negative price, a
    duplicated date, or a file without a single USD price.
    """
    meta = FILES.get(payload.dataset)
    if meta is None:
        raise payload.fail("not an LBMA price file altflow knows")
    records = payload.json()
    if not isinstance(records, list):
        raise payload.fail(
            f"expected a JSON array of {{d, v}} records, got {type(records).__name__}"
        )
    dates: list[date] = []
    columns: dict[str, list[float | None]] = {c: [] for c in CURRENCIES}
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise payload.fail(f"record {index}: expected an object, got {record!r:.60}")
        for key in ("d", "v"):
            if key not in record:
                raise payload.fail(f"record {index}: missing field {key!r}")
        day, values = record["d"], record["v"]
        try:
            dates.append(date.fromisoformat(str(day)))
        except ValueError:
            raise payload.fail(f"record {index}: field 'd' is not a date: {day!r}") from None
        if not isinstance(values, list) or not values:
            raise payload.fail(f"record {index} ({day}): field 'v' is not a price array")
        for position, currency in enumerate(CURRENCIES):
            raw = values[position] if position < len(values) else None
            columns[currency].append(_price(payload, index, day, currency, raw))
    if not dates:
        raise payload.fail("the price file has no records")
    seen: set[date] = set()
    for index, day in enumerate(dates):
        if day in seen:
            raise payload.fail(f"record {index}: field 'd' duplicates date {day.isoformat()}")
        seen.add(day)
    if all(v is None for v in columns["usd"]):
        raise payload.fail("field 'v' holds no USD price (v[0]) in any record")
    n = len(dates)
    frame = pl.DataFrame(
        {
            "dataset": [meta.dataset] * n,
            "asset": [meta.asset] * n,
            "fixing": [meta.fixing] * n,
            "date": dates,
            **columns,
        },
        schema=RAW_SCHEMA,
    )
    return frame.sort("date")


def fetch_all(source: Lbma) -> tuple[pl.DataFrame, list[Payload]]:
    """(prices, payloads) of every file; any failure raises (for tests and scripts)."""
    batch = source.batch()
    batch.raise_failures()
    return batch.table(TABLE), batch.payloads
