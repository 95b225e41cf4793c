"""Curated reference facts: market size and liquidity that no free API publishes.

The World Gold Council's above-ground stock and trading volumes, private-market AUM, dry
powder, fundraising and deal volume come from reports and web pages, not from an API. They
are kept as one curated CSV in the embedded snapshot, ``snapshot/reference/market_facts.csv``
(dataset ``market_facts``), with one row per figure::

    asset,metric,value,unit,as_of,source_name,url,note,source_quality

There is no live service to fetch: this source reads the snapshot in both modes (the
``live`` mode changes nothing here) and says so in its payloads' ``mode``.

Rules, checked row by row (a failure names the line and the field):

* ``asset`` is an asset id of the contract (:data:`ASSET_CLASS`); ``metric`` is snake_case.
* ``value`` is a plain number (US dollars, not billions; tonnes), or empty for an explicit
  NULL, which then needs a ``note`` saying why there is no figure.
* a metric named ``*_tonnes`` is in tonnes, ``*_troy_oz`` in troy ounces; ``*_usd`` in plain
  ``USD`` (``USD per day``, ...; no "bn") and at least US$1 million (a smaller number is taken
  for billions typed as dollars).
* sizes and volumes are not negative (only ``*flow*`` and ``*change*`` metrics may be).
* a figure has an ISO ``as_of`` date, a ``source_name`` and an http(s) ``url``.
* ``source_quality`` (optional column) is ``primary`` (the publisher's own figure),
  ``secondary`` (reported by another party citing it) or ``tertiary``; empty for NULL rows.
* (asset, metric, as_of) is unique; older figures of the same metric are history.

Market values are never typed in: the marts compute them (stock x price).
"""

from __future__ import annotations

import csv
import io
import math
import re
from datetime import date

import polars as pl

from altflow.sources.base import Batch, DatasetResult, Payload, Source, snapshot_entries
from altflow.universe import APPRAISAL_CLASSES, ASSET_CLASS, TRADING_DAYS_PER_YEAR

FACTS_DATASET = "market_facts"
FACTS_TABLE = "raw.reference_facts"
ASSETS_TABLE = "raw.reference_assets"
SOURCE_QUALITIES = ("primary", "secondary", "tertiary")
COLUMNS = ("asset", "metric", "value", "unit", "as_of", "source_name", "url", "note")
TONNE_UNITS = {"tonnes", "tonne", "t", "metric tonnes"}
TROY_OUNCE_UNITS = {"troy ounces", "troy ounce", "troy oz", "ozt", "oz t"}
MIN_USD_AMOUNT = 1e6
SCALE_WORDS = {"k", "thousand", "m", "mn", "mm", "million", "bn", "b", "billion", "tn", "trillion"}
_METRIC = re.compile(r"^[a-z][a-z0-9_]*$")

FACTS_SCHEMA = {
    "line": pl.Int64,
    "asset": pl.Utf8,
    "metric": pl.Utf8,
    "value": pl.Float64,
    "unit": pl.Utf8,
    "as_of": pl.Date,
    "source_name": pl.Utf8,
    "url": pl.Utf8,
    "note": pl.Utf8,
    "source_quality": pl.Utf8,
}
ASSETS_SCHEMA = {
    "asset": pl.Utf8,
    "asset_class": pl.Utf8,
    "pricing": pl.Utf8,
    "trading_days_per_year": pl.Float64,
}


class Reference(Source):
    """The curated facts file; read from the snapshot whatever the mode (no live API exists)."""

    id = "reference"
    curated = True

    def fetch_facts(self) -> Payload:
        return self.fetch(FACTS_DATASET, "")

    def batch(self) -> Batch:
        """The facts file (one dataset) and the asset registry (built from code)."""
        batch = self.new_batch({FACTS_TABLE: FACTS_SCHEMA})
        batch.static[ASSETS_TABLE] = asset_registry()

        def work() -> DatasetResult:
            payload = self.fetch_facts()
            facts = parse_market_facts(payload)
            return DatasetResult(payload.with_as_of(facts["as_of"].max()), {FACTS_TABLE: facts})

        url = snapshot_entries(self.id, self.snapshot_root).get(FACTS_DATASET)
        self.attempt(batch, FACTS_DATASET, (FACTS_TABLE,),
                     url.url if url else "snapshot/reference/market_facts.csv", work)
        return batch


def asset_registry() -> pl.DataFrame:
    """The contract's asset ids with class, pricing (market/appraisal) and trading days."""
    rows = [
        {
            "asset": asset,
            "asset_class": cls,
            "pricing": "appraisal" if cls in APPRAISAL_CLASSES else "market",
            "trading_days_per_year": TRADING_DAYS_PER_YEAR.get(cls),
        }
        for asset, cls in ASSET_CLASS.items()
    ]
    return pl.DataFrame(rows, schema=ASSETS_SCHEMA)


