"""Data-quality checks derived from the table metadata (``altflow.metadata``).

Every table's entry gives its checks, one per rule:

- ``schema``: the columns and their DuckDB types are the entry's;
- ``grain``: the grain columns are unique together and never NULL;
- ``not_empty``: at least ``min_rows`` rows (a warning only when the entry allows 0);
- ``values``: not-null columns, ranges and allowed values;
- ``freshness``: the newest date is recent enough for the source's cadence (warning only);
- each named rule of the entry (``rules:``): a query's rows meet its expectations (history
  length per series, cross-source agreement, components against totals, conservation...).

A rule becomes a list of engine-neutral :class:`Spec` over the rows of a :class:`Batch`.
Two engines run them with the same meaning:

- ``gx``: great-expectations (GX Core 1.x), one ephemeral context for the process, one
  expectation suite per batch, every expectation carrying ``meta`` that names the table and
  rule, results with the offending rows (``partial_unexpected_index_list``). Imported lazily,
  only when a check runs: ``import great_expectations`` alone costs ~2.5 s here;
- ``polars``: the same specs in polars, in milliseconds, for validating a raw frame before it is
  loaded (:func:`validate_table`), where a multi-second import per ingest is too slow.

``ALTFLOW_CHECK_ENGINE`` (gx | polars) picks the engine of the asset checks (default gx).
A failure is one line naming the table, the rule and example offending rows.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

import duckdb
import polars as pl

from altflow import metadata, workers
from altflow.metadata import Rule, TableEntry

STANDARD_RULES = ("schema", "grain", "not_empty", "values")
FRESHNESS = "freshness"
ENGINES = ("gx", "polars")
MAX_EXAMPLES = 3
_TABLE_REF = re.compile(r"\b(raw|staging|marts)\.([a-z_][a-z0-9_]*)\b", re.IGNORECASE)


# --- definitions ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Spec:
    """One expectation on a batch's rows, independent of the engine that runs it."""

    rule: str
    kind: str  # row_count | not_null | unique | between | in_set | pair_equal
    columns: tuple[str, ...]
    low: Any = None
    high: Any = None
    values: tuple[Any, ...] = ()
    mostly: float = 1.0

    def describe(self) -> str:
        col = ", ".join(self.columns)
        if self.kind == "row_count":
            return f"row count outside [{_num(self.low)}, {_num(self.high)}]"
        if self.kind == "not_null":
            return f"{col} is NULL"
        if self.kind == "unique":
            return f"({col}) not unique"
        if self.kind == "between":
            return f"{col} outside [{_num(self.low)}, {_num(self.high)}]"
        if self.kind == "in_set":
            shown = ", ".join(map(str, self.values[:6])) + (", ..." if len(self.values) > 6 else "")
            return f"{col} not in {{{shown}}}"
        if self.kind == "pair_equal":
            return f"{self.columns[0]} differs from {self.columns[1]}"
        return f"{self.kind} on {col}"


@dataclass(frozen=True)
class Batch:
    """Rows one validation runs on, the specs over them, and the columns naming a row."""

    frame: pl.DataFrame
    specs: tuple[Spec, ...]
    id_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleCheck:
    """One check as Dagster shows it: a table's rule, whether it blocks, what it reads."""

    table: str
    rule: str
    description: str
    blocking: bool
    reads: tuple[str, ...] = ()  # other tables the rule's query reads


@dataclass(frozen=True)
class SpecResult:
    spec: Spec
    success: bool
    element_count: int
    unexpected_count: int
    examples: tuple[dict[str, Any], ...] = ()
    observed: Any = None


@dataclass(frozen=True)
class RuleResult:
    """The outcome of one rule on one table, with the offending rows' examples."""

    table: str
    rule: str
    blocking: bool
    passed: bool
    evaluated_rows: int
    unexpected_rows: int
    failures: tuple[str, ...]
    examples: tuple[dict[str, Any], ...]
    expectations: int
    engine: str

    @property
    def severity(self) -> str:
        return "error" if self.blocking else "warn"


@dataclass(frozen=True)
class QualityReport:
    """All rules of one table: ``success`` is False when a blocking rule failed."""

    table: str
    success: bool
    evaluated: int
    failures: tuple[str, ...]
    results: tuple[RuleResult, ...] = ()
    warnings: tuple[str, ...] = ()


