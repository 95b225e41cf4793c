"""`altflow query`: read-only SQL over the warehouse in a sandbox, printed for people or tools.

Why its own module: the query is user input. DuckDB is opened read-only with external access
disabled and its configuration locked, so SQL can read the warehouse's tables and nothing
else: no ``COPY ... TO``, ``read_text``/``read_csv`` of other files, ``ATTACH``, ``INSTALL``
or ``LOAD``, and no ``SET`` to undo it. Output:

- ``table`` (terminal) and ``markdown``: readable numbers (thousands separators for amounts,
  four significant digits for small fractions), NULL as an empty cell, long cells wrapped
  (never cut) to fit the terminal width;
- ``csv`` and ``json``: exact values (full float precision, decimals as written);
- ``parquet``: the result's Arrow table, to ``--out`` only.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

FORMATS = ("table", "csv", "json", "markdown", "parquet")
BINARY_FORMATS = ("parquet",)
SANDBOX = {
    "enable_external_access": False,  # no files, URLs, extensions or Python scans beyond the DB
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,  # last: nothing above can be SET back
}


class QueryError(Exception):
    """One line for the user; `usage` is True when the input (not the work) is at fault."""

    def __init__(self, message: str, usage: bool = True):
        super().__init__(" ".join(message.split()))
        self.usage = usage


@dataclass
class Result:
    """A query's columns, DuckDB type names and rows as Python values."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]
    arrow: Any = None  # pyarrow.Table, only when asked for (parquet)


def open_sandboxed(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection that can reach nothing but the warehouse file itself."""
    if not path.exists():
        raise QueryError(f"no warehouse at {path}: run `altflow run` first "
                         "(or set ALTFLOW_WAREHOUSE)")
    if path.is_dir():
        raise QueryError(f"{path} is a directory, not a DuckDB warehouse file")
    try:
        return duckdb.connect(str(path), read_only=True, config=dict(SANDBOX))
    except duckdb.Error as exc:
        raise QueryError(f"{path} is not a readable DuckDB warehouse: {exc}") from None


def run_query(path: Path, sql: str, want_arrow: bool = False) -> Result:
    """Run one SQL text in the sandbox; every failure is a QueryError with one line."""
    con = open_sandboxed(path)
    try:
        relation = con.sql(sql)
        if relation is None:  # a statement without a result (e.g. SET, refused anyway)
            return Result([], [], [])
        columns, types = list(relation.columns), [str(t) for t in relation.types]
        if want_arrow:
            table = relation.to_arrow_table()
            return Result(columns, types, [], table)
        return Result(columns, types, relation.fetchall())
    except duckdb.Error as exc:
        raise QueryError(f"query failed: {exc}") from None
    finally:
        con.close()


# --- values -----------------------------------------------------------------------------------

def _sig(x: float, digits: int = 4) -> str:
    """x to `digits` significant digits in fixed notation, trailing zeros dropped."""
    decimals = max(digits - 1 - math.floor(math.log10(abs(x))), 0)
    text = f"{x:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def readable(value: Any) -> str:
    """A value as a person reads it: 13,900,000,000,000 / 0.01234 / 2025-06-30; NULL empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)  # years stay 2025
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        a = abs(value)
        if a == 0:
            return "0"
        if a >= 1e18 or a < 1e-6:
            return f"{value:.4g}"
        if a >= 1e5 or value == int(value):
            return f"{value:,.0f}"
        if a >= 1e3:
            return f"{value:,.2f}".rstrip("0").rstrip(".")
        return _sig(value)
    return exact(value)


def exact(value: Any) -> str:
    """A value written without loss (for csv): floats round-trip, decimals as stored."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("NaN" if math.isnan(value)
                                                          else ("inf" if value > 0 else "-inf"))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple | dict):
        return json.dumps(_jsonable(value), ensure_ascii=False)
    return str(value)


def _jsonable(value: Any) -> Any:
    """Python values as JSON values: NaN and inf as null (JSON has none), dates as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    return exact(value)


def _float32(types: list[str], rows: list[tuple]) -> list[tuple]:
    """FLOAT (REAL) columns come back as doubles (0.1 -> 0.10000000149); keep their own digits."""
    cols = [i for i, t in enumerate(types) if t in ("FLOAT", "REAL")]
    if not cols:
        return rows
    import numpy as np

    def fix(row: tuple) -> tuple:
        out = list(row)
        for i in cols:
            if isinstance(out[i], float) and math.isfinite(out[i]):
                out[i] = float(str(np.float32(out[i])))
        return tuple(out)

    return [fix(r) for r in rows]


# --- formats ----------------------------------------------------------------------------------

_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "REAL", "DOUBLE", "DECIMAL")


def _is_numeric(type_name: str) -> bool:
    return type_name.split("(")[0] in _NUMERIC


def terminal_width() -> int:
    """The terminal's width (COLUMNS when set, 100 when output is not a terminal)."""
    return max(shutil.get_terminal_size((100, 24)).columns, 40)


WRAP_MIN = 16  # a wrapped text column keeps at least this many characters a line
SHORT = 24  # text cells up to this long (dates, ids, names) never wrap


def _header_lines(name: str, width: int) -> str:
    """A column name wrapped at its underscores into lines of at most `width` (if it can)."""
    parts = [part + "_" for part in name.split("_")]
    parts[-1] = parts[-1][:-1]
    lines = [""]
    for part in parts:
        if lines[-1] and len(lines[-1]) + len(part) > width:
            lines.append("")
        lines[-1] += part
    return "\n".join(lines)


