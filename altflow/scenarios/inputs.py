"""Engine inputs read from the warehouse: pool histories, point-in-time market state.

One read-only connection, plain SQL, no Dagster: ``altflow scenarios run`` and the model
assets both call :func:`load_inputs`, so the CLI and the pipeline see the same numbers.
Both inputs are kept as histories so that a scenario sees the state as of its base date
(CONTRACT.md section 5): the pool's value on or before it and each asset's latest
``marts.market_history`` row on or before it; nothing dated after the base date.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb

from altflow.universe import ASSET_CLASS
from altflow.warehouse import Warehouse, list_tables

from .engine import MarketInput, PoolInput
from .spec import Scenario

# Every table the engine reads (assets/model.py declares them as the scenario marts' deps).
READS = (
    "marts.retirement_assets",
    "marts.pool_growth",
    "marts.market_snapshot",
    "marts.market_history",
)
POOL_HISTORY_SQL = "SELECT series, period_end, assets_usd FROM marts.retirement_assets"
# Default growth: the longest trailing CAGR the series has (10 y, else 5 y, else 1 y).
POOL_GROWTH_SQL = """
SELECT series, latest_period_end, coalesce(cagr_10y, cagr_5y, cagr_1y) AS growth_rate,
       net_contribution_rate
FROM marts.pool_growth
"""
HISTORY_COLUMNS = (
    "date",
    "asset",
    "asset_class",
    "price_usd",
    "market_cap_usd",
    "daily_volume_usd",
    "annual_volatility",
    "aum_usd",
    "annual_fundraising_usd",
    "dry_powder_usd",
    "source",
    "note",
    "market_size_as_of",
)
SNAPSHOT_COLUMNS = (
    "asset",
    "asset_class",
    "market_cap_usd",
    "daily_volume_usd",
    "annual_volatility",
    "aum_usd",
    "annual_fundraising_usd",
    "dry_powder_usd",
    "note",
    "price_usd",
    "as_of",
    "source",
)
MARKET_PRICED_CLASSES = ("precious_metals", "crypto")
GROWTH_YEARS = (10, 5, 1)
GROWTH_SLACK_DAYS = 92  # the base quarter may be one quarter off its target (pool_growth's rule)


class MarketHistory(Mapping[str, MarketInput]):
    """Every asset's market state by date; as a mapping, each asset's latest state.

    ``at(day)`` gives the state a scenario based on ``day`` may use: each asset's latest row
    dated on or before ``day``. Assets with no row by then are absent.
    """

    def __init__(self, rows: Mapping[str, list[MarketInput]], extra: Mapping[str, MarketInput]
                 | None = None):
        self._rows = {a: sorted(r, key=lambda m: m.as_of or date.min) for a, r in rows.items()}
        self._dates = {a: [m.as_of or date.min for m in r] for a, r in self._rows.items()}
        # assets the warehouse knows without a dated row (e.g. platinum: facts, no prices)
        self._extra = dict(extra or {})

    def __getitem__(self, asset: str) -> MarketInput:
        if asset in self._rows:
            return self._rows[asset][-1]
        return self._extra[asset]

    def __iter__(self) -> Iterator[str]:
        yield from self._rows
        yield from (a for a in self._extra if a not in self._rows)

    def __len__(self) -> int:
        return len(set(self._rows) | set(self._extra))

    @property
    def latest_date(self) -> date | None:
        """The latest date with market data for a market-priced asset (the default base)."""
        days = [r[-1].as_of for r in self._rows.values()
                if r and r[-1].asset_class in MARKET_PRICED_CLASSES and r[-1].as_of]
        return max(days) if days else None

    def at(self, day: date) -> dict[str, MarketInput]:
        """Each asset's latest state dated on or before ``day``."""
        out: dict[str, MarketInput] = {}
        for asset, rows in self._rows.items():
            i = bisect.bisect_right(self._dates[asset], day)
            if i:
                out[asset] = rows[i - 1]
        return out


@dataclass(frozen=True)
class PoolHistory:
    """One series' observations (sorted), with pool_growth's defaults at its latest one."""

    series: str
    points: tuple[tuple[date, float], ...]
    growth_rate: float | None = None
    net_contribution_rate: float | None = None

    def at(self, day: date | None) -> PoolInput | None:
        """The latest observation on or before ``day`` (the latest of all when None).

        Growth: marts.pool_growth's trailing CAGR when that observation is the latest; for
        an earlier one the same rule (10 y, else 5 y, else 1 y) on observations up to it.
        """
        dates = [d for d, _ in self.points]
        i = len(dates) if day is None else bisect.bisect_right(dates, day)
        if i == 0:
            return None
        end, value = self.points[i - 1]
        if i == len(dates):
            return PoolInput(self.series, end, value, self.growth_rate,
                             self.net_contribution_rate)
        return PoolInput(self.series, end, value, trailing_cagr(self.points[:i]), None)


