"""A generic reader for statistical tables in legacy .xls workbooks (xlrd), as ICI lays them out.

A table sits on its own sheet under a title block (table number, title, units line), then a
header row of column labels that may carry footnote markers ("DC plans2", "TSP\u2074") and may be
grouped under a second header row above ("Government DB plans" over "State and local" /
"Federal"); data columns may be separated by narrow marker columns (an "e" there flags an
estimate); data rows are labelled ``YYYY`` (year-end) or ``YYYY:Qn`` (quarter-end, possibly with
an "e" marker); blank spacer rows and footnotes are skipped. What a table holds is described by
a :class:`TableSpec` (title, units, columns by header pattern, which column is the total), so
the reader itself knows nothing about retirement assets.

Every layout fault raises :class:`SourceError` (through the `fail` callable) with one line naming
file, sheet, row and cell.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import xlrd

from altflow.sources.errors import SourceError
from altflow.sources.ici_schema import quarter_end

Fail = Callable[[str], SourceError]

_SUPERSCRIPTS = "\u00b9\u00b2\u00b3\u2070\u2074\u2075\u2076\u2077\u2078\u2079*\u2020\u2021"
_MARK = r"(?:[a-z]{1,2}|[" + _SUPERSCRIPTS + r"]+)"  # "e" (estimated) or a footnote marker
_PERIOD = re.compile(
    r"^(?P<year>(?:19|20)\d{2})(?::\s*Q(?P<q>[1-4]))?\s*(?P<mark>" + _MARK + r")?$",
    re.IGNORECASE,
)
_LOOKS_LIKE_PERIOD = re.compile(r"^(?:19|20)\d{2}(?:\D|$)")
_NUMBER = re.compile(r"^\(?-?\$?\s*[\d,]*\.?\d+\)?$")
_VALUE_MARK = re.compile(r"\s*" + _MARK + "$", re.IGNORECASE)
_TABLE_NUMBER = re.compile(r"^table\s+\d+$", re.IGNORECASE)
HEADER_SEARCH_ROWS = 15  # the header row must sit in the title block, within these rows
TOTAL_TOLERANCE = 0.01  # components may not add to the total because of rounding


@dataclass(frozen=True)
class Column:
    series: str
    label: str  # the header as the publisher writes it (for messages)
    pattern: str  # regex on the normalised header text
    required: bool = True
    check_only: bool = False  # read for the consistency check, not returned


@dataclass(frozen=True)
class TableSpec:
    name: str
    title: str  # regex on the title block
    columns: tuple[Column, ...]
    total: str  # series whose value the other columns must add up to (within rounding)
    units: str = r"billions of dollars"  # regex the title block must match
    units_label: str = "Billions of dollars"  # for the message when it does not


def normalise_label(text: str) -> str:
    """'State and local\\ngovernment DB plans\u2074' -> 'state and local government db plans'."""
    text = " ".join(str(text).replace("\u2013", "-").replace("\u2014", "-").split()).lower()
    text = text.rstrip(_SUPERSCRIPTS + " ")
    # a footnote number typed after a word ("DC plans2", "TSP4"); keep "401(k)" and "457 plans"
    text = re.sub(r"(?<=[a-z)])\d{1,2}$", "", text).strip()
    return text


class Sheet:
    """A worksheet as a grid of cells with spreadsheet-style names (B7) for messages."""

    def __init__(self, sheet: Any, file_name: str, fail: Fail) -> None:
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


def open_workbook(content: bytes, file_name: str, fail: Fail) -> Any:
    """The workbook opened with xlrd, or a one-line failure for what is not a readable .xls."""
    if content[:4] == b"PK\x03\x04":
        raise fail(f"{file_name} is an .xlsx (OOXML) workbook; altflow reads the .xls layout"
                   " with xlrd: add an .xlsx reader to altflow.sources.ici_xls")
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


def find_table_sheet(book: Any, spec: TableSpec, file_name: str, fail: Fail) -> Sheet:
    """The sheet whose title block names the table (not the contents sheet listing them all)."""
    title = re.compile(spec.title, re.IGNORECASE)
    for sheet in book.sheets():
        grid = Sheet(sheet, file_name, fail)
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


def _title_block(sheet: Sheet, rows: int = HEADER_SEARCH_ROWS) -> str:
    lines = []
    for row in range(min(rows, sheet.nrows)):
        lines.extend(text for _, text in sheet.row_texts(row))
    return " | ".join(lines)


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


def find_header(sheet: Sheet, spec: TableSpec) -> tuple[int, dict[str, int]]:
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


def period_of(sheet: Sheet, row: int) -> tuple[str, date, str, bool] | None:
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


def _check_total(sheet: Sheet, spec: TableSpec, row: int, present: dict[str, float],
                 columns: dict[str, int], labels: dict[str, str]) -> None:
    """Components must add up to the total within rounding (when every column has a value)."""
    total = present.get(spec.total)
    parts = [v for s, v in present.items() if s != spec.total]
    if total is None or not len(parts) == len(present) - 1 == len(columns) - 1:
        return
    gap = abs(sum(parts) - total)
    if gap > TOTAL_TOLERANCE * abs(total):
        raise sheet.fail(
            f"components add up to {sum(parts):,.0f} but {labels[spec.total]!r} is"
            f" {total:,.0f}, {gap / abs(total):.1%} apart (more than the"
            f" {TOTAL_TOLERANCE:.0%} rounding allows: a column moved or was relabelled?)",
            row, columns[spec.total],
        )


def read_table(sheet: Sheet, spec: TableSpec) -> list[dict[str, Any]]:
    """Every value of the table, one record per period and column (check-only columns
    excluded), with `_row` / `_col` for messages; layout faults fail with one line."""
    if not re.search(spec.units, _title_block(sheet), re.IGNORECASE):
        raise sheet.fail(f"title block does not say {spec.units_label!r}: units changed?")
    header_row, columns = find_header(sheet, spec)
    labels = {c.series: c.label for c in spec.columns}
    check_only = {c.series for c in spec.columns if c.check_only}
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for row in range(header_row + 1, sheet.nrows):
        period = period_of(sheet, row)
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
            if value is not None and value < 0:
                raise sheet.fail(f"negative amount {value:,.0f} under {labels[series]!r}"
                                 " (assets cannot be negative: sign or layout error?)", row, col)
            beside = normalise_label(sheet.text(row, col + 1)) == "e"
            values[series] = (value, marked or beside)
        present = {s: v for s, (v, _) in values.items() if v is not None}
        if not present:
            continue
        _check_total(sheet, spec, row, present, columns, labels)
        for series, (value, marked) in values.items():
            if value is None or series in check_only:
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
        if series not in check_only and not any(r["series"] == series for r in rows):
            raise sheet.fail(f"no values under {labels[series]!r}: header moved off its data?",
                             header_row, col)
    return rows
