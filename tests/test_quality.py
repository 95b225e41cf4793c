"""Quality checks from the metadata entries: verdicts, failure messages, engines, Dagster."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from altflow import metadata, quality
from altflow.quality import RuleResult
from assets.checks import check_result, quality_checks
from tests.conftest import PROJECT_ROOT


def _copy(built: Path, *tables: str) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse holding copies of `tables` (free to mutate)."""
    con = duckdb.connect(":memory:")
    con.execute(f"ATTACH '{built}' AS src (READ_ONLY)")
    for schema in ("raw", "staging", "marts"):
        con.execute(f"CREATE SCHEMA {schema}")
    for table in tables:
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM src.{table}")
    con.execute("DETACH src")
    return con


def _frame(built: Path, table: str) -> pl.DataFrame:
    con = duckdb.connect(str(built), read_only=True)
    try:
        return con.sql(f"SELECT * FROM {table}").pl()
    finally:
        con.close()


def _by_rule(results: list[RuleResult]) -> dict[str, RuleResult]:
    return {r.rule: r for r in results}


@pytest.fixture(scope="module")
def results(built_warehouse: Path) -> dict[str, list[RuleResult]]:
    con = duckdb.connect(str(built_warehouse), read_only=True)
    try:
        return {
            t: quality.run_checks(con, t, engine="polars") for t in metadata.all_entries()
        }
    finally:
        con.close()


def test_every_table_has_the_standard_rules(results: dict) -> None:
    for table, rules in results.items():
        names = [r.rule for r in rules]
        assert names[:4] == ["schema", "grain", "not_empty", "values"], table


def test_snapshot_passes_every_blocking_rule(results: dict) -> None:
    failed = [f for rules in results.values() for r in rules if r.blocking and not r.passed
              for f in r.failures]
    assert not failed, "\n".join(failed)


def test_freshness_and_warn_rules_never_block(results: dict) -> None:
    for rules in results.values():
        for r in rules:
            if r.rule in ("freshness", "price_agreement", "lagged_alignment", "ici_z1_band"):
                assert not r.blocking, (r.table, r.rule)
    assert all(not r.blocking for rules in results.values() for r in rules if not r.passed)


def _bitcoin_pair(lagged_months: set[int]) -> duckdb.DuckDBPyConnection:
    """A comparison table over 2024: both histories agree date by date in normal months; in
    `lagged_months` CoinGecko's value for date d is Coinbase's close of d-1 (stamped one day
    apart, as in the snapshot's 2024-09..2025-10 problem), so the next-day pairing agrees."""
    days = pl.date_range(date(2024, 1, 1), date(2024, 12, 31), eager=True)
    steps = [1.0 + 0.02 * ((i * 7919) % 11 - 5) / 5 for i in range(len(days) + 2)]
    level = [60000.0]
    for step in steps:
        level.append(level[-1] * step)
    rows = []
    for i, d in enumerate(days):
        coinbase = level[i + 1]  # close of d
        same = level[i] if d.month in lagged_months else level[i + 1]
        nxt = level[i + 1] if d.month in lagged_months else level[i + 2]
        rows.append((d, same, coinbase, nxt))
    frame = pl.DataFrame(rows, schema=["date", "cg", "cb", "cg_next"], orient="row")
    con = duckdb.connect(":memory:")
    con.execute("CREATE SCHEMA marts")
    con.register("f", frame.to_arrow())
    con.execute(
        "CREATE TABLE marts.bitcoin_price_comparison AS SELECT date,"
        " cg AS coingecko_price_usd, cb AS coinbase_price_usd, cg - cb AS diff_usd,"
        " cg / cb - 1 AS diff_share, cg_next AS coingecko_next_day_price_usd,"
        " cg_next / cb - 1 AS diff_share_next_day, true AS in_both FROM f"
    )
    return con


def test_lagged_alignment_names_exactly_the_lagged_months() -> None:
    table = "marts.bitcoin_price_comparison"
    fine = _by_rule(quality.run_checks(_bitcoin_pair(set()), table, engine="polars"))
    assert fine["lagged_alignment"].passed and fine["price_agreement"].passed
    # shifted all along is a consistent convention, not a lag
    shifted = _by_rule(quality.run_checks(_bitcoin_pair(set(range(1, 13))), table))
    assert shifted["lagged_alignment"].passed and shifted["price_agreement"].passed
    con = _bitcoin_pair({9, 10, 11})
    rule = next(r for r in metadata.entry(table).rules if r.name == "lagged_alignment")
    months = con.sql(rule.query.replace("{table}", table)).pl()
    lagged = months.filter(~pl.col("aligned"))["month"].to_list()
    assert lagged == [date(2024, 9, 1), date(2024, 10, 1), date(2024, 11, 1)]
    result = _by_rule(quality.run_checks(con, table, engine="polars"))["lagged_alignment"]
    assert not result.passed and not result.blocking
    assert "marts.bitcoin_price_comparison: rule lagged_alignment:" in result.failures[0]
    assert "month=2024-09-01" in result.failures[0]


