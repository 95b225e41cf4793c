"""ICI "Quarterly Retirement Market Data": release discovery, the data workbook, the snapshot.

Live mode
    ICI publishes one release a quarter, about 11 weeks after the quarter ends (Q1 in June,
    Q2 in September, Q3 in December, Q4 in March of the next year). Its page is
    ``/statistical-report/ret_YY_qN`` and it links the data workbook ``ret_YY_qN_data.xls``,
    uploaded under ``/system/files/YYYY-MM/`` (the upload month, e.g.
    ``/system/files/2022-03/ret_21_q4_data.xls``); releases before the 2020 site move lived
    under ``/info/ret_YY_qN_data.xls``. :meth:`Ici.fetch_latest` steps back quarter by quarter
    from the last finished quarter: a 404 for the release page means "not released yet"; for the
    first page that exists it takes the workbook link from the page, else tries
    :data:`DATA_FILE_PATTERNS` (overridable per instance). Everything is fetched from
    ``ALTFLOW_ICI_BASE_URL`` (default https://www.ici.org) plus those paths.

The workbook (legacy .xls, read with xlrd)
    One sheet per table, each headed by a title block ("Table 1" / "US Total Retirement Market
    Assets" / "Billions of dollars, end-of-period, ..."), a header row of column labels carrying
    footnote markers ("DC plans2", "TSP\u2074"), data columns separated by narrow marker columns
    (an "e" there flags an estimate), rows labelled ``YYYY`` (year-end) or ``YYYY:Qn`` (quarter-end,
    possibly with an "e" marker), blank spacer rows between the annual and quarterly blocks, and
    footnotes below. :func:`parse_workbook` reads Table 1 (US total retirement market assets) and
    the "Defined Contribution Plan Assets by Type of Plan" table, found by their titles.

Snapshot mode
    ``snapshot/ici/retirement_quarterly.csv`` (+ ``retirement_quarterly_government_db.csv``):
    figures read from ICI release texts and the press quoting them, one row per figure with its
    page URL and release (see snapshot/ici/NOTES.md); parsed by :func:`parse_snapshot_csv`.

Both modes give the same long frame (:data:`RAW_SCHEMA`), amounts converted to US dollars.
Any layout change raises :class:`SourceError` with one line naming file, sheet, row and cell.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import polars as pl
import xlrd

from altflow.sources.base import Payload, Source
from altflow.sources.errors import SourceError

SOURCE_ID = "ici"
DATASET = "retirement_quarterly"
GOVERNMENT_DB_DATASET = "retirement_quarterly_government_db"
SNAPSHOT_DATASETS = (DATASET, GOVERNMENT_DB_DATASET)
USD_PER_BILLION = 1e9

RELEASE_PAGE_PATH = "/statistical-report/{release}"
# Where the workbook of a release lives when its page does not link it; tried in order.
# Fields: release (ret_25_q1), yy (25), q (1), pub_year / pub_month (the usual upload month).
DATA_FILE_PATTERNS: tuple[str, ...] = (
    "/system/files/{pub_year}-{pub_month:02d}/{release}_data.xls",
    "/info/{release}_data.xls",
)
MAX_STEPS_BACK = 8  # quarters; two years without a release means something else is wrong

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
    "published": pl.Date,  # release date where known
    "document": pl.Utf8,  # workbook table ("ret_25_q1_data.xls, Table 1") or snapshot file
    "url": pl.Utf8,  # the document the figure was read from
}

_RELEASE = re.compile(r"^ret_(\d{2})_q([1-4])$")
_QUARTER_END = {1: (3, 31), 2: (6, 30), 3: (9, 30), 4: (12, 31)}


# ---------------------------------------------------------------------------------------------
# Releases


@dataclass(frozen=True, order=True)
class Release:
    """One quarterly release, ``ret_YY_qN``; orders by year, then quarter."""

    year: int
    quarter: int

    @classmethod
    def parse(cls, text: str) -> Release:
        match = _RELEASE.match(text.strip())
        if not match:
            raise ValueError(f"{text!r} is not a release id like ret_25_q1")
        return cls(2000 + int(match.group(1)), int(match.group(2)))

    @classmethod
    def last_finished(cls, today: date) -> Release:
        """The quarter before the one `today` falls in."""
        current = cls(today.year, (today.month - 1) // 3 + 1)
        return current.previous()

    @property
    def id(self) -> str:
        return f"ret_{self.year % 100:02d}_q{self.quarter}"

    @property
    def period_end(self) -> date:
        return quarter_end(self.year, self.quarter)

    @property
    def usual_publication(self) -> tuple[int, int]:
        """(year, month) ICI usually publishes it: ~11 weeks after the quarter ends."""
        return (self.year + 1, 3) if self.quarter == 4 else (self.year, self.quarter * 3 + 3)

    def previous(self) -> Release:
        return Release(self.year - 1, 4) if self.quarter == 1 else Release(
            self.year, self.quarter - 1
        )

    def data_paths(self, patterns: tuple[str, ...] = DATA_FILE_PATTERNS) -> list[str]:
        pub_year, pub_month = self.usual_publication
        fields = {"release": self.id, "yy": f"{self.year % 100:02d}", "q": self.quarter,
                  "pub_year": pub_year, "pub_month": pub_month}
        return [p.format(**fields) for p in patterns]


def quarter_end(year: int, quarter: int) -> date:
    month, day = _QUARTER_END[quarter]
    return date(year, month, day)


def release_sort_key(release: str) -> tuple[int, int]:
    r = Release.parse(release)
    return (r.year, r.quarter)


def _is_not_found(err: SourceError) -> bool:
    return err.status in (404, 410)


class Ici(Source):
    id = SOURCE_ID
    default_base_url = "https://www.ici.org"
    min_interval = 1.0  # polite: a handful of requests per run
    today: Callable[[], date] = staticmethod(date.today)  # where discovery starts (tests pin it)

    def __init__(self, *args: Any, data_file_patterns: tuple[str, ...] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.data_file_patterns = data_file_patterns or DATA_FILE_PATTERNS

    # -- snapshot ---------------------------------------------------------------------------
    def fetch_snapshot(self) -> list[Payload]:
        return [self.fetch(d, "") for d in SNAPSHOT_DATASETS]

    # -- live -------------------------------------------------------------------------------
    def find_latest_release(self, today: date) -> tuple[Release, Payload]:
        """The newest release whose page exists, stepping back from the last finished quarter."""
        release = Release.last_finished(today)
        tried = []
        for _ in range(MAX_STEPS_BACK):
            try:
                page = self.fetch(release.id, RELEASE_PAGE_PATH.format(release=release.id))
            except SourceError as err:
                if not _is_not_found(err):
                    raise
                tried.append(release.id)
                release = release.previous()
                continue
            return release, page
        raise SourceError(
            self.id, DATASET, f"no release page found for {', '.join(tried)} (all 404)"
        )

    def data_file_link(self, release: Release, page: Payload) -> str | None:
        """The path of the release's workbook as the release page links it, if it does."""
        html = page.content.decode("utf-8", errors="replace")
        pattern = re.compile(
            r"""href\s*=\s*["']([^"']*?""" + re.escape(release.id)
            + r"""_data\.xlsx?(?:\?[^"']*)?)["']""",
            re.IGNORECASE,
        )
        match = pattern.search(html)
        if not match:
            return None
        split = urlsplit(urljoin(page.url, match.group(1).replace("&amp;", "&")))
        return split.path + (f"?{split.query}" if split.query else "")

    def fetch_workbook(self, release: Release, page: Payload | None = None) -> Payload:
        """The release's workbook: the page's link first, then the documented patterns."""
        paths = [self.data_file_link(release, page)] if page is not None else []
        paths += [p for p in release.data_paths(self.data_file_patterns) if p not in paths]
        misses = []
        for path in filter(None, paths):
            try:
                return self.fetch(DATASET, path)
            except SourceError as err:
                if not _is_not_found(err):
                    raise
                misses.append(self.base_url + path)
        raise SourceError(
            self.id, DATASET,
            f"release {release.id} is published but its workbook was not found at"
            f" {', '.join(misses)} (HTTP 404): has ICI moved the data file?",
        )

    def fetch_latest(self, today: date | None = None) -> tuple[Release, Payload, date | None]:
        """(release, workbook, publication date stated on the release page)."""
        release, page = self.find_latest_release(today or self.today())
        return release, self.fetch_workbook(release, page), published_on(page)


