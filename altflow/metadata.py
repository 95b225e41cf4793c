"""Table metadata: one YAML entry per warehouse table, the single source of its contract.

Where the entries live:

- a SQL model's entry sits beside it: ``sql/staging/<model>.yml``, ``sql/marts/<model>.yml``;
- every other table (raw tables loaded by the sources, marts written by Python) has
  ``altflow/tables/<schema>/<table>.yml``.

Each entry holds the table's description, its grain (primary key), a minimum row count, an
optional freshness rule, its columns (description, DuckDB type, unit, nullable, allowed range
or values) and named rules across rows or tables (a query plus expectations on its rows).
From the entries altflow derives the great-expectations suites (:mod:`altflow.quality`),
Dagster's column schema (``assets.metadata``) and the warehouse's ``COMMENT ON`` text
(:func:`comment_statements`). This module imports neither Dagster nor great-expectations.

``python -m altflow.metadata draft <schema.table> [--warehouse PATH]`` prints a starting entry
for a built table (types and nullability from the warehouse; descriptions left to write).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from altflow import config

TABLES_DIR = Path(__file__).resolve().parent / "tables"
UNITS = (
    "usd", "usd_per_troy_oz", "usd_per_day", "fraction", "ratio", "index", "count", "days",
    "years", "date", "timestamp", "id", "text", "url", "flag", "units", "tonnes", "troy_oz",
    "coins", "sha256", "per_year", "gbp_per_troy_oz", "eur_per_troy_oz",
)
RULE_KEYS = ("range", "values", "not_null", "unique", "equal_to", "mostly")
SEVERITIES = ("error", "warn")


class MetadataError(ValueError):
    """An entry is missing or malformed; the message names the file and the key."""


@dataclass(frozen=True)
class Column:
    """One column's contract."""

    name: str
    description: str
    type: str
    unit: str
    nullable: bool = True
    range: tuple[float | str | None, float | str | None] | None = None
    values: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class Expect:
    """One expectation on a column of a rule's rows (``mostly`` = share that must pass)."""

    column: str
    range: tuple[float | str | None, float | str | None] | None = None
    values: tuple[Any, ...] | None = None
    not_null: bool = False
    equal_to: str | None = None  # another column of the same rows
    mostly: float = 1.0


@dataclass(frozen=True)
class Rule:
    """A named rule across rows or tables: a query whose rows must meet ``expect``.

    ``query`` may say ``{table}`` for the entry's table; ``id`` names the columns that
    identify an offending row in the failure examples; ``min_rows`` is how many rows the
    query must give (0: an empty result passes). ``severity: warn`` never blocks a run.
    """

    name: str
    description: str
    query: str
    expect: tuple[Expect, ...]
    id: tuple[str, ...] = ()
    severity: str = "error"
    min_rows: int = 0

    @property
    def blocking(self) -> bool:
        return self.severity == "error"


@dataclass(frozen=True)
class Freshness:
    """How recent the newest ``column`` value must be: a warning, never blocking."""

    column: str
    cadence: str  # daily, monthly, quarterly, ...
    max_age_days: int
    by: tuple[str, ...] = ()  # check each group (e.g. per series) separately


@dataclass(frozen=True)
class TableEntry:
    """The contract of one warehouse table."""

    table: str
    description: str
    grain: tuple[str, ...]
    columns: tuple[Column, ...]
    path: Path
    min_rows: int = 1
    freshness: Freshness | None = None
    rules: tuple[Rule, ...] = ()
    notes: str = ""

    @property
    def schema(self) -> str:
        return self.table.split(".")[0]

    @property
    def name(self) -> str:
        return self.table.split(".")[1]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.table} has no column {name!r} in {self.path}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def entry_paths(sql_dir: Path | None = None, tables_dir: Path | None = None) -> list[Path]:
    """Every entry file: beside the SQL models, then under altflow/tables."""
    root = sql_dir or config.SQL_DIR
    found = [p for layer in ("staging", "marts") for p in sorted((root / layer).glob("*.yml"))]
    base = tables_dir or TABLES_DIR
    found += sorted(base.glob("*/*.yml"))
    return found


def _table_of(path: Path) -> str:
    return f"{path.parent.name}.{path.stem}"


def _pair(value: Any, where: str) -> tuple[Any, Any] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise MetadataError(f"{where}: range must be [min, max] (null = open), got {value!r}")
    return (value[0], value[1])


