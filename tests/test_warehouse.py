"""Atomic copy-and-swap writes, and readers that are never refused while a write runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from altflow.sqlmodels import discover, parse_deps
from altflow.warehouse import Warehouse, WarehouseError, build_model, replace_table


def test_write_publishes_and_reader_sees_it(warehouse_path: Path) -> None:
    wh = Warehouse(warehouse_path)
    with wh.writer() as con:
        replace_table(con, "raw.t", pl.DataFrame({"a": [1, 2, 3]}))
    assert wh.query("SELECT sum(a) AS s FROM raw.t")["s"][0] == 6
    assert wh.tables() == ["raw.t"]
    assert not list(warehouse_path.parent.glob("*.tmp*"))


def test_failed_write_leaves_previous_table(warehouse_path: Path) -> None:
    wh = Warehouse(warehouse_path)
    with wh.writer() as con:
        replace_table(con, "raw.t", pl.DataFrame({"a": [1, 2, 3]}))
    with pytest.raises(duckdb.Error), wh.writer() as con:
        replace_table(con, "raw.t", pl.DataFrame({"a": [9]}))
        build_model(con, "marts.m", "SELECT * FROM raw.no_such_table")
    assert wh.query("SELECT a FROM raw.t ORDER BY a")["a"].to_list() == [1, 2, 3]
    assert "marts.m" not in wh.tables()
    assert not list(warehouse_path.parent.glob("*.tmp*"))


def test_reader_in_other_process_is_not_refused_during_a_write(warehouse_path: Path) -> None:
    wh = Warehouse(warehouse_path)
    with wh.writer() as con:
        replace_table(con, "raw.t", pl.DataFrame({"a": [1]}))
    reader = (
        "import duckdb,sys; c=duckdb.connect(sys.argv[1], read_only=True);"
        "print(c.execute('select count(*) from raw.t').fetchone()[0])"
    )
    with wh.writer() as con:
        replace_table(con, "raw.t", pl.DataFrame({"a": [1, 2]}))
        seen = subprocess.run(
            [sys.executable, "-c", reader, str(warehouse_path)],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        assert seen == "1"  # the last completed state, not the half-written one
    assert wh.query("SELECT count(*) AS n FROM raw.t")["n"][0] == 2


def test_killed_writer_leaves_published_file_and_stale_copy_is_cleaned(
    warehouse_path: Path,
) -> None:
    wh = Warehouse(warehouse_path)
    with wh.writer() as con:
        replace_table(con, "raw.t", pl.DataFrame({"a": [1]}))
    killer = (
        "import os,sys,polars as pl; from altflow.warehouse import Warehouse, replace_table\n"
        "with Warehouse(sys.argv[1]).writer() as con:\n"
        "    replace_table(con, 'raw.t', pl.DataFrame({'a': [5, 6]}))\n"
        "    os._exit(9)\n"
    )
    proc = subprocess.run([sys.executable, "-c", killer, str(warehouse_path)])
    assert proc.returncode == 9
    assert list(warehouse_path.parent.glob(".*.tmp*")), "the killed writer left its copy"
    assert wh.query("SELECT a FROM raw.t")["a"].to_list() == [1]
    with wh.writer() as con:
        replace_table(con, "raw.u", pl.DataFrame({"b": [1]}))
    assert not list(warehouse_path.parent.glob(".*.tmp*"))


def test_missing_warehouse_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="no warehouse at .*run `altflow run` first"):
        Warehouse(tmp_path / "none.duckdb").query("SELECT 1")


def test_readers_cannot_write(warehouse_path: Path) -> None:
    wh = Warehouse(warehouse_path)
    with wh.writer() as con:
        replace_table(con, "raw.t", pl.DataFrame({"a": [1]}))
    with pytest.raises(duckdb.Error, match="read-only"):
        wh.query("DROP TABLE raw.t")


def test_sql_dependencies_are_parsed_without_comments_or_strings() -> None:
    sql = "-- reads raw.ignored\nSELECT 'staging.not_a_table' FROM staging.a JOIN marts.b USING (x)"
    assert parse_deps(sql, "marts.c") == ("marts.b", "staging.a")


def test_every_sql_model_has_a_description_and_known_layer() -> None:
    models = discover()
    assert {m.schema for m in models} == {"staging", "marts"}
    for model in models:
        assert model.description and not model.description.startswith(model.table + ", built")
