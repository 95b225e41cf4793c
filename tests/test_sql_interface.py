"""The documented SQL interface: every example query runs on a built warehouse and answers its
question; docs/data-dictionary.md is what the generator writes from a fresh build."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from altflow import config, data_dictionary
from pipelines.cli import main

EXAMPLES = config.SQL_DIR / "examples"
EXPECTED = {
    "latest_pool.sql": {"series", "period_end", "assets_usd", "source", "url"},
    "flows_by_scenario_quarter.sql": {"scenario", "period_end", "total_flow_usd",
                                      "cumulative_flow_usd"},
    "impact_ranking.sql": {"rank", "scenario", "asset", "price_impact", "implied_price_usd"},
    "real_returns.sql": {"asset", "month_end", "real_return_1y", "nominal_return_1y"},
    "provenance.sql": {"series", "assets_usd", "document_url", "retrieved_at", "sha256"},
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("run") / "altflow.duckdb"
    assert main(["run", "--source", "snapshot", "--warehouse", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def con(built: Path):  # noqa: ANN201
    connection = duckdb.connect(str(built), read_only=True)
    yield connection
    connection.close()


def test_every_example_is_covered() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.sql")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_and_returns_rows(con: duckdb.DuckDBPyConnection, name: str) -> None:
    frame = con.sql((EXAMPLES / name).read_text()).pl()
    assert frame.height > 0, name
    assert EXPECTED[name] <= set(frame.columns), EXPECTED[name] - set(frame.columns)


def test_examples_answer_their_questions(con: duckdb.DuckDBPyConnection) -> None:
    pool = con.sql((EXAMPLES / "latest_pool.sql").read_text()).pl()
    assert pool["series"].n_unique() == pool.height  # one row per series: its latest value
    flows = con.sql((EXAMPLES / "flows_by_scenario_quarter.sql").read_text()).pl()
    totals = con.sql(
        "SELECT scenario, sum(flow_usd) AS s FROM marts.scenario_flows GROUP BY 1"
    ).pl()
    last = (flows.sort("period_end").group_by("scenario")
            .agg(c=pl.col("cumulative_flow_usd").last()).sort("scenario"))
    assert last["c"].to_list() == pytest.approx(totals.sort("scenario")["s"].to_list())
    ranking = con.sql((EXAMPLES / "impact_ranking.sql").read_text()).pl()
    impacts = ranking["price_impact"].drop_nulls().to_list()
    assert impacts == sorted(impacts, reverse=True) and ranking["rank"][0] == 1
    priced = ranking.filter(ranking["implied_price_usd"].is_not_null())
    assert priced.height > 0
    for row in priced.iter_rows(named=True):  # implied price = start price x (1 + impact)
        assert row["implied_price_usd"] == pytest.approx(
            row["start_price_usd"] * (1 + row["price_impact"]), rel=1e-6
        )
    trail = con.sql((EXAMPLES / "provenance.sql").read_text()).pl()
    assert trail["document_url"][0].startswith("http") and len(trail["sha256"][0]) == 64


def test_data_dictionary_is_current(con: duckdb.DuckDBPyConnection) -> None:
    fresh = data_dictionary.render(con)
    committed = data_dictionary.DEFAULT_OUT.read_text(encoding="utf-8")
    assert committed == fresh, (
        "docs/data-dictionary.md is stale: run `python -m altflow.data_dictionary "
        "--warehouse <a snapshot build>`"
    )
    for table in ("marts.scenario_impact", "marts.retirement_assets", "marts.market_snapshot"):
        assert f"### {table}" in fresh
    assert "_undocumented_" not in fresh.split("## staging")[0]  # every mart column documented
