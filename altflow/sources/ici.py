"""ICI "Quarterly Retirement Market Data": the source, its workbook tables, both modes.

The work is split three ways (this module ties them together and re-exports their names):

* :mod:`altflow.sources.ici_releases`: release ids, discovery of the latest release and of its
  workbook on ici.org, the release date on the release page;
* :mod:`altflow.sources.ici_xls`: a generic reader of statistical tables in .xls workbooks;
  here it is given ICI's Table 1 (US total retirement market assets) and the "Defined
  Contribution Plan Assets by Type of Plan" table as :class:`TableSpec`;
* :mod:`altflow.sources.ici_snapshot`: the embedded snapshot's published figures and releases.

Both modes give the same long frame (:data:`RAW_SCHEMA`), amounts converted to US dollars, one
row per period, series and release (a later release revising a quarter adds a row; both are
kept and the staging model picks the latest). Any layout change raises :class:`SourceError`
with one line naming file, sheet, row and cell.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import polars as pl

from altflow.sources.base import Batch, DatasetResult, Payload, Source
from altflow.sources.ici_releases import (
    DATA_FILE_PATTERNS,
    MAX_STEPS_BACK,
    RELEASE_PAGE_PATH,
    Release,
    data_file_link,
    fetch_workbook,
    find_latest_release,
    published_on,
    release_sort_key,
)
from altflow.sources.ici_schema import (
    DATASET,
    FIGURE_DATASETS,
    GOVERNMENT_DB_DATASET,
    RAW_SCHEMA,
    RELEASES_DATASET,
    SERIES,
    SNAPSHOT_DATASETS,
    SOURCE_ID,
    USD_PER_BILLION,
    period_label_of,
    quarter_end,
)
from altflow.sources.ici_snapshot import parse_releases_csv, parse_snapshot_csv
from altflow.sources.ici_xls import (
    Column,
    TableSpec,
    find_table_sheet,
    normalise_label,
    open_workbook,
    read_table,
)

__all__ = [
    "DATASET", "DATA_FILE_PATTERNS", "DC_TABLE", "FIGURE_DATASETS", "GOVERNMENT_DB_DATASET",
    "MAX_STEPS_BACK", "RAW_SCHEMA", "RAW_TABLE", "RELEASES_DATASET", "RELEASE_PAGE_PATH",
    "SERIES", "SNAPSHOT_DATASETS", "SOURCE_ID", "TABLES", "TABLE_1", "Column", "Ici", "Release",
    "TableSpec", "data_file_link", "fetch_all", "normalise_label", "parse_releases_csv",
    "parse_snapshot_csv", "parse_workbook", "period_label_of", "published_on", "quarter_end",
    "release_sort_key",
]

RAW_TABLE = "raw.ici_retirement_assets"

TABLE_1 = TableSpec(
    name="Table 1",
    title=r"\bu\.?\s?s\.? total retirement (market )?assets\b",
    columns=(
        Column("ira", "IRAs", r"^(individual retirement accounts|iras)$"),
        Column("dc_plans", "DC plans", r"^(defined contribution|dc) plans$"),
        Column("private_db", "Private-sector DB plans",
               r"^private[- ]sector (db|defined benefit) plans$"),
        Column("state_local_db", "State and local government DB plans",
               r"^state and local government (db|defined benefit) plans$"),
        Column("federal_db", "Federal DB plans",
               r"^federal (government )?(db|defined benefit) plans$"),
        Column("annuities", "Annuity reserves", r"^annuity reserves$"),
        Column("total_retirement", "Total", r"^total( retirement (market )?assets)?$"),
    ),
    total="total_retirement",
)
DC_TABLE = TableSpec(
    name="DC plans by type",
    title=r"\bdefined contribution plan assets by type of plan\b",
    columns=(
        Column("401k", "401(k) plans", r"^401\(k\) plans$"),
        Column("other_private_dc", "Other private-sector DC plans",
               r"^other private[- ]sector (dc|defined contribution) plans$"),
        Column("403b", "403(b) plans", r"^403\(b\) plans$"),
        Column("457", "457 plans", r"^(state and local government )?457 plans$"),
        Column("tsp", "TSP", r"^(tsp|federal employees' thrift savings plan|thrift savings plan)$"),
        # read for the consistency check only (Table 1 gives dc_plans)
        Column("dc_total", "Total", r"^total( dc plans)?$", required=False, check_only=True),
    ),
    total="dc_total",
)
TABLES = (TABLE_1, DC_TABLE)


class Ici(Source):
    id = SOURCE_ID
    default_base_url = "https://www.ici.org"
    min_interval = 1.0  # polite: a handful of requests per run
    today: Callable[[], date] = staticmethod(date.today)  # where discovery starts (tests pin it)

    def __init__(self, *args: Any, data_file_patterns: tuple[str, ...] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.data_file_patterns = data_file_patterns or DATA_FILE_PATTERNS

    def fetch_snapshot(self) -> list[Payload]:
        return [self.fetch(d, "") for d in SNAPSHOT_DATASETS]

    def find_latest_release(self, today: date) -> tuple[Release, Payload]:
        return find_latest_release(self, today)

    def data_file_link(self, release: Release, page: Payload) -> str | None:
        return data_file_link(release, page)

    def fetch_workbook(self, release: Release, page: Payload | None = None) -> Payload:
        return fetch_workbook(self, release, page, self.data_file_patterns)

    def fetch_latest(self, today: date | None = None) -> tuple[Release, Payload, date | None]:
        """(release, workbook, publication date stated on the release page)."""
        release, page = self.find_latest_release(today or self.today())
        return release, self.fetch_workbook(release, page), published_on(page)

    def batch(self, today: date | None = None) -> Batch:
        """Every ICI figure altflow uses as one :class:`Batch` (table raw.ici_retirement_assets).

        Live: one dataset, the latest release's workbook; a fault (network, HTTP, a refused
        workbook) is a :class:`DatasetFailure` of that dataset, so the factory keeps the last
        good rows. Snapshot: one dataset per figure file (the releases file dates them and adds
        no rows); any fault raises, the embedded copy must load.
        """
        batch = self.new_batch({RAW_TABLE: RAW_SCHEMA})
        if self.mode == "snapshot":
            frame, payloads, rows = _collect(self, today)
            for payload, count in zip(payloads, rows, strict=True):
                part = frame.filter(pl.col("document").str.starts_with(payload.dataset + ".csv"))
                assert part.height == count, (payload.dataset, part.height, count)
                # the releases file adds no rows of its own; it dates the figures' rows
                dated = (frame["release_date"].is_not_null().sum()
                         if payload.dataset == RELEASES_DATASET else None)
                batch.results.append(DatasetResult(payload, {RAW_TABLE: part}, row_count=dated))
        else:
            def work() -> DatasetResult:
                frame, payloads, _ = _collect(self, today)
                return DatasetResult(payloads[0], {RAW_TABLE: frame})

            self.attempt(batch, DATASET, (RAW_TABLE,),
                         self.endpoint(RELEASE_PAGE_PATH.format(release="ret_YY_qN")), work)
        frame = batch.table(RAW_TABLE)
        if frame.height:
            batch.metadata.update({
                "releases": ", ".join(sorted(set(frame["release"]),
                                             key=release_sort_key)[-3:]),
                "latest_period_end": str(frame["period_end"].max()),
            })
        return batch


def parse_workbook(payload: Payload, release: Release, published: date | None = None
                   ) -> pl.DataFrame:
    """Table 1 and the DC-by-type table of a release workbook, long form, in US dollars."""
    file_name = urlsplit(payload.url).path.rsplit("/", 1)[-1] or f"{release.id}_data.xls"
    book = open_workbook(payload.content, file_name, payload.fail)
    records = []
    for spec in TABLES:
        sheet = find_table_sheet(book, spec, file_name, payload.fail)
        for rec in read_table(sheet, spec):
            rec["document"] = f"{file_name}, sheet '{sheet.name}' ({spec.name})"
            records.append(rec)
    latest = max(r["period_end"] for r in records)
    if latest != release.period_end:
        raise payload.fail(
            f"{file_name}: latest period is {latest} but release {release.id} runs to"
            f" {release.period_end}: wrong or stale file?"
        )
    frame = pl.DataFrame(
        [{k: v for k, v in r.items() if not k.startswith("_")} for r in records]
    )
    frame = _with_government_db(frame)
    return frame.with_columns(
        value_usd=pl.col("value_billions_usd") * USD_PER_BILLION,
        release=pl.lit(release.id),
        as_of=pl.lit(release.period_end),
        release_date=pl.lit(published, dtype=pl.Date),
        release_date_basis=pl.lit("stated" if published else "unknown"),
        url=pl.lit(payload.url),
    ).select(list(RAW_SCHEMA)).cast(RAW_SCHEMA)


def _with_government_db(frame: pl.DataFrame) -> pl.DataFrame:
    """Add government_db = state and local + federal DB (how ICI's release text reports it)."""
    parts = frame.filter(pl.col("series").is_in(["state_local_db", "federal_db"]))
    combined = (
        parts.group_by("period_end", "period", "frequency", maintain_order=True)
        .agg(
            value_billions_usd=pl.col("value_billions_usd").sum(),
            estimated=pl.col("estimated").any(),
            document=pl.col("document").first() + " (state and local + federal DB plans)",
            n=pl.len(),
        )
        .filter(pl.col("n") == 2)
        .drop("n")
        .with_columns(series=pl.lit("government_db"))
    )
    return pl.concat([frame, combined.select(frame.columns)])


def _collect(source: Ici, today: date | None) -> tuple[pl.DataFrame, list[Payload], list[int]]:
    """(frame, payloads, raw rows per payload); raises before returning on any fault."""
    if source.mode == "snapshot":
        payloads = source.fetch_snapshot()
        by_dataset = {p.dataset: p for p in payloads}
        releases = parse_releases_csv(by_dataset[RELEASES_DATASET])
        frames = [parse_snapshot_csv(by_dataset[d], releases) for d in FIGURE_DATASETS]
        frame = pl.concat(frames)
        out = [by_dataset[d].with_as_of(f["period_end"].max())
               for d, f in zip(FIGURE_DATASETS, frames, strict=True)]
        out.append(by_dataset[RELEASES_DATASET].with_as_of(frame["release_date"].max()))
        return frame, out, [f.height for f in frames] + [0]
    release, workbook, published = source.fetch_latest(today)
    frame = parse_workbook(workbook, release, published)
    return frame, [workbook.with_as_of(frame["period_end"].max())], [frame.height]


def fetch_all(source: Ici, today: date | None = None) -> tuple[pl.DataFrame, list[Payload]]:
    """Every ICI figure altflow uses, long form in USD; raises before returning on any fault."""
    frame, payloads, _ = _collect(source, today)
    return frame, payloads