def to_table(result: Result, width: int | None = None) -> str:
    """An aligned table that fits `width`; long text cells wrap onto more lines, never cut.

    Numbers and short text never wrap; long column names wrap at their underscores. When even
    those do not fit side by side, the rows are printed as records (one `column  value` line
    each), which fits any width.
    """
    from rich import box
    from rich.console import Console
    from rich.table import Table

    if not result.columns:
        return "(no result)"
    width = width or terminal_width()
    rows = _float32(result.types, result.rows)
    cells = [[readable(v) for v in row] for row in rows]
    noun = "row" if len(rows) == 1 else "rows"
    cell_w = [max([0, *(len(line) for r in cells for line in r[i].splitlines() or [""])])
              for i in range(len(result.columns))]
    head_w = [max(len(part) + 1 for part in name.split("_")) for name in result.columns]
    natural = [max(c, len(n)) for c, n in zip(cell_w, result.columns, strict=True)]
    numeric = [_is_numeric(t) for t in result.types]
    fixed = [num or c <= SHORT for num, c in zip(numeric, cell_w, strict=True)]
    gaps = 2 * (len(natural) - 1)
    squeezed = [max(c, h) if f else min(n, WRAP_MIN)
                for c, h, n, f in zip(cell_w, head_w, natural, fixed, strict=True)]
    if sum(squeezed) + gaps > width:
        return _records(result.columns, cells, width) + f"\n({len(rows):,} {noun})"
    tight = sum(natural) + gaps > width
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold",
                  expand=False)
    for i, name in enumerate(result.columns):
        justify = "right" if numeric[i] else "left"
        if not tight:
            table.add_column(name, justify=justify, no_wrap=True, min_width=natural[i])
        elif fixed[i]:
            w = squeezed[i]
            table.add_column(_header_lines(name, w), justify=justify, no_wrap=True, width=w)
        else:
            table.add_column(name, justify=justify, overflow="fold", min_width=squeezed[i])
    for row in cells:
        table.add_row(*row)
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False,
                      highlight=False, markup=False, emoji=False)
    console.print(table)
    return console.file.getvalue().rstrip("\n") + f"\n({len(rows):,} {noun})"


def _records(columns: list[str], cells: list[list[str]], width: int) -> str:
    """Rows as blocks of `column  value` lines, values wrapped to the width (like psql \\x)."""
    import textwrap

    label = min(max(len(c) for c in columns), max(width // 3, 8))
    room = max(width - label - 2, 20)
    out: list[str] = []
    for k, row in enumerate(cells, 1):
        out.append(f"-[ row {k} ]" + "-" * max(width - 12 - len(str(k)), 0))
        for name, value in zip(columns, row, strict=True):
            lines = textwrap.wrap(value, room, break_long_words=True, break_on_hyphens=False,
                                  replace_whitespace=False) or [""]
            head = name if len(name) <= label else name[: label - 1] + "…"
            out.append(f"{head:<{label}}  {lines[0]}")
            out.extend(f"{'':<{label}}  {line}" for line in lines[1:])
    return "\n".join(out)


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def to_markdown(result: Result) -> str:
    """A GitHub-flavoured pipe table with readable numbers (cells escaped, never cut)."""
    if not result.columns:
        return ""
    lines = ["| " + " | ".join(_md_cell(c) for c in result.columns) + " |",
             "|" + "|".join("---:" if _is_numeric(t) else "---" for t in result.types) + "|"]
    for row in _float32(result.types, result.rows):
        lines.append("| " + " | ".join(_md_cell(readable(v)) for v in row) + " |")
    return "\n".join(lines)


def to_csv(result: Result) -> str:
    """RFC 4180 CSV with a header; exact values, NULL as an empty field."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result.columns)
    for row in _float32(result.types, result.rows):
        writer.writerow([exact(v) for v in row])
    return buffer.getvalue().rstrip("\n")


def to_json(result: Result) -> str:
    """A list of row objects; exact numbers, NULL (and NaN/inf, which JSON lacks) as null."""
    rows = _float32(result.types, result.rows)
    records = [{c: _jsonable(v) for c, v in zip(result.columns, row, strict=True)}
               for row in rows]
    return json.dumps(records, indent=1, ensure_ascii=False, allow_nan=False)


def render_text(result: Result, fmt: str, width: int | None = None) -> str:
    if fmt == "table":
        return to_table(result, width)
    if fmt == "markdown":
        return to_markdown(result)
    if fmt == "csv":
        return to_csv(result)
    if fmt == "json":
        return to_json(result)
    raise QueryError(f"--format {fmt!r} is not a text format")


# --- output files -----------------------------------------------------------------------------

def write_output(out: Path, data: str | bytes | Any) -> int:
    """Write atomically (temporary file renamed into place); returns bytes written.

    `data` is text, bytes, or a pyarrow Table (written as Parquet). A path that cannot be
    written is a QueryError naming it.
    """
    check_output_path(out)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        if isinstance(data, str):
            tmp.write_text(data + "\n", encoding="utf-8")
        elif isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            import pyarrow.parquet as pq

            pq.write_table(data, tmp)
        os.replace(tmp, out)
        return out.stat().st_size
    except OSError as exc:
        raise QueryError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


def check_output_path(out: Path) -> None:
    """Refuse an output path that cannot become a file, before any work is done.

    The nearest existing folder is probed by creating (and removing) a temporary file in it:
    permission bits alone say nothing for root or for /proc and read-only mounts.
    """
    if out.is_dir():
        raise QueryError(f"cannot write {out}: it is a directory")
    ancestor = out.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise QueryError(f"cannot write {out}: {ancestor} is a file, not a directory")
    try:
        fd, probe = tempfile.mkstemp(dir=ancestor, prefix=".altflow-probe-")
    except OSError as exc:
        raise QueryError(f"cannot write {out}: {ancestor}: {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(probe)