_PUBLISHED = re.compile(r"Washington,\s*DC[;,]\s*([A-Z][a-z]+\s+\d{1,2},\s*\d{4})")


def published_on(page: Payload) -> date | None:
    """The release date from the page's dateline ("Washington, DC; June 18, 2025"), if any."""
    match = _PUBLISHED.search(page.content.decode("utf-8", errors="replace"))
    if not match:
        return None
    try:
        return datetime.strptime(" ".join(match.group(1).replace(",", " ").split()),
                                 "%B %d %Y").date()
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# The workbook


_SUPERSCRIPTS = "\u00b9\u00b2\u00b3\u2070\u2074\u2075\u2076\u2077\u2078\u2079*\u2020\u2021"
_MARK = r"(?:[a-z]{1,2}|[" + _SUPERSCRIPTS + r"]+)"  # "e" (estimated) or a footnote marker
_PERIOD = re.compile(
    r"^(?P<year>(?:19|20)\d{2})(?::\s*Q(?P<q>[1-4]))?\s*(?P<mark>" + _MARK + r")?$",
    re.IGNORECASE,
)
_LOOKS_LIKE_PERIOD = re.compile(r"^(?:19|20)\d{2}(?:\D|$)")
_NUMBER = re.compile(r"^\(?-?\$?\s*[\d,]*\.?\d+\)?$")
_VALUE_MARK = re.compile(r"\s*" + _MARK + "$", re.IGNORECASE)


