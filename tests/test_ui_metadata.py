"""UI metadata of a table: row count, column schema with units, readable preview, sources,
as-of date, and a chart for the tables that have one."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl
from dagster import AssetSpec, TableSchema

from assets.ui_metadata import decorate, markdown_preview, table_metadata


def _pool() -> pl.DataFrame:
    return pl.DataFrame({
        "period_end": [date(2025, 3, 31), date(2025, 6, 30), date(2025, 9, 30)],
        "series": ["dc_plans"] * 3,
        "assets_usd": [12.2e12, 12.9e12, 13.9e12],
        "source": ["ici"] * 3,
        "url": ["https://www.ici.org/research/stats/retirement"] * 3,
        "as_of": [date(2025, 12, 18)] * 3,
    })


def test_table_metadata_from_a_connection_has_schema_preview_sources_and_chart() -> None:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    con.register("pool", _pool().to_arrow())
    con.execute("CREATE TABLE marts.retirement_assets AS SELECT * FROM pool")
    meta = table_metadata(con, "marts.retirement_assets")
    assert meta["dagster/row_count"] == 3
    schema = meta["dagster/column_schema"]
    assert isinstance(schema, TableSchema)
    columns = {c.name: c for c in schema.columns}
    assert "[unit: usd]" in columns["assets_usd"].description  # from the metadata YAML
    assert columns["period_end"].type == "DATE"
    assert "$12.20 tn" in meta["preview"].md_str
    assert meta["sources"] == "ici"
    assert "https://www.ici.org/research/stats/retirement" in meta["source_urls"].md_str
    assert meta["as_of"].startswith("2025-12-18")
    assert meta["pool_chart"].md_str.startswith("![") and "data:image/png;base64," in (
        meta["pool_chart"].md_str)


def test_preview_formats_shares_and_blanks_nulls() -> None:
    frame = pl.DataFrame({"asset": ["gold", "bitcoin"], "share_of_market_cap": [0.0939, None],
                          "annual_volatility": [0.4631, 0.2]})
    text = markdown_preview(frame)
    assert "| gold | 9.39 % | 46.3 % |" in text
    assert "| bitcoin |  | 20 % |" in text


def test_decorate_gives_owner_layer_group_and_schema() -> None:
    from dagster import Definitions

    [spec] = Definitions(assets=decorate(
        [AssetSpec(["staging", "lbma_prices"], group_name="warehouse")]
    )).resolve_all_asset_specs()
    assert spec.group_name == "staging"
    assert spec.owners == ["team:altflow"]
    assert "table" in spec.kinds and spec.tags["layer"] == "staging"
    assert "dagster/column_schema" in spec.metadata