def _num(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e6:
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def reads_of(query: str, table: str) -> tuple[str, ...]:
    """The other ``schema.table`` names a rule's query reads (``{table}`` excluded)."""
    found = {f"{s.lower()}.{t.lower()}" for s, t in _TABLE_REF.findall(query)}
    found.discard(table)
    return tuple(sorted(found))


def rule_checks(table: str) -> list[RuleCheck]:
    """Every check of ``table``'s entry (no data read): what Dagster declares."""
    item = metadata.entry(table)
    grain = ", ".join(item.grain)
    checks = [
        RuleCheck(table, "schema", f"Columns and DuckDB types as in {_rel(item)}.", True),
        RuleCheck(
            table,
            "not_empty",
            f"At least {max(item.min_rows, 1)} row(s)"
            + ("; may be empty (a warning, not blocking)." if item.min_rows == 0 else "."),
            item.min_rows > 0,
        ),
        RuleCheck(table, "values", "Not-null columns, ranges and allowed values per column.", True),
    ]
    if item.grain:
        checks.insert(
            1,
            RuleCheck(
                table, "grain", f"One row per ({grain}): unique; never NULL unless declared.",
                True,
            ),
        )
    if item.freshness is not None:
        f = item.freshness
        checks.append(
            RuleCheck(
                table,
                FRESHNESS,
                f"Newest {f.column} at most {f.max_age_days} days old ({f.cadence} data"
                + (f", per {', '.join(f.by)}" if f.by else "")
                + "). A warning: never blocks.",
                False,
            )
        )
    for rule in item.rules:
        checks.append(
            RuleCheck(
                table,
                rule.name,
                rule.description + ("" if rule.blocking else " A warning: never blocks."),
                rule.blocking,
                reads_of(rule.query, table),
            )
        )
    return checks


def _rel(item: TableEntry) -> str:
    parts = item.path.parts
    for anchor in ("sql", "altflow"):
        if anchor in parts:
            return "/".join(parts[len(parts) - parts[::-1].index(anchor) - 1 :])
    return item.path.name


# --- batches from an entry -------------------------------------------------------------------

def _column_specs(item: TableEntry) -> list[Spec]:
    specs: list[Spec] = []
    for col in item.columns:
        if not col.nullable and col.name not in item.grain:
            specs.append(Spec("values", "not_null", (col.name,)))
        if col.range is not None:
            specs.append(Spec("values", "between", (col.name,), col.range[0], col.range[1]))
        if col.values is not None:
            specs.append(Spec("values", "in_set", (col.name,), values=col.values))
    return specs


def table_batch(item: TableEntry, frame: pl.DataFrame) -> Batch:
    """not_empty, grain and values over the table's rows (columns it lacks are skipped)."""
    present = set(frame.columns)
    specs = [Spec("not_empty", "row_count", (), max(item.min_rows, 1), None)]
    if item.grain and set(item.grain) <= present:
        # a grain column is never NULL unless its entry says nullable; NULL then counts
        # as a value of the key (NULLS NOT DISTINCT), as in GX's compound uniqueness
        specs += [Spec("grain", "not_null", (g,)) for g in item.grain
                  if not item.column(g).nullable]
        specs.append(Spec("grain", "unique", item.grain))
    specs += [s for s in _column_specs(item) if set(s.columns) <= present]
    ids = tuple(c for c in item.grain if c in present)
    return Batch(frame, tuple(specs), ids)


def schema_batch(item: TableEntry, actual: Sequence[tuple[str, str]]) -> Batch:
    """One row per column of the entry or the table: expected and actual DuckDB type."""
    expected = {c.name: c.type for c in item.columns}
    found = dict(actual)
    names = [c.name for c in item.columns] + [n for n in found if n not in expected]
    frame = pl.DataFrame(
        {
            "column": names,
            "expected_type": [expected.get(n) for n in names],
            "actual_type": [found.get(n) for n in names],
        },
        schema={"column": pl.Utf8, "expected_type": pl.Utf8, "actual_type": pl.Utf8},
    )
    specs = (
        Spec("schema", "not_null", ("actual_type",)),  # a column the table lacks
        Spec("schema", "not_null", ("expected_type",)),  # a column the entry lacks
        Spec("schema", "pair_equal", ("actual_type", "expected_type")),
    )
    return Batch(frame, specs, ("column",))


def freshness_query(item: TableEntry, relation: str) -> str:
    f = item.freshness
    assert f is not None
    by = ", ".join(f'"{b}"' for b in f.by)
    select = f"{by}, " if by else ""
    group = f" GROUP BY {by}" if by else ""
    return (
        f'SELECT {select}max("{f.column}") AS latest,'
        f' date_diff(\'day\', CAST(max("{f.column}") AS DATE), current_date) AS age_days'
        f" FROM {relation}{group}"
    )


def freshness_batch(item: TableEntry, frame: pl.DataFrame) -> Batch:
    f = item.freshness
    assert f is not None
    specs = (
        Spec(FRESHNESS, "not_null", ("latest",)),
        Spec(FRESHNESS, "between", ("age_days",), None, f.max_age_days),
    )
    return Batch(frame, specs, (*f.by, "latest", "age_days"))


def rule_batch(rule: Rule, frame: pl.DataFrame) -> Batch:
    specs: list[Spec] = [Spec(rule.name, "row_count", (), rule.min_rows, None)]
    for e in rule.expect:
        if e.not_null:
            specs.append(Spec(rule.name, "not_null", (e.column,), mostly=e.mostly))
        if e.range is not None:
            specs.append(
                Spec(rule.name, "between", (e.column,), e.range[0], e.range[1], mostly=e.mostly)
            )
        if e.values is not None:
            specs.append(Spec(rule.name, "in_set", (e.column,), values=e.values, mostly=e.mostly))
        if e.equal_to is not None:
            specs.append(
                Spec(rule.name, "pair_equal", (e.column, e.equal_to), mostly=e.mostly)
            )
    ids = tuple(c for c in rule.id if c in frame.columns)
    return Batch(frame, tuple(specs), ids)


# --- engines ---------------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    """A JSON-friendly scalar for metadata and messages."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        with contextlib.suppress(ValueError, AttributeError):
            value = value.item()
    if value is None or (not isinstance(value, str | bytes | tuple | list) and _is_na(value)):
        return None
    if isinstance(value, float):
        return round(value, 6) if abs(value) < 1e6 else value
    if isinstance(value, datetime):
        midnight = value.hour == value.minute == value.second == value.microsecond == 0
        return value.date().isoformat() if midnight and value.tzinfo is None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _is_na(value: Any) -> bool:
    try:
        return bool(value != value)  # NaN and NaT are not equal to themselves
    except (TypeError, ValueError):
        return False


def _missing(frame: pl.DataFrame, column: str) -> pl.Expr:
    expr = pl.col(column).is_null()
    if frame.schema[column].is_float():
        expr = expr | pl.col(column).is_nan()
    return expr


def _examples(frame: pl.DataFrame, mask: pl.Series, cols: Iterable[str]) -> tuple[dict, ...]:
    keep = list(dict.fromkeys(c for c in cols if c in frame.columns))
    rows = frame.filter(mask).select(keep).head(MAX_EXAMPLES).to_dicts() if keep else []
    return tuple({k: _plain(v) for k, v in r.items()} for r in rows)


def _passes(unexpected: int, considered: int, mostly: float) -> bool:
    if considered == 0:
        return True
    return (considered - unexpected) / considered >= mostly - 1e-12


def _run_polars(batch: Batch) -> list[SpecResult]:
    frame = batch.frame
    out: list[SpecResult] = []
    n = frame.height
    for spec in batch.specs:
        cols = spec.columns
        if spec.kind == "row_count":
            ok = (spec.low is None or n >= spec.low) and (spec.high is None or n <= spec.high)
            out.append(SpecResult(spec, ok, n, 0 if ok else 1, observed=n))
            continue
        if spec.kind == "not_null":
            mask = frame.select(_missing(frame, cols[0])).to_series()
            considered = n
        elif spec.kind == "unique":
            all_missing = frame.select(
                pl.all_horizontal([_missing(frame, c) for c in cols])
            ).to_series()
            mask = frame.select(pl.struct(list(cols)).is_duplicated()).to_series() & ~all_missing
            considered = n
        elif spec.kind in ("between", "in_set"):
            valid = ~frame.select(_missing(frame, cols[0])).to_series()
            col = pl.col(cols[0])
            if spec.kind == "between":
                bad = pl.lit(False)
                if spec.low is not None:
                    bad = bad | (col < spec.low)
                if spec.high is not None:
                    bad = bad | (col > spec.high)
            else:
                bad = ~col.is_in(list(spec.values))
            mask = frame.select(bad.fill_null(False)).to_series() & valid
            considered = int(valid.sum())
        elif spec.kind == "pair_equal":
            a, b = cols
            both_missing = frame.select(_missing(frame, a) & _missing(frame, b)).to_series()
            equal = frame.select(
                pl.col(a).eq_missing(pl.col(b)).fill_null(False)
            ).to_series()
            mask = ~equal & ~both_missing
            considered = n - int(both_missing.sum())
        else:
            raise ValueError(f"unknown expectation kind {spec.kind!r}")
        bad_n = int(mask.sum())
        out.append(
            SpecResult(
                spec,
                _passes(bad_n, considered, spec.mostly),
                n,
                bad_n,
                _examples(frame, mask, (*batch.id_columns, *cols)),
            )
        )
    return out


def prepare(engine: str | None = None) -> None:
    """For a run that will check tables: start the worker processes, each importing
    great-expectations and making its context while the run's first assets build.
    A no-op for the polars engine; with workers off, GX is imported at the first check."""
    if engine_name(engine) == "gx":
        workers.start(warm=["altflow.quality:_gx", "altflow.charts"])


@cache
def _gx() -> tuple[Any, Any]:
    """The one ephemeral GX context of this process and its reusable batch definition."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no network from checks
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas(name="altflow")
    asset = source.add_dataframe_asset(name="rows")
    return gx, asset.add_batch_definition_whole_dataframe("all")


def _gx_expectation(gx: Any, spec: Spec, meta: dict[str, Any]) -> Any:
    exp = gx.expectations
    cols = spec.columns
    mostly = {"mostly": spec.mostly} if spec.mostly < 1 else {}
    if spec.kind == "row_count":
        return exp.ExpectTableRowCountToBeBetween(
            min_value=spec.low, max_value=spec.high, meta=meta
        )
    if spec.kind == "not_null":
        return exp.ExpectColumnValuesToNotBeNull(column=cols[0], meta=meta, **mostly)
    if spec.kind == "unique":
        if len(cols) == 1:
            return exp.ExpectColumnValuesToBeUnique(column=cols[0], meta=meta)
        return exp.ExpectCompoundColumnsToBeUnique(column_list=list(cols), meta=meta)
    if spec.kind == "between":
        return exp.ExpectColumnValuesToBeBetween(
            column=cols[0], min_value=spec.low, max_value=spec.high, meta=meta, **mostly
        )
    if spec.kind == "in_set":
        return exp.ExpectColumnValuesToBeInSet(
            column=cols[0], value_set=list(spec.values), meta=meta, **mostly
        )
    if spec.kind == "pair_equal":
        return exp.ExpectColumnPairValuesToBeEqual(
            column_A=cols[0], column_B=cols[1], meta=meta, **mostly
        )
    raise ValueError(f"unknown expectation kind {spec.kind!r}")


def gx_suite(batch: Batch, table: str) -> Any:
    """The batch's specs as one GX ExpectationSuite; each expectation's ``meta`` names the
    table, the rule, the spec's index and what it asserts."""
    gx, _ = _gx()
    expectations = [
        _gx_expectation(gx, s, {"table": table, "rule": s.rule, "spec": i, "what": s.describe()})
        for i, s in enumerate(batch.specs)
    ]
    rules = "+".join(dict.fromkeys(s.rule for s in batch.specs))
    return gx.ExpectationSuite(name=f"{table}:{rules}", expectations=expectations)


def _run_gx(batch: Batch, table: str) -> list[SpecResult]:
    """Two passes: every spec for its verdict alone (``BOOLEAN_ONLY``, which skips GX's
    example and count metrics, about half the cost), then the failed specs again with
    ``SUMMARY`` for their counts and example rows. A spec that passes needs neither."""
    _, definition = _gx()
    specs = batch.specs
    frame = batch.frame.to_pandas()
    gx_batch = definition.get_batch(batch_parameters={"dataframe": frame})
    verdicts = gx_batch.validate(gx_suite(batch, table), result_format="BOOLEAN_ONLY")
    out: list[SpecResult | None] = [None] * len(specs)
    failed: list[int] = []
    for item in verdicts.results:
        index = int(item.expectation_config.meta["spec"])
        raised = item.exception_info and item.exception_info.get("raised_exception")
        if item.success and not raised:
            rows = frame.shape[0]
            observed = rows if specs[index].kind == "row_count" else None
            out[index] = SpecResult(specs[index], True, rows, 0, observed=observed)
        else:
            failed.append(index)
    if failed:
        detail = Batch(batch.frame, tuple(specs[i] for i in failed), batch.id_columns)
        for offset, result in enumerate(_run_gx_summary(detail, table, frame)):
            out[failed[offset]] = result
    return [r for r in out if r is not None]


def _run_gx_summary(batch: Batch, table: str, frame: Any) -> list[SpecResult | None]:
    """Counts and example rows of each spec (GX ``SUMMARY``), in the batch's spec order."""
    _, definition = _gx()
    specs = batch.specs
    gx_batch = definition.get_batch(batch_parameters={"dataframe": frame})
    result_format: dict[str, Any] = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": MAX_EXAMPLES,
    }
    if batch.id_columns:
        result_format["unexpected_index_column_names"] = list(batch.id_columns)
    result = gx_batch.validate(gx_suite(batch, table), result_format=result_format)
    out: list[SpecResult | None] = [None] * len(specs)
    for item in result.results:
        index = int(item.expectation_config.meta["spec"])
        spec = specs[index]
        res = item.result or {}
        if item.exception_info and item.exception_info.get("raised_exception"):
            message = str(item.exception_info.get("exception_message", "error"))
            out[index] = SpecResult(spec, False, 0, 0, ({"error": message[:200]},))
            continue
        if spec.kind == "row_count":
            observed = res.get("observed_value")
            out[index] = SpecResult(
                spec, bool(item.success), observed or 0, 0 if item.success else 1,
                observed=observed,
            )
            continue
        rows = res.get("partial_unexpected_index_list") or [
            {spec.columns[0]: v} for v in res.get("partial_unexpected_list") or []
        ]
        rank = {c: i for i, c in enumerate(dict.fromkeys((*batch.id_columns, *spec.columns)))}
        examples = tuple(
            {k: _plain(row[k]) for k in sorted(row, key=lambda c: rank.get(c, len(rank)))}
            for row in list(rows)[:MAX_EXAMPLES]
        )
        out[index] = SpecResult(
            spec,
            bool(item.success),
            int(res.get("element_count") or frame.shape[0]),
            int(res.get("unexpected_count") or 0),
            examples,
        )
    return out


