"""A self-contained HTML report over the warehouse marts: charts, tables, method and sources.

One file, no JavaScript and no external resources (charts are PNG data URIs from
:mod:`altflow.charts`, the same images the Dagster UI shows), so it can be mailed or archived.
Links to sources are plain anchors: nothing is fetched when the page opens. Every figure has
its sources and as-of date under it; sections whose mart is missing say so instead of failing.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from altflow import charts
from altflow.display import pct, usd
from altflow.warehouse import Warehouse

CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;
     color:#222;line-height:1.4}
h1{font-size:1.6rem} h2{margin-top:2.4rem;border-bottom:1px solid #ccc}
h3{margin-top:1.8rem}
nav ul{columns:3;font-size:.9rem}
table{border-collapse:collapse;font-size:.82rem;margin:.6rem 0;width:100%;table-layout:auto}
td,th{border:1px solid #ddd;padding:.25rem .4rem;vertical-align:top;text-align:left;
      overflow-wrap:break-word}
td.num{text-align:right;white-space:nowrap} th{background:#f4f4f4}
.note,figcaption{color:#555;font-size:.82rem} figure{margin:1rem 0}
img.chart{max-width:100%;height:auto;border:1px solid #eee}
details summary{cursor:pointer;color:#1f4e99} details p{margin:.2rem 0;font-size:.8rem}
a{color:#1f4e99}
"""
MAX_TEXT = 60


# --- cells ---------------------------------------------------------------------------------

def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def link(url: str | None, text: str = "source") -> str:
    """An anchor for a URL (several separated by ' ; ' become several anchors)."""
    if not url:
        return "—"
    parts = [u.strip() for u in str(url).split(" ; ") if u.strip()]
    anchors = []
    for i, part in enumerate(parts):
        if part.startswith(("http://", "https://")):
            label = text if len(parts) == 1 else f"{text} {i + 1}"
            anchors.append(f'<a href="{html.escape(part)}" title="{html.escape(part)}">'
                           f"{html.escape(label)}</a>")
        else:
            anchors.append(html.escape(part))
    return ", ".join(anchors)


def long_text(text: str | None, summary: str = "note") -> str:
    """Short text inline; long text folded behind a summary, so tables keep their width."""
    if _missing(text) or not str(text).strip():
        return "—"
    text = str(text)
    if len(text) <= MAX_TEXT:
        return html.escape(text)
    return (f"<details><summary>{html.escape(summary)}</summary>"
            f"<p>{html.escape(text)}</p></details>")


