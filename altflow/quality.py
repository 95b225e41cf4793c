"""Data-quality suites run with Great Expectations (GX Core 1.x) over warehouse tables.

Each table's suite is declared as a :class:`TableSuite`; ``validate`` turns it into GX
expectations and runs them on the table's rows. GX is imported lazily: it is slow to import
and only the asset checks need it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import polars as pl


@dataclass(frozen=True)
class TableSuite:
    """What must hold of a table: non-null columns, a unique key, value ranges, row count."""

    table: str
    not_null: tuple[str, ...] = ()
    unique_key: tuple[str, ...] = ()
    between: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    in_set: dict[str, tuple[str, ...]] = field(default_factory=dict)
    min_rows: int = 1


@dataclass(frozen=True)
class QualityReport:
    table: str
    success: bool
    evaluated: int
    failures: tuple[str, ...]


def _expectations(suite: TableSuite) -> list[Any]:
    import great_expectations as gx

    exp = gx.expectations
    items: list[Any] = [exp.ExpectTableRowCountToBeBetween(min_value=suite.min_rows)]
    items += [exp.ExpectColumnValuesToNotBeNull(column=c) for c in suite.not_null]
    if suite.unique_key:
        items.append(
            exp.ExpectCompoundColumnsToBeUnique(column_list=list(suite.unique_key))
            if len(suite.unique_key) > 1
            else exp.ExpectColumnValuesToBeUnique(column=suite.unique_key[0])
        )
    for column, (low, high) in suite.between.items():
        items.append(
            exp.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high)
        )
    for column, allowed in suite.in_set.items():
        items.append(exp.ExpectColumnValuesToBeInSet(column=column, value_set=list(allowed)))
    return items


@cache
def _context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no network from checks
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def validate(frame: pl.DataFrame, suite: TableSuite) -> QualityReport:
    """Run the suite on the rows of `frame`; each failure is one readable line."""
    context = _context()
    import great_expectations as gx

    name = suite.table.replace(".", "__")
    try:
        source = context.data_sources.get(name)
    except (KeyError, ValueError):
        source = context.data_sources.add_pandas(name=name)
    asset = source.add_dataframe_asset(name=f"{name}_{id(frame)}")
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
        batch_parameters={"dataframe": frame.to_pandas()}
    )
    gx_suite = gx.ExpectationSuite(name=f"{name}_suite", expectations=_expectations(suite))
    result = batch.validate(gx_suite)
    failures = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id",)}
        observed = item.result.get("unexpected_count", item.result.get("observed_value"))
        failures.append(f"{suite.table}: {config.type} {kwargs} failed (observed: {observed})")
    source.delete_asset(asset.name)
    return QualityReport(suite.table, bool(result.success), len(result.results), tuple(failures))