def trailing_cagr(points: tuple[tuple[date, float], ...]) -> float | None:
    """Annualised growth from the observation nearest N years before the last one."""
    if len(points) < 2:
        return None
    end, last = points[-1]
    for years in GROWTH_YEARS:
        target = end - timedelta(days=round(365.25 * years))
        near = [(abs((d - target).days), d, v) for d, v in points[:-1]
                if abs((d - target).days) <= GROWTH_SLACK_DAYS and v > 0]
        if near:
            _, d0, v0 = min(near)
            return (last / v0) ** (365.25 / (end - d0).days) - 1
    return None


@dataclass(frozen=True)
class WarehouseInputs:
    pool_histories: dict[str, PoolHistory]
    markets: MarketHistory

    @property
    def pools(self) -> dict[str, PoolInput]:
        """Each series' latest observation."""
        out = {}
        for name, history in self.pool_histories.items():
            pool = history.at(None)
            if pool is not None:
                out[name] = pool
        return out

    @property
    def known_series(self) -> set[str]:
        return set(self.pool_histories)

    @property
    def known_assets(self) -> set[str]:
        return set(self.markets)

    def base_date(self, scenario: Scenario) -> date | None:
        """`start`, else the latest date with market data in the warehouse."""
        return scenario.start or self.markets.latest_date

    def pool_for(self, scenario: Scenario) -> PoolInput | None:
        """The series' observation on or before the base date; None with a fixed base_usd."""
        if not scenario.pool.series or scenario.pool.series not in self.pool_histories:
            return None
        return self.pool_histories[scenario.pool.series].at(self.base_date(scenario))


def _float(x: object) -> float | None:
    return None if x is None else float(x)  # type: ignore[arg-type]


def _market(record: dict) -> MarketInput:
    return MarketInput(
        asset=record["asset"],
        asset_class=record["asset_class"] or ASSET_CLASS.get(record["asset"], ""),
        market_cap_usd=_float(record["market_cap_usd"]),
        daily_volume_usd=_float(record["daily_volume_usd"]),
        annual_volatility=_float(record["annual_volatility"]),
        aum_usd=_float(record["aum_usd"]),
        annual_fundraising_usd=_float(record["annual_fundraising_usd"]),
        dry_powder_usd=_float(record["dry_powder_usd"]),
        note=record["note"],
        price_usd=_float(record["price_usd"]),
        as_of=record["as_of"],
        source=record["source"],
        size_as_of=record.get("market_size_as_of"),
    )


def read_inputs(con: duckdb.DuckDBPyConnection) -> WarehouseInputs:
    """Inputs from an open connection (missing marts give empty inputs, not errors)."""
    tables = set(list_tables(con))
    histories: dict[str, PoolHistory] = {}
    if "marts.retirement_assets" in tables:
        points: dict[str, list[tuple[date, float]]] = {}
        for series, end, value in con.execute(POOL_HISTORY_SQL).fetchall():
            if end is not None and value is not None:
                points.setdefault(series, []).append((end, float(value)))
        growth: dict[str, tuple[float | None, float | None]] = {}
        if "marts.pool_growth" in tables:
            for series, _, g, n in con.execute(POOL_GROWTH_SQL).fetchall():
                growth[series] = (_float(g), _float(n))
        for series, pts in points.items():
            g, n = growth.get(series, (None, None))
            histories[series] = PoolHistory(series, tuple(sorted(pts)), g, n)
    rows: dict[str, list[MarketInput]] = {}
    if "marts.market_history" in tables:
        sql = f"SELECT {', '.join(HISTORY_COLUMNS)} FROM marts.market_history"
        for row in con.execute(sql).fetchall():
            record = dict(zip(HISTORY_COLUMNS, row, strict=True))
            record["as_of"] = record.pop("date")
            rows.setdefault(record["asset"], []).append(_market(record))
    extra: dict[str, MarketInput] = {}
    if "marts.market_snapshot" in tables:
        # without marts.market_history (an older warehouse) each snapshot row is a dated state
        have = _columns(con, "marts.market_snapshot")
        select = ", ".join(c if c in have else f"NULL AS {c}" for c in SNAPSHOT_COLUMNS)
        for row in con.execute(f"SELECT {select} FROM marts.market_snapshot").fetchall():
            record = dict(zip(SNAPSHOT_COLUMNS, row, strict=True))
            if record["asset"] in rows:
                continue
            if "marts.market_history" not in tables and record["as_of"] is not None:
                rows[record["asset"]] = [_market(record)]
            else:
                # known to the warehouse but without a dated state: never used at a base date
                extra[record["asset"]] = _market(record)
    return WarehouseInputs(histories, MarketHistory(rows, extra))


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    schema, name = table.split(".")
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchall()
    return {r[0] for r in rows}


def load_inputs(warehouse: Warehouse) -> WarehouseInputs:
    with warehouse.reader() as con:
        return read_inputs(con)