@dataclass(frozen=True)
class Column:
    series: str
    label: str  # the header as ICI writes it (for messages)
    pattern: str  # regex on the normalised header text
    required: bool = True


@dataclass(frozen=True)
class TableSpec:
    name: str
    title: str  # regex on the title block
    columns: tuple[Column, ...]
    total: str  # series whose value the other columns must add up to (within rounding)


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
        Column("dc_total", "Total", r"^total( dc plans)?$", required=False),
    ),
    total="dc_total",
)
TABLES = (TABLE_1, DC_TABLE)
HEADER_SEARCH_ROWS = 15  # the header row must sit in the title block, within these rows
UNITS = re.compile(r"billions of dollars", re.IGNORECASE)
TOTAL_TOLERANCE = 0.01  # components may not add to the total because of rounding


def normalise_label(text: str) -> str:
    """'State and local\\ngovernment DB plans\u2074' -> 'state and local government db plans'."""
    text = " ".join(str(text).replace("\u2013", "-").replace("\u2014", "-").split()).lower()
    text = text.rstrip(_SUPERSCRIPTS + " ")
    # a footnote number typed after a word ("DC plans2", "TSP4"); keep "401(k)" and "457 plans"
    text = re.sub(r"(?<=[a-z)])\d{1,2}$", "", text).strip()
    return text


class _Sheet:
    """A worksheet as a grid of cells with spreadsheet-style names (B7) for messages."""

    def __init__(self, sheet: Any, file_name: str, fail: Callable[[str], SourceError]) -> None:
        self.sheet = sheet
        self.name = sheet.name
        self.file_name = file_name
        self._fail = fail

    def fail(self, reason: str, row: int | None = None, col: int | None = None) -> SourceError:
        where = f"{self.file_name}, sheet '{self.name}'"
        if row is not None:
            where += f", row {row + 1}"
        if col is not None and row is not None:
            where += f", cell {xlrd.formula.cellname(row, col)}"
        return self._fail(f"{where}: {reason}")

    @property
    def nrows(self) -> int:
        return self.sheet.nrows

    def text(self, row: int, col: int) -> str:
        if row >= self.sheet.nrows or col >= self.sheet.row_len(row):
            return ""
        cell = self.sheet.cell(row, col)
        if cell.ctype == xlrd.XL_CELL_NUMBER:
            value = cell.value
            return str(int(value)) if float(value).is_integer() else repr(value)
        if cell.ctype == xlrd.XL_CELL_TEXT:
            return cell.value.strip()
        return ""

    def cell(self, row: int, col: int) -> Any:
        if row >= self.sheet.nrows or col >= self.sheet.row_len(row):
            return None
        return self.sheet.cell(row, col)

    def row_texts(self, row: int) -> Iterator[tuple[int, str]]:
        for col in range(self.sheet.row_len(row)):
            text = self.text(row, col)
            if text:
                yield col, text

    def number(self, row: int, col: int, label: str) -> tuple[float | None, bool]:
        """(value, estimated) of a data cell; blank is None; anything non-numeric fails."""
        cell = self.cell(row, col)
        if cell is None or cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
            return None, False
        if cell.ctype == xlrd.XL_CELL_NUMBER:
            return float(cell.value), False
        if cell.ctype == xlrd.XL_CELL_TEXT:
            raw = cell.value.strip()
            if not raw:
                return None, False
            stripped = _VALUE_MARK.sub("", raw)
            body = stripped.replace("$", "").replace(",", "").replace(" ", "")
            if _NUMBER.match(stripped) and body:
                negative = body.startswith("(") and body.endswith(")")
                value = float(body.strip("()"))
                return (-value if negative else value), stripped != raw
            raise self.fail(f"non-numeric value {raw!r} under {label!r}", row, col)
        kind = {xlrd.XL_CELL_ERROR: "an error cell", xlrd.XL_CELL_BOOLEAN: "a boolean",
                xlrd.XL_CELL_DATE: "a date"}.get(cell.ctype, f"cell type {cell.ctype}")
        raise self.fail(f"{kind} where a number was expected under {label!r}", row, col)