def test_freshness_warns_with_the_stale_rows(results: dict) -> None:
    lbma = _by_rule(results["raw.lbma_prices"])["freshness"]
    assert lbma.severity == "warn"
    assert lbma.passed is (lbma.unexpected_rows == 0)
    if not lbma.passed:
        assert "raw.lbma_prices: rule freshness: age_days outside [, 7]" in lbma.failures[0]
        assert "dataset=" in lbma.failures[0] and "latest=" in lbma.failures[0]


def test_conservation_fails_when_a_holding_is_changed(built_warehouse: Path) -> None:
    con = _copy(built_warehouse, "marts.scenario_flows")
    assert _by_rule(quality.run_checks(con, "marts.scenario_flows"))["conservation"].passed
    con.execute(
        "UPDATE marts.scenario_flows SET holdings_usd = holdings_usd * 1.01"
        " WHERE (scenario, asset, period_end) IN (SELECT scenario, asset, max(period_end)"
        " FROM marts.scenario_flows GROUP BY ALL LIMIT 1)"
    )
    result = _by_rule(quality.run_checks(con, "marts.scenario_flows"))["conservation"]
    assert not result.passed and result.blocking
    assert result.unexpected_rows == 1
    line = result.failures[0]
    assert line.startswith("marts.scenario_flows: rule conservation: gap_share outside")
    assert "scenario=" in line and "period_end=" in line


def test_impact_must_match_the_flows(built_warehouse: Path) -> None:
    con = _copy(built_warehouse, "marts.scenario_flows", "marts.scenario_impact")
    rule = "cumulative_flow_matches_flows"
    assert _by_rule(quality.run_checks(con, "marts.scenario_impact", rules=[rule]))[rule].passed
    con.execute("UPDATE marts.scenario_impact SET cumulative_flow_usd = cumulative_flow_usd * 2")
    result = quality.run_checks(con, "marts.scenario_impact", rules=[rule])[0]
    assert not result.passed and "horizon_end=" in result.failures[0]


def test_reconciliation_in_the_wrong_unit_fails(built_warehouse: Path) -> None:
    con = _copy(built_warehouse, "marts.pool_reconciliation")
    assert _by_rule(quality.run_checks(con, "marts.pool_reconciliation"))["ici_z1_units"].passed
    con.execute(
        "UPDATE marts.pool_reconciliation SET ratio = ratio * 1000 WHERE period_end ="
        " (SELECT max(period_end) FROM marts.pool_reconciliation WHERE ratio IS NOT NULL)"
    )
    by = _by_rule(quality.run_checks(con, "marts.pool_reconciliation"))
    assert not by["ici_z1_units"].passed and by["ici_z1_units"].blocking
    assert not by["ici_z1_band"].passed and not by["ici_z1_band"].blocking
    assert by["values"].passed is False  # ratio's own range [0.1, 10] too


def test_ici_components_must_add_up(built_warehouse: Path) -> None:
    frame = _frame(built_warehouse, "raw.ici_retirement_assets")
    assert quality.validate_table("raw.ici_retirement_assets", frame).success
    bad = frame.with_columns(
        pl.when(pl.col("series") == "ira")
        .then(pl.col("value_usd") * 1.5)
        .otherwise(pl.col("value_usd"))
        .alias("value_usd")
    )
    report = quality.validate_table("raw.ici_retirement_assets", bad)
    assert not report.success
    line = next(f for f in report.failures if "components_match_totals" in f)
    assert "total=total_retirement" in line and "release=" in line


def test_validate_table_accepts_the_snapshot_rows_of_every_raw_table(
    built_warehouse: Path,
) -> None:
    for table in [t for t in metadata.all_entries() if t.startswith("raw.")]:
        report = quality.validate_table(table, _frame(built_warehouse, table))
        assert report.success, report.failures


@pytest.fixture(scope="module")
def fred(built_warehouse: Path) -> pl.DataFrame:
    return _frame(built_warehouse, "raw.fred_observations")


