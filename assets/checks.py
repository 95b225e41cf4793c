"""Data-quality asset checks, one per rule of each table's metadata entry.

For every table some asset builds, one ``@multi_asset_check`` declares one check per rule of
the table's entry (``schema``, ``grain``, ``not_empty``, ``values``, ``freshness`` and each
named rule), so the UI lists every rule with its own result. Blocking rules stop downstream
assets; freshness and other ``severity: warn`` rules report a WARN and never block. The
rules run together (one read of the table, great-expectations imported only here, when a
check actually runs). A failed check's description names the table, the rule and example
offending rows; its metadata holds the examples as a table.
"""


from collections.abc import Iterable, Iterator

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    MetadataValue,
    multi_asset_check,
)

from altflow import metadata, quality
from altflow.quality import RuleResult
from assets.warehouse import table_key
from pipelines.resources import WarehouseResource

MAX_DESCRIPTION = 400


def _markdown_table(rows: Iterable[dict]) -> str:
    rows = list(rows)
    if not rows:
        return "none"
    columns = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        cells = [str(r.get(c, "")).replace("|", "\\|")[:80] for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def check_result(result: RuleResult, description: str) -> AssetCheckResult:
    """A rule's outcome as Dagster shows it: verdict, severity, examples, counts."""
    text = None
    if not result.passed:
        first = result.failures[0] if result.failures else f"{result.table}: rule failed"
        more = len(result.failures) - 1
        text = first + (f" (+{more} more)" if more > 0 else "")
        text = text[:MAX_DESCRIPTION]
    return AssetCheckResult(
        asset_key=table_key(result.table),
        check_name=result.rule,
        passed=result.passed,
        severity=AssetCheckSeverity.ERROR if result.blocking else AssetCheckSeverity.WARN,
        description=text,
        metadata={
            "rule": MetadataValue.text(description),
            "evaluated_rows": MetadataValue.int(result.evaluated_rows),
            "failing_rows": MetadataValue.int(result.unexpected_rows),
            "failures": MetadataValue.md(
                "\n".join(f"- {f}" for f in result.failures) or "none"
            ),
            "examples": MetadataValue.md(_markdown_table(result.examples)),
            "engine": MetadataValue.text(result.engine),
        },
    )


def table_checks(table: str) -> AssetChecksDefinition:
    """One multi-asset check over ``table``: one spec (and result) per rule of its entry."""
    rules = quality.rule_checks(table)
    key = table_key(table)
    specs = [
        AssetCheckSpec(
            name=rule.rule,
            asset=key,
            blocking=rule.blocking,
            description=rule.description,
            additional_deps=[table_key(t) for t in rule.reads],
        )
        for rule in rules
    ]
    descriptions = {r.rule: r.description for r in rules}

    @multi_asset_check(
        specs=specs,
        name=f"quality_{table.replace('.', '__')}",
        can_subset=True,
        description=f"Rules of {table}'s metadata entry ({metadata.entry(table).path.name}).",
    )
    def _run(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[AssetCheckResult]:
        selected = {
            k.name for k in context.selected_asset_check_keys if k.asset_key == key
        } or set(descriptions)
        with warehouse.get().reader() as con:
            results = quality.run_checks(con, table, rules=selected)
        for result in results:
            yield check_result(result, descriptions[result.rule])

    return _run


def quality_checks(known_tables: Iterable[str]) -> list[AssetChecksDefinition]:
    """Checks for every table some asset builds and that has a metadata entry."""
    entries = metadata.all_entries()
    return [table_checks(t) for t in sorted(set(known_tables)) if t in entries]


def check_keys(table: str) -> list[AssetCheckKey]:
    """The check keys of ``table`` (for selections and tests)."""
    return [AssetCheckKey(table_key(table), r.rule) for r in quality.rule_checks(table)]