def _title_block(sheet: _Sheet, rows: int = HEADER_SEARCH_ROWS) -> str:
    lines = []
    for row in range(min(rows, sheet.nrows)):
        lines.extend(text for _, text in sheet.row_texts(row))
    return " | ".join(lines)


_TABLE_NUMBER = re.compile(r"^table\s+\d+$", re.IGNORECASE)


def _find_table_sheet(book: Any, spec: TableSpec, file_name: str,
                      fail: Callable[[str], SourceError]) -> _Sheet:
    """The sheet whose title block names the table (not the contents sheet listing them all)."""
    title = re.compile(spec.title, re.IGNORECASE)
    for sheet in book.sheets():
        grid = _Sheet(sheet, file_name, fail)
        texts = [" ".join(text.split()) for row in range(min(6, grid.nrows))
                 for _, text in grid.row_texts(row)]
        if sum(bool(_TABLE_NUMBER.match(t)) for t in texts) > 1:
            continue  # a contents sheet
        if any(title.search(t) for t in texts):
            return grid
    raise fail(
        f"{file_name}: no sheet titled like {spec.title!r} ({spec.name}) among sheets"
        f" {book.sheet_names()}: sheet missing or renamed"
    )


def _header_labels(text: str, col: int, groups: dict[int, str]) -> list[str]:
    """A header cell's candidate labels: under a group header ("Government DB plans" over
    "State and local" and "Federal") the combined "state and local government db plans"
    comes first, then the cell alone."""
    label = normalise_label(text)
    left = [c for c in groups if c <= col]
    if not left:
        return [label]
    group = normalise_label(groups[max(left)])
    return [f"{label} {group}", label]


def _find_header(sheet: _Sheet, spec: TableSpec) -> tuple[int, dict[str, int]]:
    """The header row (in the title block) and the column of every series in `spec`."""
    compiled = [(c, re.compile(c.pattern)) for c in spec.columns]
    best: tuple[int, int, dict[str, int]] = (-1, 0, {})
    for row in range(min(HEADER_SEARCH_ROWS, sheet.nrows)):
        found: dict[str, int] = {}
        groups = dict(sheet.row_texts(row - 1)) if row > 0 else {}
        for col, text in sheet.row_texts(row):
            for label in _header_labels(text, col, groups):
                for column, regex in compiled:
                    if not regex.match(label):
                        continue
                    # the grand total is the rightmost "Total" (a group may have its own)
                    if column.series not in found or column.series == spec.total:
                        found[column.series] = col
                    break
                else:
                    continue
                break
        if len(found) > best[1]:
            best = (row, len(found), found)
    row, hits, found = best
    if hits < 2:
        expected = ", ".join(c.label for c in spec.columns)
        raise sheet.fail(
            f"header row ({expected}) not found in rows 1-{HEADER_SEARCH_ROWS}: header moved?"
        )
    missing = [c for c in spec.columns if c.series not in found and c.required]
    if missing:
        cells = "; ".join(f"{t!r}" for _, t in sheet.row_texts(row))
        raise sheet.fail(
            f"column {missing[0].label!r} not found in the header (found {cells}):"
            " column renamed?",
            row, None,
        )
    return row, found