def _failure(report: quality.QualityReport, rule: str) -> str:
    assert not report.success, f"expected rule {rule} to refuse the frame"
    lines = [f for f in report.failures if f": rule {rule}:" in f]
    assert lines, report.failures
    assert lines[0].startswith("raw.fred_observations: rule ")
    assert "\n" not in lines[0]
    return lines[0]


def test_a_duplicated_row_breaks_the_grain(fred: pl.DataFrame) -> None:
    line = _failure(quality.validate_table("raw.fred_observations", pl.concat(
        [fred, fred.head(1)])), "grain")
    assert "(series_id, date) not unique in 2 of" in line and "series_id=" in line


def test_negative_cpi_is_refused(fred: pl.DataFrame) -> None:
    bad = fred.with_columns(
        pl.when((pl.col("series_id") == "CPIAUCSL") & (pl.col("date") == date(2024, 1, 1)))
        .then(-309.794).otherwise(pl.col("value")).alias("value")
    )
    line = _failure(quality.validate_table("raw.fred_observations", bad), "signs")
    assert "value outside [0, ]" in line and "series_id=CPIAUCSL, date=2024-01-01" in line


def test_nan_and_inf_are_refused(fred: pl.DataFrame) -> None:
    bad = fred.with_columns(
        pl.when(pl.col("series_id") == "CBBTCUSD").then(float("nan"))
        .otherwise(pl.col("value")).alias("value")
    )
    _failure(quality.validate_table("raw.fred_observations", bad), "min_history")
    inf = fred.with_columns(
        pl.when(pl.col("series_id") == "CPIAUCSL").then(float("inf"))
        .otherwise(pl.col("value")).alias("value")
    )
    assert "finite not in {True}" in _failure(
        quality.validate_table("raw.fred_observations", inf), "signs"
    )


def test_a_truncated_series_is_refused(fred: pl.DataFrame) -> None:
    short = fred.filter((pl.col("series_id") != "CBBTCUSD") | (pl.col("date") < date(2023, 6, 1)))
    line = _failure(quality.validate_table("raw.fred_observations", short), "min_history")
    assert "series_id=CBBTCUSD" in line and "minimum=365" in line


def test_schema_drift_is_refused(fred: pl.DataFrame) -> None:
    renamed = fred.rename({"value": "obs_value"})
    line = _failure(quality.validate_table("raw.fred_observations", renamed), "schema")
    assert "column=value" in line or "column=obs_value" in line
    retyped = fred.with_columns(pl.col("value").cast(pl.Utf8))
    line = _failure(quality.validate_table("raw.fred_observations", retyped), "schema")
    assert "column=value, actual_type=VARCHAR, expected_type=DOUBLE" in line


def test_an_empty_frame_and_an_unknown_table_are_refused(fred: pl.DataFrame) -> None:
    _failure(quality.validate_table("raw.fred_observations", fred.head(0)), "not_empty")
    report = quality.validate_table("raw.nope", fred)
    assert not report.success and "raw.nope has no metadata entry" in report.failures[0]


def test_values_outside_the_allowed_set(built_warehouse: Path) -> None:
    frame = _frame(built_warehouse, "raw.lbma_prices")
    bad = frame.with_columns(pl.lit("dusk").alias("fixing"))
    report = quality.validate_table("raw.lbma_prices", bad)
    line = next(f for f in report.failures if "rule values" in f)
    assert "fixing not in {am, pm, daily}" in line and "fixing=dusk" in line


def test_gx_and_polars_give_the_same_verdicts(built_warehouse: Path, fred: pl.DataFrame) -> None:
    bad = pl.concat([fred, fred.head(2)]).with_columns(
        pl.when(pl.col("series_id") == "CPIAUCSL").then(-1.0)
        .otherwise(pl.col("value")).alias("value")
    )
    for frame in (fred, bad):
        fast = quality.validate_table("raw.fred_observations", frame, engine="polars")
        gx = quality.validate_table("raw.fred_observations", frame, engine="gx")
        assert fast.success == gx.success
        assert [(r.rule, r.passed, r.unexpected_rows) for r in fast.results] == [
            (r.rule, r.passed, r.unexpected_rows) for r in gx.results
        ]
    con = duckdb.connect(str(built_warehouse), read_only=True)
    try:
        for table in ("marts.bitcoin_price_comparison", "marts.scenario_flows"):
            a = quality.run_checks(con, table, engine="polars")
            b = quality.run_checks(con, table, engine="gx")
            assert [(r.rule, r.passed, r.unexpected_rows) for r in a] == [
                (r.rule, r.passed, r.unexpected_rows) for r in b
            ], table
    finally:
        con.close()