def _cell(column: str, value: object) -> tuple[str, bool]:
    """(html, is_number) for one value, by what the column holds."""
    if _missing(value):
        return "—", False
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, int | float):
        if column.endswith("_usd") or "_usd_" in column:
            return usd(float(value)), True
        if column.startswith(("share_", "price_impact", "execution_impact", "cagr_",
                              "headline_price_impact", "headline_share", "max_share",
                              "max_price_impact")) or column in (
                "annual_volatility", "net_contribution_rate", "uptake", "growth_rate",
                "flow_share_of_net_contributions", "peak_volume_share"):
            return pct(float(value)), True
        if isinstance(value, int):
            return f"{value:,}", True
        return (f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"), True
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC"), False
    if isinstance(value, date):
        return value.isoformat(), False
    if column in ("url", "market_size_url", "volume_url") or column.endswith("_url"):
        return link(str(value)), False
    if column in ("note", "problem", "description", "market_note", "market_size_note"):
        return long_text(str(value)), False
    return long_text(str(value), str(value)[:24] + "…"), False


Column = str | tuple[str, str]  # a column name, or (name, header)


def html_table(frame: pl.DataFrame, columns: Sequence[Column] | None = None,
               limit: int = 60) -> str:
    """The wanted columns that exist, formatted; long text folded, URLs as links."""
    wanted = [(c, c) if isinstance(c, str) else c for c in (columns or frame.columns)]
    wanted = [(name, head) for name, head in wanted if name in frame.columns]
    if not wanted or frame.is_empty():
        return "<p class=note>No rows.</p>"
    head = "".join(f"<th>{html.escape(h.replace('_', ' '))}</th>" for _, h in wanted)
    rows = []
    for row in frame.head(limit).iter_rows(named=True):
        cells = []
        for name, _ in wanted:
            text, number = _cell(name, row[name])
            cells.append(f"<td class=num>{text}</td>" if number else f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = (f"<p class=note>{frame.height - limit:,} more rows in the warehouse.</p>"
            if frame.height > limit else "")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>{more}"


def figure(png: bytes | None, alt: str, caption: str) -> str:
    """A chart with its sources and as-of date underneath."""
    return (f"<figure>{charts.html_image(png, alt)}<figcaption>{caption}</figcaption>"
            "</figure>")


def _sources_line(frame: pl.DataFrame, as_of: str | None, source_col: str = "source",
                  url_col: str = "url", limit: int = 6) -> str:
    names = (frame[source_col].drop_nulls().unique(maintain_order=True).to_list()
             if source_col in frame.columns else [])
    urls = (frame[url_col].drop_nulls().unique(maintain_order=True).to_list()[:limit]
            if url_col in frame.columns else [])
    links = ", ".join(link(u, f"link {i + 1}") for i, u in enumerate(urls))
    text = f"Sources: {html.escape(', '.join(map(str, names)) or 'not recorded')}"
    if links:
        text += f" ({links})"
    if as_of:
        text += f". As of {html.escape(as_of)}"
    return text + "."


def _latest(frame: pl.DataFrame, *columns: str) -> str | None:
    for column in columns:
        if column in frame.columns and frame[column].drop_nulls().len():
            value = frame[column].max()
            return value.isoformat() if isinstance(value, date) else str(value)
    return None


# --- sections --------------------------------------------------------------------------------

class _Report:
    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self.tables = set(warehouse.tables())
        self.parts: list[str] = []
        self.toc: list[tuple[str, str]] = []

    def heading(self, level: int, anchor: str, text: str) -> None:
        if level == 2:
            self.toc.append((anchor, text))
        self.parts.append(f'<h{level} id="{anchor}">{html.escape(text)}</h{level}>')

    def add(self, text: str) -> None:
        self.parts.append(text)

    def have(self, table: str) -> bool:
        if table in self.tables:
            return True
        self.add(f"<p class=note>{table} is not in the warehouse yet (run `altflow run`).</p>")
        return False

    def query(self, sql: str) -> pl.DataFrame:
        return self.warehouse.query(sql)

    def columns(self, table: str) -> set[str]:
        return set(self.query(f"SELECT * FROM {table} LIMIT 0").columns)


def _pool(r: _Report) -> None:
    r.heading(2, "pool", "The pool: US retirement assets")
    if not r.have("marts.retirement_assets"):
        return
    png, shown = _table_chart(r, "marts.retirement_assets")
    r.add(figure(
        png,
        "Retirement assets by series",
        "US$, end of quarter; a break in a line is a quarter for which no source figure was "
        "found (never interpolated). " + _sources_line(shown, _latest(shown, "as_of",
                                                                          "period_end")),
    ))
    if "marts.pool_growth" in r.tables:
        growth = r.query("SELECT * FROM marts.pool_growth ORDER BY latest_assets_usd DESC")
        r.add("<h3>Latest value and growth per series</h3>")
        r.add(html_table(growth, ("series", "latest_period_end", "latest_assets_usd",
                                  "cagr_1y", "cagr_5y", "cagr_10y", "net_contribution_rate",
                                  "source", "note")))
        r.add(f"<p class=note>CAGR: compound annual growth to the latest quarter. "
              f"{_sources_line(growth, _latest(growth, 'latest_period_end'))}</p>")


def _table_chart(r: _Report, table: str) -> tuple[bytes | None, pl.DataFrame]:
    """The chart the table's materialization carries (the same rows: drawn once a run), and
    those rows, for the caption's sources."""
    frame = r.query(charts.TABLE_CHARTS[table][2])
    return charts.table_chart(table, frame), frame


def _markets(r: _Report) -> None:
    r.heading(2, "markets", "The markets")
    history = "marts.market_prices" if "marts.market_prices" in r.tables else None
    if history is None and "marts.market_history" in r.tables:
        history = "marts.market_history"
    if history:
        png, prices = _table_chart(r, history)
        r.add(figure(png, "Price history per asset",
                     "US$ per unit (troy ounce for metals, coin for crypto), daily. "
                     + _sources_line(prices, _latest(prices, "date"))))
    if not r.have("marts.market_snapshot"):
        return
    snap = r.query("SELECT * FROM marts.market_snapshot ORDER BY asset_class, asset")
    r.add("<h3>Market size and liquidity used by the model</h3>")
    r.add(html_table(snap, ("asset", "asset_class", "as_of", "price_usd", "market_cap_usd",
                            "aum_usd", "daily_volume_usd", "annual_volatility", "source",
                            "url", "note")))
    r.add(f"<p class=note>{_sources_line(snap, _latest(snap, 'as_of'))}</p>")


SUMMARY = ("scenario", "pool_series", "base_usd", "total_flow_usd", "total_flow_usd_p05",
           "total_flow_usd_p95", "peak_quarterly_flow_usd", "peak_quarter_end",
           "headline_asset", "headline_price_impact", "headline_share_of_market_cap")
IMPACT = ("asset", "cumulative_flow_usd", "share_of_market_cap", "days_of_volume",
          "price_impact", "price_impact_p05", "price_impact_p95", "start_price_usd",
          "implied_price_usd", "implied_price_usd_p05", "implied_price_usd_p95",
          "share_of_aum", "note")


def _scenarios(r: _Report) -> None:
    r.heading(2, "scenarios", "Scenarios")
    if not r.have("marts.scenario_summary"):
        return
    summary = r.query("SELECT * FROM marts.scenario_summary ORDER BY scenario")
    r.add("<p>Each scenario file of the scenarios folder, run against the pool and market "
          "marts above. Flows are US$; impacts are permanent price changes "
          "(p05-p95: the Monte Carlo band where the scenario has draws).</p>")
    r.add(html_table(summary, SUMMARY))
    pool_as_of = None
    if "marts.retirement_assets" in r.tables:
        pool_as_of = _latest(r.query("SELECT max(period_end) AS d FROM marts.retirement_assets"),
                             "d")
    tables = {t: r.query(f"SELECT * FROM marts.{t}") for t in
              ("scenario_flows", "scenario_impact", "scenario_sensitivity")
              if f"marts.{t}" in r.tables}
    empty = pl.DataFrame({"scenario": []}, schema={"scenario": pl.Utf8})
    for row in summary.iter_rows(named=True):
        name = row["scenario"]
        r.heading(3, f"scenario-{name}", f"Scenario: {name}")
        if row.get("description"):
            r.add(f"<p>{html.escape(str(row['description']))}</p>")
        one = {t: f.filter(pl.col("scenario") == name) for t, f in tables.items()}
        flows = one.get("scenario_flows", empty)
        impact = one.get("scenario_impact", empty)
        basis = (f"Pool: {html.escape(str(row.get('pool_series') or 'fixed base'))}, "
                 f"as of {html.escape(_latest(impact, 'pool_as_of') or pool_as_of or 'n/a')};"
                 f" markets as of "
                 f"{html.escape(_latest(impact, 'market_as_of') or _market_as_of(r) or 'n/a')}"
                 ". Sources: marts.retirement_assets, marts.market_snapshot (see Sources).")
        r.add(figure(charts.scenario_flows(flows, name), f"Flows of {name}",
                     f"Flow into each asset per quarter, US$ (central path). {basis}"))
        r.add(figure(charts.impact_bands(impact, name), f"Impact of {name}",
                     "Permanent price impact at each horizon: central line, p05-p95 band "
                     f"(inelastic-markets multipliers, see Method). {basis}"))
        if "scenario_sensitivity" in one and one["scenario_sensitivity"].height:
            r.add(figure(charts.sensitivity_heatmap(one["scenario_sensitivity"], name),
                         f"Sensitivity of {name}",
                         f"Total flow over allocation scale x uptake. {basis}"))
        if impact.height:
            at_horizon = impact.filter(pl.col("horizon_end") == pl.col("horizon_end").max())
            r.add(f"<p class=note>At the horizon ({_latest(at_horizon, 'horizon_end')}):</p>")
            r.add(html_table(at_horizon.sort("cumulative_flow_usd", descending=True), IMPACT))


def _market_as_of(r: _Report) -> str | None:
    if "marts.market_snapshot" not in r.tables:
        return None
    return _latest(r.query("SELECT max(as_of) AS d FROM marts.market_snapshot"), "d")


def _number(value: float, unit: str) -> str:
    if unit.upper() == "USD":
        return usd(value)
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _method(r: _Report) -> None:
    r.heading(2, "method", "Method, multipliers and their sources")
    r.add(
        "<p>Money moves in as plans adopt the allocation (the adoption curve of each scenario "
        "file), quarter by quarter, on a pool that grows at its own trailing rate. The "
        "permanent price impact of a cumulative flow F into a market of capitalisation C is "
        "M x F / C (Gabaix &amp; Koijen's inelastic-markets multiplier M, low/central/high "
        "per asset); the execution cost of a quarter's flow follows the square-root law. "
        "Private markets are appraisal-priced: the report gives shares of AUM, fundraising "
        "and dry powder instead of a price. Every default the model uses without the "
        "scenario naming it is listed here with its source.</p>"
    )
    try:
        from altflow.scenarios.defaults import DEFAULTS
    except ImportError:  # pragma: no cover - engine not installed
        r.add("<p class=note>The defaults registry is not available.</p>")
        return
    rows = []
    for item in DEFAULTS:
        value = item.value
        shown = (" / ".join(_number(v, item.unit) for v in value) if isinstance(value, tuple)
                 else _number(value, item.unit))
        rows.append({"name": item.name, "value (low / central / high)": shown,
                     "unit": item.unit, "status": item.status, "as of": item.as_of,
                     "sources": item.source, "detail": item.note})
    frame = pl.DataFrame(rows)
    cells = []
    for row in frame.iter_rows(named=True):
        cells.append(
            "<tr>" + f"<td>{html.escape(row['name'])}</td>"
            f"<td class=num>{html.escape(row['value (low / central / high)'])}</td>"
            f"<td>{html.escape(row['unit'])}</td><td>{html.escape(row['status'])}</td>"
            f"<td>{html.escape(row['as of'])}</td><td>{link(row['sources'])}</td>"
            f"<td>{long_text(row['detail'], 'how it was derived')}</td></tr>"
        )
    r.add("<table><tr><th>name</th><th>value (low / central / high)</th><th>unit</th>"
          "<th>status</th><th>as of</th><th>sources</th><th>detail</th></tr>"
          + "".join(cells) + "</table>")
    r.add("<p class=note>status: sourced (a published figure), derived (computed from "
          "published figures as shown), assumption (no public figure; stated), convention."
          "</p>")


def _sources(r: _Report) -> None:
    r.heading(2, "sources", "Sources")
    if not r.have("marts.sources"):
        return
    sources = r.query("SELECT * FROM marts.sources ORDER BY source, dataset")
    r.add(html_table(sources, ("source", "dataset", "mode", "as_of", "retrieved_at", "rows",
                               "url", "status", "stale_since", "reason"), limit=500))


SECTIONS: tuple[Callable[[_Report], None], ...] = (_pool, _markets, _scenarios, _method,
                                                   _sources)


def build_report(warehouse: Warehouse) -> str:
    """The report as one HTML string."""
    r = _Report(warehouse)
    for section in SECTIONS:
        section(r)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    toc = "".join(f'<li><a href="#{a}">{html.escape(t)}</a></li>' for a, t in r.toc)
    return (
        "<!doctype html><html lang=en><head><meta charset='utf-8'>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<title>altflow report</title><style>{CSS}</style></head><body>"
        "<h1>altflow: retirement-plan flows into alternatives</h1>"
        f"<p class=note>Generated {generated} from {html.escape(str(warehouse.path))}. "
        "Amounts in US$; percentages are of the stated base.</p>"
        f"<nav><ul>{toc}</ul></nav>" + "".join(r.parts) + "</body></html>"
    )


def write_report(warehouse: Warehouse, out: Path) -> Path:
    """Write the report atomically (a temporary file renamed into place)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(build_report(warehouse), encoding="utf-8")
    tmp.replace(out)
    return out
