"""Engine inputs read from the warehouse: pool series and growth, market size and liquidity.

One read-only connection, plain SQL, no Dagster: ``altflow scenarios run`` and the model
assets both call :func:`load_inputs`, so the CLI and the pipeline see the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from altflow.warehouse import Warehouse, list_tables

from .engine import MarketInput, PoolInput
from .spec import Scenario

# Default growth: the longest trailing CAGR the series has (10 y, else 5 y, else 1 y).
POOL_SQL = """
SELECT r.series, r.period_end, r.assets_usd,
       coalesce(g.cagr_10y, g.cagr_5y, g.cagr_1y) AS growth_rate,
       g.net_contribution_rate
FROM marts.retirement_assets AS r
LEFT JOIN marts.pool_growth AS g USING (series)
QUALIFY r.period_end = max(r.period_end) OVER (PARTITION BY r.series)
"""
POOL_SQL_NO_GROWTH = """
SELECT series, period_end, assets_usd, NULL AS growth_rate, NULL AS net_contribution_rate
FROM marts.retirement_assets
QUALIFY period_end = max(period_end) OVER (PARTITION BY series)
"""
MARKET_COLUMNS = (
    "asset",
    "asset_class",
    "market_cap_usd",
    "daily_volume_usd",
    "annual_volatility",
    "aum_usd",
    "annual_fundraising_usd",
    "dry_powder_usd",
    "note",
)


@dataclass(frozen=True)
class WarehouseInputs:
    pools: dict[str, PoolInput]
    markets: dict[str, MarketInput]

    @property
    def known_series(self) -> set[str]:
        return set(self.pools)

    @property
    def known_assets(self) -> set[str]:
        return set(self.markets)

    def pool_for(self, scenario: Scenario) -> PoolInput | None:
        """The pool of a scenario's series; None when the scenario fixes base_usd itself."""
        return self.pools.get(scenario.pool.series) if scenario.pool.series else None


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    schema, name = table.split(".")
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchall()
    return {r[0] for r in rows}


def read_inputs(con: duckdb.DuckDBPyConnection) -> WarehouseInputs:
    """Inputs from an open connection (missing marts give empty inputs, not errors)."""
    tables = set(list_tables(con))
    pools: dict[str, PoolInput] = {}
    if "marts.retirement_assets" in tables:
        sql = POOL_SQL if "marts.pool_growth" in tables else POOL_SQL_NO_GROWTH
        for series, period_end, value, growth, net in con.execute(sql).fetchall():
            pools[series] = PoolInput(series, period_end, float(value), growth, net)
    markets: dict[str, MarketInput] = {}
    if "marts.market_snapshot" in tables:
        have = _columns(con, "marts.market_snapshot")
        select = ", ".join(c if c in have else f"NULL AS {c}" for c in MARKET_COLUMNS)
        for row in con.execute(f"SELECT {select} FROM marts.market_snapshot").fetchall():
            record = dict(zip(MARKET_COLUMNS, row, strict=True))
            markets[record["asset"]] = MarketInput(**record)
    return WarehouseInputs(pools, markets)


def load_inputs(warehouse: Warehouse) -> WarehouseInputs:
    with warehouse.reader() as con:
        return read_inputs(con)