def test_gx_suite_expectations_name_table_and_rule(fred: pl.DataFrame) -> None:
    item = metadata.entry("raw.fred_observations")
    batch = quality.table_batch(item, fred)
    suite = quality.gx_suite(batch, item.table)
    metas = [e.meta for e in suite.expectations]
    assert {m["rule"] for m in metas} == {"not_empty", "grain", "values"}
    assert all(m["table"] == "raw.fred_observations" and m["what"] for m in metas)


def test_gx_failure_carries_offending_rows(fred: pl.DataFrame) -> None:
    bad = pl.concat([fred, fred.head(1)])
    report = quality.validate_table("raw.fred_observations", bad, engine="gx")
    grain = next(r for r in report.results if r.rule == "grain")
    assert not grain.passed and grain.examples
    assert grain.examples[0]["series_id"] == fred["series_id"][0]


def test_check_result_for_dagster() -> None:
    failing = RuleResult(
        "raw.lbma_prices", "freshness", False, False, 2, 2,
        ("raw.lbma_prices: rule freshness: age_days outside [, 7] in 2 of 2 rows, e.g. {x}",),
        ({"dataset": "gold_pm", "age_days": 106},), 2, "polars",
    )
    result = check_result(failing, "Newest date at most 7 days old.")
    assert result.severity.value == "WARN" and not result.passed
    assert result.description.startswith("raw.lbma_prices: rule freshness")
    assert "| dataset | age_days |" in result.metadata["examples"].value
    assert result.metadata["failing_rows"].value == 2


def test_one_check_per_rule_with_its_blocking_flag() -> None:
    checks = quality_checks(["marts.bitcoin_price_comparison", "raw.lbma_prices", "x.unknown"])
    specs = {(s.asset_key.to_user_string(), s.name): s for c in checks for s in c.check_specs}
    assert specs[("marts/bitcoin_price_comparison", "grain")].blocking
    assert not specs[("marts/bitcoin_price_comparison", "lagged_alignment")].blocking
    assert not specs[("raw/lbma_prices", "freshness")].blocking
    assert specs[("raw/lbma_prices", "min_history")].blocking
    expected = sum(len(quality.rule_checks(t))
                   for t in ("marts.bitcoin_price_comparison", "raw.lbma_prices"))
    assert len(specs) == expected


def test_definitions_and_ingest_validation_do_not_import_gx() -> None:
    code = (
        "import sys, polars as pl\n"
        "import pipelines.definitions\n"
        "from altflow.quality import validate_table\n"
        "frame = pl.DataFrame({'asset': ['gold'], 'asset_class': ['precious_metals'],"
        " 'pricing': ['market'], 'trading_days_per_year': [252.0]})\n"
        "assert validate_table('raw.reference_assets', frame).success\n"
        "assert 'great_expectations' not in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_checks_run_in_dagster_one_result_per_rule(
    built_warehouse: Path, tmp_path: Path
) -> None:
    """A raw table with a truncated price file, materialized with its checks in Dagster: each
    rule reports on its own, the blocking history rule fails naming the dataset, freshness is
    a WARN."""
    from dagster import AssetKey, materialize
    from dagster import asset as dagster_asset

    from altflow.warehouse import replace_table
    from assets.checks import table_checks
    from pipelines.resources import WarehouseResource

    frame = _frame(built_warehouse, "raw.lbma_prices")
    short = frame.filter((pl.col("dataset") != "silver") | (pl.col("date") > date(2026, 6, 1)))

    @dagster_asset(key=AssetKey(["raw", "lbma_prices"]), required_resource_keys={"warehouse"})
    def lbma_prices(context) -> None:  # noqa: ANN001 (dagster resolves the context itself)
        with context.resources.warehouse.get().writer() as con:
            replace_table(con, "raw.lbma_prices", short)

    result = materialize(
        [lbma_prices, table_checks("raw.lbma_prices")],
        resources={"warehouse": WarehouseResource(path=str(tmp_path / "wh.duckdb"))},
        raise_on_error=False,
    )
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {r.rule for r in quality.rule_checks("raw.lbma_prices")}
    history = evaluations["min_history"]
    assert not history.passed and history.severity.value == "ERROR"
    assert history.description.startswith("raw.lbma_prices: rule min_history: priced_days")
    assert "dataset=silver" in history.description
    assert "| dataset | priced_days |" in history.metadata["examples"].value
    assert evaluations["schema"].passed and evaluations["grain"].passed
    fresh = evaluations["freshness"]
    assert fresh.passed or fresh.severity.value == "WARN"