def _period(sheet: _Sheet, row: int) -> tuple[str, date, str, bool] | None:
    """(label, period_end, frequency, estimated) of a data row; None for other rows."""
    cell = sheet.cell(row, 0)
    if cell is None:
        return None
    if cell.ctype == xlrd.XL_CELL_NUMBER and float(cell.value).is_integer():
        raw = str(int(cell.value))
    elif cell.ctype == xlrd.XL_CELL_TEXT:
        raw = " ".join(cell.value.split())
    else:
        return None
    match = _PERIOD.match(raw)
    if not match:
        if _LOOKS_LIKE_PERIOD.match(raw) and len(raw) <= 12:
            raise sheet.fail(f"unrecognised period label {raw!r} (expected YYYY or YYYY:Qn)",
                             row, 0)
        return None
    year, quarter = int(match.group("year")), match.group("q")
    estimated = bool(match.group("mark")) and match.group("mark").lower().startswith("e")
    if quarter:
        return f"{year}:Q{quarter}", quarter_end(year, int(quarter)), "quarterly", estimated
    return str(year), date(year, 12, 31), "annual", estimated


def _read_table(sheet: _Sheet, spec: TableSpec) -> list[dict[str, Any]]:
    title_block = _title_block(sheet)
    if not UNITS.search(title_block):
        raise sheet.fail("title block does not say 'Billions of dollars': units changed?")
    header_row, columns = _find_header(sheet, spec)
    labels = {c.series: c.label for c in spec.columns}
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for row in range(header_row + 1, sheet.nrows):
        period = _period(sheet, row)
        if period is None:
            continue
        label, period_end, frequency, row_estimated = period
        if label in seen:
            raise sheet.fail(f"period {label} appears twice (rows {seen[label] + 1} and"
                             f" {row + 1})", row, 0)
        seen[label] = row
        values: dict[str, tuple[float | None, bool]] = {}
        for series, col in columns.items():
            value, marked = sheet.number(row, col, labels[series])
            beside = normalise_label(sheet.text(row, col + 1)) == "e"
            values[series] = (value, marked or beside)
        present = {s: v for s, (v, _) in values.items() if v is not None}
        if not present:
            continue
        parts = [v for s, v in present.items() if s != spec.total]
        total = present.get(spec.total)
        if total is not None and len(parts) == len(present) - 1 == len(columns) - 1:
            gap = abs(sum(parts) - total)
            if gap > TOTAL_TOLERANCE * total:
                raise sheet.fail(
                    f"components add up to {sum(parts):,.0f} but {labels[spec.total]!r} is"
                    f" {total:,.0f} (a column moved or was relabelled?)",
                    row, columns[spec.total],
                )
        for series, (value, marked) in values.items():
            if value is None or series == "dc_total":
                continue
            rows.append({
                "period_end": period_end, "period": label, "frequency": frequency,
                "series": series, "value_billions_usd": value,
                "estimated": row_estimated or marked, "_row": row, "_col": columns[series],
            })
    if not rows:
        raise sheet.fail(f"no data rows (YYYY or YYYY:Qn in column A) below the header at row"
                         f" {header_row + 1}")
    # a column whose header moved off its data: every cell under the header is empty
    for series, col in columns.items():
        if series != "dc_total" and not any(r["series"] == series for r in rows):
            raise sheet.fail(f"no values under {labels[series]!r}: header moved off its data?",
                             header_row, col)
    return rows


def read_workbook(content: bytes, file_name: str, fail: Callable[[str], SourceError]) -> Any:
    """The workbook opened with xlrd, or a one-line failure for what is not a readable .xls."""
    if content[:4] == b"PK\x03\x04":
        raise fail(f"{file_name} is an .xlsx (OOXML) workbook; altflow reads ICI's .xls layout"
                   " with xlrd: add an .xlsx reader to altflow.sources.ici")
    head = content.lstrip()[:512].lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        raise fail(f"got an HTML page where the workbook {file_name} was expected"
                   " (error or bot-challenge page?)")
    if not content:
        raise fail(f"{file_name} is empty")
    try:
        return xlrd.open_workbook(file_contents=content, on_demand=False)
    except Exception as exc:  # xlrd raises a handful of unrelated types for damaged files
        raise fail(f"{file_name} is not a readable .xls workbook ({type(exc).__name__}: {exc};"
                   " truncated download?)") from None