def _values(value: Any, where: str) -> tuple[Any, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise MetadataError(f"{where}: values must be a non-empty list, got {value!r}")
    return tuple(value)


def _column(raw: Any, where: str) -> Column:
    if not isinstance(raw, dict) or "name" not in raw:
        raise MetadataError(f"{where}: each column needs a name")
    where = f"{where} column {raw['name']!r}"
    for key in ("description", "type", "unit"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise MetadataError(f"{where}: '{key}' is required")
    if raw["unit"] not in UNITS:
        raise MetadataError(f"{where}: unit {raw['unit']!r} is not one of {', '.join(UNITS)}")
    unknown = set(raw) - {"name", "description", "type", "unit", "nullable", "range", "values"}
    if unknown:
        raise MetadataError(f"{where}: unknown key(s) {sorted(unknown)}")
    return Column(
        name=str(raw["name"]),
        description=" ".join(str(raw["description"]).split()),
        type=str(raw["type"]).upper(),
        unit=raw["unit"],
        nullable=bool(raw.get("nullable", True)),
        range=_pair(raw.get("range"), where),
        values=_values(raw.get("values"), where),
    )


def _expect(raw: Any, where: str) -> Expect:
    if not isinstance(raw, dict) or "column" not in raw:
        raise MetadataError(f"{where}: each expectation needs a column")
    unknown = set(raw) - {"column", *RULE_KEYS}
    if unknown:
        raise MetadataError(f"{where}: unknown key(s) {sorted(unknown)}")
    return Expect(
        column=str(raw["column"]),
        range=_pair(raw.get("range"), where),
        values=_values(raw.get("values"), where),
        not_null=bool(raw.get("not_null", False)),
        equal_to=raw.get("equal_to"),
        mostly=float(raw.get("mostly", 1.0)),
    )


def _rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, dict) or not raw.get("name"):
        raise MetadataError(f"{where}: each rule needs a name")
    where = f"{where} rule {raw['name']!r}"
    for key in ("description", "query"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise MetadataError(f"{where}: '{key}' is required")
    severity = raw.get("severity", "error")
    if severity not in SEVERITIES:
        raise MetadataError(f"{where}: severity must be error or warn, got {severity!r}")
    expects = raw.get("expect") or []
    if not isinstance(expects, list) or not expects:
        raise MetadataError(f"{where}: 'expect' must list at least one expectation")
    return Rule(
        name=str(raw["name"]),
        description=" ".join(str(raw["description"]).split()),
        query=str(raw["query"]).strip().rstrip(";"),
        expect=tuple(_expect(e, where) for e in expects),
        id=tuple(raw.get("id") or ()),
        severity=severity,
        min_rows=int(raw.get("min_rows", 0)),
    )


def _freshness(raw: Any, where: str) -> Freshness | None:
    if raw is None:
        return None
    try:
        return Freshness(
            column=str(raw["column"]),
            cadence=str(raw["cadence"]),
            max_age_days=int(raw["max_age_days"]),
            by=tuple(raw.get("by") or ()),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MetadataError(
            f"{where}: freshness needs column, cadence and max_age_days ({exc})"
        ) from None


def load(path: Path) -> TableEntry:
    """Parse one entry file; a malformed file is a one-line MetadataError naming it."""
    where = str(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MetadataError(f"{where}: cannot read: {first}") from None
    if not isinstance(raw, dict):
        raise MetadataError(f"{where}: expected a mapping")
    table = raw.get("table")
    if table != _table_of(path):
        raise MetadataError(f"{where}: 'table' must be {_table_of(path)!r}, got {table!r}")
    if not isinstance(raw.get("description"), str) or not raw["description"].strip():
        raise MetadataError(f"{where}: 'description' is required")
    columns = raw.get("columns")
    if not isinstance(columns, list) or not columns:
        raise MetadataError(f"{where}: 'columns' must list the table's columns")
    cols = tuple(_column(c, where) for c in columns)
    names = [c.name for c in cols]
    if len(set(names)) != len(names):
        raise MetadataError(f"{where}: duplicate column names")
    grain = tuple(raw.get("grain") or ())
    missing = [g for g in grain if g not in names]
    if missing:
        raise MetadataError(f"{where}: grain column(s) {missing} are not columns")
    rules = tuple(_rule(r, where) for r in raw.get("rules") or ())
    taken = {"schema", "grain", "not_empty", "values"}
    if raw.get("freshness") is not None:
        taken.add("freshness")
    for rule in rules:
        if rule.name in taken:
            raise MetadataError(f"{where}: rule name {rule.name!r} is used twice or reserved")
        taken.add(rule.name)
    return TableEntry(
        table=table,
        description=" ".join(raw["description"].split()),
        grain=grain,
        columns=cols,
        path=path,
        min_rows=int(raw.get("min_rows", 1)),
        freshness=_freshness(raw.get("freshness"), where),
        rules=rules,
        notes=" ".join(str(raw.get("notes") or "").split()),
    )


@cache
def _entries(sql_dir: Path | None = None) -> dict[str, TableEntry]:
    out: dict[str, TableEntry] = {}
    for path in entry_paths(sql_dir):
        item = load(path)
        if item.table in out:
            raise MetadataError(f"{path}: {item.table} already has {out[item.table].path}")
        out[item.table] = item
    return out


def all_entries() -> dict[str, TableEntry]:
    """Every table's entry, by ``schema.table``."""
    return dict(_entries())


def entry(table: str) -> TableEntry:
    """The entry of ``schema.table``; KeyError (one line) if the table has none."""
    try:
        return _entries()[table]
    except KeyError:
        raise KeyError(
            f"{table} has no metadata entry (sql/<layer>/<model>.yml or "
            f"altflow/tables/<schema>/<table>.yml)"
        ) from None


def reload() -> None:
    """Forget cached entries (tests and tools that edit the YAML files)."""
    _entries.cache_clear()


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _column_comment(col: Column) -> str:
    extra = [f"unit: {col.unit}"]
    if col.range is not None:
        low, high = col.range
        extra.append(f"range: [{'' if low is None else low}, {'' if high is None else high}]")
    if col.values is not None:
        extra.append("values: " + ", ".join(str(v) for v in col.values))
    if not col.nullable:
        extra.append("not null")
    return f"{col.description} ({'; '.join(extra)})"


def comment_statements(table: str, present: Iterable[str] | None = None) -> list[str]:
    """``COMMENT ON TABLE/COLUMN`` statements for ``table`` from its entry.

    ``present``: the table's actual column names; columns the table lacks are skipped so a
    stale entry never makes the statements fail (the metadata test reports the drift).
    """
    item = entry(table)
    grain = f" Grain: one row per {', '.join(item.grain)}." if item.grain else ""
    statements = [f"COMMENT ON TABLE {table} IS {_quote(item.description + grain)}"]
    keep = set(present) if present is not None else None
    for col in item.columns:
        if keep is not None and col.name not in keep:
            continue
        statements.append(
            f'COMMENT ON COLUMN {table}."{col.name}" IS {_quote(_column_comment(col))}'
        )
    return statements


def apply_comments(con: Any, tables: Iterable[str] | None = None) -> int:
    """Run the comment statements for every built table that has an entry; returns tables."""
    built = {
        f"{s}.{t}"
        for s, t in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables()"
            " WHERE schema_name IN ('raw', 'staging', 'marts')"
        ).fetchall()
    }
    entries = _entries()
    done = 0
    for table in sorted(set(tables) & built if tables is not None else built):
        if table not in entries:
            continue
        schema, name = table.split(".")
        present = [
            r[0]
            for r in con.execute(
                "SELECT column_name FROM duckdb_columns()"
                " WHERE schema_name = ? AND table_name = ?",
                [schema, name],
            ).fetchall()
        ]
        for statement in comment_statements(table, present):
            con.execute(statement)
        done += 1
    return done


# --- drafting a new entry from a built table ---------------------------------------------

_UNIT_BY_SUFFIX = (
    ("_usd", "usd"), ("_share", "fraction"), ("_at", "timestamp"), ("url", "url"),
    ("date", "date"), ("_end", "date"), ("as_of", "date"), ("rows", "count"),
)


def _guess_unit(name: str, dtype: str) -> str:
    for suffix, unit in _UNIT_BY_SUFFIX:
        if name.endswith(suffix):
            return unit
    if dtype == "BOOLEAN":
        return "flag"
    if dtype == "DATE":
        return "date"
    if dtype.startswith("TIMESTAMP"):
        return "timestamp"
    if dtype == "VARCHAR":
        return "text"
    return "units"


def draft(con: Any, table: str) -> dict[str, Any]:
    """A starting entry for a built table: types and observed nullability filled in."""
    schema, name = table.split(".")
    cols = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns()"
        " WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
        [schema, name],
    ).fetchall()
    if not cols:
        raise MetadataError(f"{table}: not in the warehouse")
    columns = []
    for col, dtype in cols:
        nulls = con.execute(f'SELECT count(*) FILTER (WHERE "{col}" IS NULL) FROM {table}')
        columns.append(
            {
                "name": col,
                "description": "TODO",
                "type": dtype,
                "unit": _guess_unit(col, dtype),
                "nullable": bool(nulls.fetchone()[0]),
            }
        )
    return {"table": table, "description": "TODO", "grain": [], "columns": columns}


class _Dumper(yaml.SafeDumper):
    """Short lists inline ([a, b]); long text folded (>), so entries read like a form."""


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = all(not isinstance(v, dict | list) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = ">" if len(data) > 80 and "\n" not in data else ("|" if "\n" in data else None)
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(str, _represent_str)


def dump(raw: dict[str, Any]) -> str:
    """YAML text of an entry in the house layout (keys in a fixed order, wide lines)."""
    return yaml.dump(raw, Dumper=_Dumper, sort_keys=False, width=96, allow_unicode=True)


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m altflow.metadata")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("draft", help="print a starting entry for a built table")
    cmd.add_argument("table")
    cmd.add_argument("--warehouse", default=None)
    sub.add_parser("list", help="list every table that has an entry")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            for table, item in sorted(all_entries().items()):
                print(f"{table}\t{item.path}")
            return 0
        import duckdb

        con = duckdb.connect(args.warehouse or str(config.warehouse_path()), read_only=True)
        print(dump(draft(con, args.table)), end="")
        return 0
    except (MetadataError, OSError) as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(_main())