def engine_name(engine: str | None = None) -> str:
    name = (engine or os.environ.get("ALTFLOW_CHECK_ENGINE") or "gx").strip().lower()
    if name not in ENGINES:
        raise ValueError(f"ALTFLOW_CHECK_ENGINE={name!r}: expected gx or polars")
    return name


def run_batches(batches: Sequence[Batch], table: str, engine: str | None = None
                ) -> list[list[SpecResult]]:
    """Run several batches; GX ones in the worker processes when they run (see
    ``altflow.workers``), polars ones here (milliseconds, not worth shipping)."""
    if engine_name(engine) == "gx":
        return workers.run_all(run_batch, [(b, table, "gx") for b in batches])
    return [run_batch(b, table, engine) for b in batches]


def run_batch(batch: Batch, table: str, engine: str | None = None) -> list[SpecResult]:
    """Run a batch's specs with the chosen engine."""
    if not batch.specs:
        return []
    if engine_name(engine) == "gx":
        return _run_gx(batch, table)
    return _run_polars(batch)


# --- results ---------------------------------------------------------------------------------

def _example_text(examples: Sequence[dict[str, Any]]) -> str:
    parts = []
    for row in examples[:MAX_EXAMPLES]:
        text = ", ".join(f"{k}={v}" for k, v in row.items())
        parts.append("{" + (text if len(text) <= 140 else text[:137] + "...") + "}")
    return "; ".join(parts)