def _check_unit(payload: Payload, where: str, metric: str, unit: str, value: float | None) -> str:
    if metric.endswith("_tonnes"):
        if unit.lower() not in TONNE_UNITS:
            raise payload.fail(f"{where} field 'unit': {metric} must be in tonnes, not {unit!r}")
        return "tonnes"
    if metric.endswith("_troy_oz"):
        if unit.lower() not in TROY_OUNCE_UNITS:
            raise payload.fail(
                f"{where} field 'unit': {metric} must be in troy ounces, not {unit!r}"
            )
        return "troy ounces"
    if metric.endswith("_usd"):
        scaled = SCALE_WORDS.intersection(re.split(r"[^a-z]+", unit.lower()))
        if not unit.upper().startswith("USD") or scaled:
            raise payload.fail(
                f"{where} field 'unit': {metric} must be in USD (plain dollars), not {unit!r}"
            )
        if value is not None and 0 < abs(value) < MIN_USD_AMOUNT and "price" not in metric:
            raise payload.fail(
                f"{where} field 'value': {value:g} for {metric} looks like billions or"
                " trillions; expected plain US dollars"
            )
    return unit


def parse_market_facts(payload: Payload) -> pl.DataFrame:
    """Parse the curated facts CSV into typed rows (one per figure, explicit NULLs kept)."""
    rows = list(csv.reader(io.StringIO(payload.text("CSV"))))
    if not rows:
        raise payload.fail("empty CSV")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise payload.fail(f"CSV header {header} lacks column(s) {missing}")
    index = {c: header.index(c) for c in COLUMNS}
    quality_at = header.index("source_quality") if "source_quality" in header else None
    out: list[dict[str, object]] = []
    seen: set[tuple[str, str, date | None]] = set()
    for line_no, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) < len(header):
            raise payload.fail(f"line {line_no}: row is short (truncated file?)")
        cell = {c: row[i].strip() for c, i in index.items()}
        where = f"line {line_no}"
        asset, metric = cell["asset"], cell["metric"]
        if asset not in ASSET_CLASS:
            raise payload.fail(
                f"{where} field 'asset': unknown asset {asset!r} (known: {', '.join(ASSET_CLASS)})"
            )
        if not _METRIC.match(metric):
            raise payload.fail(f"{where} field 'metric': {metric!r} is not snake_case")
        value: float | None = None
        if cell["value"]:
            try:
                value = float(cell["value"].replace(",", ""))
            except ValueError:
                raise payload.fail(
                    f"{where} field 'value': not a number: {cell['value']!r}"
                ) from None
            if not math.isfinite(value):  # nan, inf, 1e999
                raise payload.fail(f"{where} field 'value': not finite: {cell['value']!r}")
            if value < 0 and "flow" not in metric and "change" not in metric:
                raise payload.fail(f"{where} field 'value': {metric} must not be negative")
        elif not cell["note"]:
            raise payload.fail(f"{where} field 'note': an empty value needs a note saying why")
        if not cell["unit"]:
            raise payload.fail(f"{where} field 'unit' is empty")
        unit = _check_unit(payload, where, metric, cell["unit"], value)
        as_of: date | None = None
        if cell["as_of"]:
            try:
                as_of = date.fromisoformat(cell["as_of"])
            except ValueError:
                raise payload.fail(
                    f"{where} field 'as_of': not an ISO date: {cell['as_of']!r}"
                ) from None
        if value is not None:
            if as_of is None:
                raise payload.fail(f"{where} field 'as_of' is empty")
            if not cell["source_name"]:
                raise payload.fail(f"{where} field 'source_name' is empty")
            if not cell["url"].startswith(("http://", "https://")):
                raise payload.fail(f"{where} field 'url': not an http(s) URL: {cell['url']!r}")
        quality = row[quality_at].strip().lower() if quality_at is not None else ""
        if quality and quality not in SOURCE_QUALITIES:
            raise payload.fail(
                f"{where} field 'source_quality': {quality!r} is not one of"
                f" {', '.join(SOURCE_QUALITIES)}"
            )
        key = (asset, metric, as_of)
        if key in seen:
            raise payload.fail(
                f"{where}: duplicated fact {asset}/{metric} as of {as_of or 'no date'}"
            )
        seen.add(key)
        out.append(
            {
                "line": line_no,
                "asset": asset,
                "metric": metric,
                "value": value,
                "unit": unit,
                "as_of": as_of,
                "source_name": cell["source_name"] or None,
                "url": cell["url"] or None,
                "note": cell["note"] or None,
                "source_quality": quality or None,
            }
        )
    if not out:
        raise payload.fail("CSV has a header but no facts")
    return pl.DataFrame(out, schema=FACTS_SCHEMA)


def fetch_all(source: Reference) -> tuple[dict[str, pl.DataFrame], list[Payload], list[int]]:
    """(tables, payloads, rows per payload); any failure raises (for tests and scripts)."""
    batch = source.batch()
    batch.raise_failures()
    return batch.tables, batch.payloads, batch.rows
