"""Table metadata: every built table has an entry, and every entry agrees with its table."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from dagster import TableSchema

from altflow import config, metadata
from altflow.metadata import MetadataError
from altflow.sqlmodels import discover
from assets.metadata import column_schema, table_metadata

SCHEMAS = ("raw", "staging", "marts")


@pytest.fixture(scope="module")
def built(built_warehouse: Path) -> dict[str, list[tuple[str, str, int]]]:
    """Per built table: (column, DuckDB type, NULL count) in table order."""
    con = duckdb.connect(str(built_warehouse), read_only=True)
    try:
        tables: dict[str, list[tuple[str, str, int]]] = {}
        rows = con.execute(
            "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns()"
            " WHERE schema_name IN ('raw', 'staging', 'marts')"
            " ORDER BY schema_name, table_name, column_index"
        ).fetchall()
        for schema, table, column, dtype in rows:
            name = f"{schema}.{table}"
            nulls = con.execute(
                f'SELECT count(*) FILTER (WHERE "{column}" IS NULL) FROM {name}'
            ).fetchone()[0]
            tables.setdefault(name, []).append((column, dtype, nulls))
        return tables
    finally:
        con.close()


def test_every_built_table_has_an_entry(built: dict) -> None:
    missing = sorted(set(built) - set(metadata.all_entries()))
    assert not missing, f"tables without a metadata entry: {missing}"


def test_every_entry_names_a_built_table(built: dict) -> None:
    orphans = sorted(set(metadata.all_entries()) - set(built))
    assert not orphans, f"entries whose table the snapshot run does not build: {orphans}"


def test_entry_columns_and_types_match_the_built_table(built: dict) -> None:
    problems = []
    for table, columns in sorted(built.items()):
        item = metadata.all_entries().get(table)
        if item is None:
            continue
        actual = [(c, t) for c, t, _ in columns]
        expected = [(c.name, c.type) for c in item.columns]
        if actual != expected:
            extra = [c for c in actual if c not in expected]
            lacking = [c for c in expected if c not in actual]
            problems.append(f"{table} ({item.path.name}): table has {extra}, entry has {lacking}")
    assert not problems, "\n".join(problems)


def test_not_nullable_columns_hold_no_nulls(built: dict) -> None:
    problems = []
    for table, columns in sorted(built.items()):
        item = metadata.all_entries().get(table)
        if item is None:
            continue
        declared = {c.name: c for c in item.columns}
        for column, _, nulls in columns:
            col = declared.get(column)
            if col is not None and not col.nullable and nulls:
                problems.append(f"{table}.{column}: entry says not null, table has {nulls} NULLs")
    assert not problems, "\n".join(problems)


def test_every_sql_model_has_an_entry_beside_it_and_no_entry_is_orphaned() -> None:
    models = discover()
    lacking = [str(m.path) for m in models if not m.path.with_suffix(".yml").exists()]
    assert not lacking, f"SQL models without a .yml beside them: {lacking}"
    for layer in ("staging", "marts"):
        for yml in (config.SQL_DIR / layer).glob("*.yml"):
            assert yml.with_suffix(".sql").exists(), f"{yml} has no SQL model"


def test_entries_are_complete() -> None:
    for table, item in metadata.all_entries().items():
        assert item.description and "TODO" not in item.description, table
        assert item.grain, f"{table}: no grain"
        for col in item.columns:
            assert col.description and "TODO" not in col.description, f"{table}.{col.name}"
            assert col.unit in metadata.UNITS


def test_entry_lookup() -> None:
    item = metadata.entry("marts.market_snapshot")
    assert item.grain == ("asset",)
    price = item.column("price_usd")
    assert (price.type, price.unit, price.nullable) == ("DOUBLE", "usd", True)
    with pytest.raises(KeyError, match="marts.nope has no metadata entry"):
        metadata.entry("marts.nope")


def test_a_malformed_entry_is_one_line_naming_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "marts" / "thing.yml"
    path.parent.mkdir()
    path.write_text(
        "table: marts.thing\ndescription: x\ngrain: [a]\n"
        "columns:\n- {name: a, description: d, type: VARCHAR, unit: furlongs}\n"
    )
    with pytest.raises(MetadataError) as err:
        metadata.load(path)
    assert str(path) in str(err.value) and "unit 'furlongs'" in str(err.value)
    assert "\n" not in str(err.value)
    path.write_text("table: marts.other\ndescription: x\ncolumns: []\n")
    with pytest.raises(MetadataError, match="'table' must be 'marts.thing'"):
        metadata.load(path)
    path.write_text("table: [unclosed\n")
    with pytest.raises(MetadataError, match="cannot read"):
        metadata.load(path)


def test_comment_statements_reach_the_warehouse(built_warehouse: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(built_warehouse, copy)
    con = duckdb.connect(str(copy))
    try:
        done = metadata.apply_comments(con)
        assert done == len(metadata.all_entries())
        comment = con.execute(
            "SELECT comment FROM duckdb_tables()"
            " WHERE schema_name = 'marts' AND table_name = 'market_snapshot'"
        ).fetchone()[0]
        assert comment.startswith("One row per asset") and "Grain: one row per asset." in comment
        col = con.execute(
            "SELECT comment FROM duckdb_columns() WHERE schema_name = 'marts'"
            " AND table_name = 'pool_growth' AND column_name = 'cagr_1y'"
        ).fetchone()[0]
        assert "unit: fraction" in col and "range: [-0.9, 2]" in col
    finally:
        con.close()


def test_comment_statements_quote_and_skip_absent_columns() -> None:
    statements = metadata.comment_statements("marts.market_snapshot", present=["asset"])
    assert len(statements) == 2  # the table and its one present column
    assert statements[1].startswith('COMMENT ON COLUMN marts.market_snapshot."asset" IS')
    assert "Metals'' market cap" in statements[0]  # quote doubled


def test_dagster_column_schema_from_the_entry() -> None:
    schema = column_schema("marts.retirement_assets")
    assert isinstance(schema, TableSchema)
    item = metadata.entry("marts.retirement_assets")
    assert [c.name for c in schema.columns] == [c.name for c in item.columns]
    assets_usd = next(c for c in schema.columns if c.name == "assets_usd")
    assert assets_usd.type == "DOUBLE" and "[usd]" in assets_usd.description
    assert "grain: one row per (series, period_end)" in schema.constraints.other
    meta = table_metadata("marts.retirement_assets")
    assert meta["grain"].value == "series, period_end"
    assert table_metadata("marts.nope") == {}


def test_draft_gives_a_loadable_starting_entry(built_warehouse: Path, tmp_path: Path) -> None:
    con = duckdb.connect(str(built_warehouse), read_only=True)
    try:
        raw = metadata.draft(con, "marts.pool_growth")
    finally:
        con.close()
    path = tmp_path / "marts" / "pool_growth.yml"
    path.parent.mkdir()
    path.write_text(metadata.dump(raw))
    item = metadata.load(path)
    assert item.column_names == metadata.entry("marts.pool_growth").column_names
    assert item.column("series").nullable is False