def _failure_line(table: str, r: SpecResult) -> str:
    spec = r.spec
    if spec.kind == "row_count":
        what = f"{r.observed} rows, expected at least {_num(spec.low)}"
        if spec.high is not None:
            what = f"{r.observed} rows, expected {_num(spec.low)} to {_num(spec.high)}"
        return f"{table}: rule {spec.rule}: {what}"
    share = f" (at most {1 - spec.mostly:.0%} allowed)" if spec.mostly < 1 else ""
    line = (
        f"{table}: rule {spec.rule}: {spec.describe()} in {r.unexpected_count} of "
        f"{r.element_count} rows{share}"
    )
    if r.examples:
        line += f", e.g. {_example_text(r.examples)}"
    return line[:500]


def summarise(
    table: str, rule: str, blocking: bool, results: Sequence[SpecResult], engine: str
) -> RuleResult:
    failed = [r for r in results if not r.success]
    examples: list[dict[str, Any]] = []
    for r in failed:
        for ex in r.examples:
            if len(examples) < MAX_EXAMPLES * 2:
                examples.append({"failed": r.spec.describe(), **ex})
    evaluated = max((r.element_count for r in results), default=0)
    return RuleResult(
        table=table,
        rule=rule,
        blocking=blocking,
        passed=not failed,
        evaluated_rows=evaluated,
        unexpected_rows=sum(r.unexpected_count for r in failed if r.spec.kind != "row_count"),
        failures=tuple(_failure_line(table, r) for r in failed),
        examples=tuple(examples),
        expectations=len(results),
        engine=engine,
    )