def parse_workbook(payload: Payload, release: Release, published: date | None = None
                   ) -> pl.DataFrame:
    """Table 1 and the DC-by-type table of a release workbook, long form, in US dollars."""
    file_name = urlsplit(payload.url).path.rsplit("/", 1)[-1] or f"{release.id}_data.xls"
    book = read_workbook(payload.content, file_name, payload.fail)
    records = []
    for spec in TABLES:
        sheet = _find_table_sheet(book, spec, file_name, payload.fail)
        for rec in _read_table(sheet, spec):
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
        published=pl.lit(published, dtype=pl.Date),
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


def period_label_of(period_end: date) -> str:
    return f"{period_end.year}:Q{(period_end.month - 1) // 3 + 1}"


# ---------------------------------------------------------------------------------------------
# The snapshot


SNAPSHOT_COLUMNS = ("period_end", "series", "value_billions_usd", "release", "url", "published")


def parse_snapshot_csv(payload: Payload) -> pl.DataFrame:
    """A snapshot file of published figures (one per row, with its page URL) in raw form."""
    file_name = payload.dataset + ".csv"
    rows = list(csv.reader(io.StringIO(payload.text("CSV"))))
    if not rows:
        raise payload.fail(f"{file_name}: empty CSV")
    header = [h.strip() for h in rows[0]]
    if tuple(header) != SNAPSHOT_COLUMNS:
        raise payload.fail(f"{file_name}, row 1: header {header}, expected"
                           f" {list(SNAPSHOT_COLUMNS)}: column renamed?")
    records = []
    for line, row in enumerate(rows[1:], start=2):
        if not "".join(row).strip():
            continue
        if len(row) != len(header):
            raise payload.fail(f"{file_name}, row {line}: {len(row)} cells, expected"
                               f" {len(header)} (truncated file?)")
        cell = dict(zip(header, (c.strip() for c in row), strict=True))

        def bad(column: str, reason: str, line: int = line, cell: dict = cell) -> SourceError:
            return payload.fail(f"{file_name}, row {line}, column {column}:"
                                f" {reason} {cell[column]!r}")

        try:
            period_end = date.fromisoformat(cell["period_end"])
        except ValueError:
            raise bad("period_end", "bad date") from None
        if (period_end.month, period_end.day) not in _QUARTER_END.values():
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
        if not cell["url"].startswith(("http://", "https://")):
            raise bad("url", "not a URL")
        try:
            published = date.fromisoformat(cell["published"]) if cell["published"] else None
        except ValueError:
            raise bad("published", "bad date") from None
        records.append({
            "period_end": period_end, "period": period_label_of(period_end),
            "frequency": "quarterly", "series": cell["series"],
            "value_billions_usd": billions, "value_usd": billions * USD_PER_BILLION,
            "estimated": None, "release": release.id, "as_of": release.period_end,
            "published": published,
            "document": f"{file_name}, row {line} (figure stated in the page at url)",
            "url": cell["url"],
        })
    if not records:
        raise payload.fail(f"{file_name}: a header but no figures")
    frame = pl.DataFrame(records, schema=RAW_SCHEMA)
    dupes = frame.group_by("period_end", "series", "release").len().filter(pl.col("len") > 1)
    if dupes.height:
        first = dupes.row(0, named=True)
        raise payload.fail(f"{file_name}: {first['series']} {first['period_end']} appears twice"
                           f" for release {first['release']}")
    return frame


# ---------------------------------------------------------------------------------------------
# Both modes


def fetch_all(source: Ici, today: date | None = None) -> tuple[pl.DataFrame, list[Payload]]:
    """Every ICI figure altflow uses, long form in USD; raises before returning on any fault."""
    if source.mode == "snapshot":
        payloads = source.fetch_snapshot()
        frames = [parse_snapshot_csv(p) for p in payloads]
        payloads = [p.with_as_of(f["period_end"].max()) for p, f in zip(payloads, frames,
                                                                        strict=True)]
        return pl.concat(frames), payloads
    release, workbook, published = source.fetch_latest(today)
    frame = parse_workbook(workbook, release, published)
    return frame, [workbook.with_as_of(frame["period_end"].max())]