def _group(
    table: str, checks: Sequence[RuleCheck], results: Sequence[SpecResult], engine: str
) -> list[RuleResult]:
    by_rule: dict[str, list[SpecResult]] = {}
    for r in results:
        by_rule.setdefault(r.spec.rule, []).append(r)
    return [
        summarise(table, c.rule, c.blocking, by_rule.get(c.rule, []), engine) for c in checks
    ]


def _columns_of(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE {relation}").fetchall()]


def _query(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    return con.sql(sql).pl()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def _error_result(check: RuleCheck, message: str, engine: str) -> RuleResult:
    line = f"{check.table}: rule {check.rule}: could not run: {message}"
    return RuleResult(check.table, check.rule, check.blocking, False, 0, 0, (line,), (), 0, engine)


def run_checks(
    con: duckdb.DuckDBPyConnection,
    table: str,
    *,
    engine: str | None = None,
    rules: Iterable[str] | None = None,
    relation: str | None = None,
    cross_table: bool = True,
) -> list[RuleResult]:
    """Every rule of ``table``'s entry on what ``con`` holds, one result per rule.

    ``relation``: where the rows are when not at ``table`` (a registered frame);
    ``cross_table=False`` skips rules that read other tables; ``rules`` limits the rules run.
    """
    name = engine_name(engine)
    item = metadata.entry(table)
    where = relation or table
    wanted = set(rules) if rules is not None else None
    checks = [
        c for c in rule_checks(table)
        if (wanted is None or c.rule in wanted) and (cross_table or not c.reads)
    ]
    by_name = {c.rule: c for c in checks}
    results: list[RuleResult] = []
    try:
        frame = _query(con, f"SELECT * FROM {where}")
    except duckdb.Error as exc:
        return [_error_result(c, f"{table} cannot be read ({_one_line(exc)})", name)
                for c in checks]
    pending: list[tuple[list[RuleCheck], Batch]] = []  # read here, evaluated together below
    standard = [c for c in checks if c.rule in ("grain", "not_empty", "values")]
    if standard:
        batch = table_batch(item, frame)
        keep = {c.rule for c in standard}
        batch = Batch(batch.frame, tuple(s for s in batch.specs if s.rule in keep),
                      batch.id_columns)
        pending.append((standard, batch))
    if "schema" in by_name:
        pending.append(([by_name["schema"]], schema_batch(item, _columns_of(con, where))))
    if FRESHNESS in by_name and item.freshness is not None:
        check = by_name[FRESHNESS]
        try:
            rows = _query(con, freshness_query(item, where))
            pending.append(([check], freshness_batch(item, rows)))
        except duckdb.Error as exc:
            results.append(_error_result(check, _one_line(exc), name))
    for rule in item.rules:
        check = by_name.get(rule.name)
        if check is None:
            continue
        try:
            rows = _query(con, rule.query.replace("{table}", where))
        except duckdb.Error as exc:
            results.append(_error_result(check, _one_line(exc), name))
            continue
        pending.append(([check], rule_batch(rule, rows)))
    evaluated = run_batches([batch for _, batch in pending], table, name)
    for (group, _), specs in zip(pending, evaluated, strict=True):
        results += _group(table, group, specs, name)
    order = {c.rule: i for i, c in enumerate(checks)}
    return sorted(results, key=lambda r: order[r.rule])


def report(table: str, results: Sequence[RuleResult]) -> QualityReport:
    blocking = [f for r in results if not r.passed and r.blocking for f in r.failures]
    warnings = [f for r in results if not r.passed and not r.blocking for f in r.failures]
    return QualityReport(
        table=table,
        success=not blocking,
        evaluated=sum(r.expectations for r in results),
        failures=tuple(blocking),
        results=tuple(results),
        warnings=tuple(warnings),
    )


def validate_table(table: str, frame: pl.DataFrame, engine: str = "polars") -> QualityReport:
    """Check a frame bound for ``table`` before it is loaded (ingest-time validation).

    Runs the entry's schema, grain, not_empty and values rules, and the named rules whose
    query reads only the table itself, on the frame in an in-memory DuckDB. Freshness and
    rules that read other tables are left to the asset checks after the load. The default
    engine is polars (milliseconds, no GX import); ``engine="gx"`` gives the same verdicts.
    A table without an entry is refused (a raw table must have a contract).
    """
    try:
        metadata.entry(table)
    except KeyError as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        return QualityReport(table, False, 0, (message,))
    view = f"_altflow_check_{uuid.uuid4().hex}"
    con = duckdb.connect(":memory:")
    try:
        con.register(view, frame.to_arrow())
        checks = [c for c in rule_checks(table) if c.rule != FRESHNESS and not c.reads]
        results = run_checks(
            con, table, engine=engine, rules=[c.rule for c in checks], relation=view,
            cross_table=False,
        )
    finally:
        con.close()
    results = [_rename(r, view, table) for r in results]
    return report(table, results)


def _rename(result: RuleResult, view: str, table: str) -> RuleResult:
    if not any(view in f for f in result.failures):
        return result
    return RuleResult(
        **{**result.__dict__, "failures": tuple(f.replace(view, table) for f in result.failures)}
    )


def validate(frame: pl.DataFrame, table: Any, engine: str | None = None) -> QualityReport:
    """Former name (frame, suite): :func:`validate_table`; ``table`` may be an object with
    a ``.table`` attribute, as the old per-table suites were."""
    name = table if isinstance(table, str) else table.table
    return validate_table(name, frame, engine="polars" if engine is None else engine)


def _main(argv: Sequence[str] | None = None) -> int:
    """``python -m altflow.quality [TABLE ...]``: every rule on the published warehouse."""
    import argparse
    import sys

    from altflow import config

    parser = argparse.ArgumentParser(prog="python -m altflow.quality")
    parser.add_argument("tables", nargs="*", help="schema.table (default: every entry)")
    parser.add_argument("--warehouse", default=None)
    parser.add_argument("--engine", choices=ENGINES, default="polars")
    args = parser.parse_args(argv)
    path = args.warehouse or str(config.warehouse_path())
    try:
        con = duckdb.connect(path, read_only=True)
    except duckdb.Error as exc:
        print(f"error: cannot open {path}: {_one_line(exc)}", file=sys.stderr)
        return 2
    failed = 0
    try:
        for table in args.tables or sorted(metadata.all_entries()):
            try:
                results = run_checks(con, table, engine=args.engine)
            except (KeyError, ValueError) as exc:
                print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
                return 2
            for r in results:
                verdict = "ok  " if r.passed else ("FAIL" if r.blocking else "WARN")
                failed += (not r.passed) and r.blocking
                line = r.failures[0] if r.failures else f"{r.evaluated_rows} rows"
                print(f"{verdict} {table:<34} {r.rule:<28} {line}"[:300])
    finally:
        con.close()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(_main())
