"""A self-contained HTML report over the warehouse marts: tables and inline SVG charts.

No JavaScript and no external files, so the report can be mailed or archived as one file.
Sections whose mart is missing say so instead of failing.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from altflow.display import usd
from altflow.warehouse import Warehouse

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2")
CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{font-size:1.6rem} h2{margin-top:2.2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.85rem;margin:.6rem 0}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:right;white-space:nowrap}
.scroll{overflow-x:auto}
th{background:#f4f4f4} td:first-child,th:first-child{text-align:left}
.note{color:#666;font-size:.85rem} svg{background:#fafafa;border:1px solid #eee}
"""


GROWTH_COLUMNS = ("series", "latest_period_end", "latest_assets_usd", "cagr_1y", "cagr_5y",
                  "cagr_10y", "net_contribution_rate", "source")
SNAPSHOT_COLUMNS = ("asset", "asset_class", "as_of", "price_usd", "market_cap_usd",
                    "daily_volume_usd", "annual_volatility", "source", "note")
SUMMARY_COLUMNS = ("scenario", "pool_series", "base_usd", "total_flow_usd", "total_flow_usd_p05",
                   "total_flow_usd_p95", "peak_quarterly_flow_usd", "peak_quarter_end",
                   "headline_asset", "headline_price_impact", "headline_share_of_market_cap")
IMPACT_COLUMNS = ("scenario", "asset", "horizon_end", "cumulative_flow_usd",
                  "share_of_market_cap", "days_of_volume", "price_impact_p05",
                  "price_impact_p50", "price_impact_p95", "share_of_aum", "note")
SOURCES_COLUMNS = ("source", "dataset", "mode", "as_of", "retrieved_at", "rows", "url")


PERCENT_PREFIXES = ("share_", "price_impact", "execution_impact", "cagr_", "annual_volatility")
MAX_TEXT = 70


def _cell(column: str, value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if column.endswith("_usd") or "_usd_" in column:
            return usd(value)
        if column.startswith(PERCENT_PREFIXES):
            return f"{100 * value:.3g} %"
        if abs(value) < 10:
            return f"{value:.4g}"
        return f"{value:,.1f}"
    text = str(value)
    if len(text) > MAX_TEXT:
        return f"<span title='{html.escape(text)}'>{html.escape(text[:MAX_TEXT])}…</span>"
    return html.escape(text)


def html_table(frame: pl.DataFrame, limit: int = 60) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(c, row[c])}</td>" for c in frame.columns) + "</tr>"
        for row in frame.head(limit).iter_rows(named=True)
    )
    more = (
        f"<p class=note>{frame.height - limit} more rows in the warehouse.</p>"
        if frame.height > limit
        else ""
    )
    return f"<div class=scroll><table><tr>{head}</tr>{body}</table></div>{more}"


def _columns(frame: pl.DataFrame, wanted: Sequence[str]) -> pl.DataFrame:
    """The wanted columns that exist, in that order (the marts may grow more)."""
    return frame.select([c for c in wanted if c in frame.columns])


def line_chart(
    series: dict[str, Sequence[tuple[float, float]]],
    title: str,
    width: int = 900,
    height: int = 300,
) -> str:
    """Lines of (x, y) points; x is a year fraction, y in trillions or as given."""
    points = [p for pts in series.values() for p in pts]
    if not points:
        return ""
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y1 = max(p[1] for p in points) * 1.05 or 1.0
    pad = 45

    def sx(x: float) -> float:
        return pad + (x - x0) / ((x1 - x0) or 1) * (width - 2 * pad)

    def sy(y: float) -> float:
        return height - pad + -y / y1 * (height - 2 * pad)

    parts = [
        f'<svg width="{width}" height="{height}" role="img"><title>{html.escape(title)}</title>'
    ]
    for i in range(5):
        y = y1 * i / 4
        parts.append(
            f'<line x1="{pad}" x2="{width - pad}" y1="{sy(y):.1f}" y2="{sy(y):.1f}"'
            ' stroke="#e5e5e5"/>'
        )
        parts.append(f'<text x="4" y="{sy(y) + 4:.1f}" font-size="10">{y:,.1f}</text>')
    for year in range(math.ceil(x0), math.floor(x1) + 1):
        parts.append(
            f'<text x="{sx(year) - 12:.1f}" y="{height - pad + 16}" font-size="10">{year}</text>'
        )
    for i, (name, pts) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        for segment in _segments(sorted(pts)):
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in segment)
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>'
            )
        parts.append(
            f'<text x="{pad + 10 + 130 * i}" y="14" font-size="11" fill="{colour}">'
            f"{html.escape(name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _segments(points: Sequence[tuple[float, float]], max_gap: float = 0.3):  # noqa: ANN202
    """Split a line where data is missing (> max_gap years apart): gaps are not drawn over."""
    segment: list[tuple[float, float]] = []
    for point in points:
        if segment and point[0] - segment[-1][0] > max_gap:
            yield segment
            segment = []
        segment.append(point)
    if segment:
        yield segment


def bar_chart(
    bars: Sequence[tuple[str, float]], title: str, unit: str = "%", width: int = 900
) -> str:
    """Horizontal bars, one per label (e.g. share of market cap per asset)."""
    if not bars:
        return ""
    top = max(v for _, v in bars) or 1.0
    row, pad = 22, 170
    height = row * len(bars) + 20
    parts = [
        f'<svg width="{width}" height="{height}" role="img"><title>{html.escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(bars):
        y = 10 + i * row
        length = max(1.0, value / top * (width - pad - 90))
        parts.append(f'<text x="4" y="{y + 14}" font-size="11">{html.escape(label)}</text>')
        parts.append(
            f'<rect x="{pad}" y="{y + 3}" width="{length:.1f}" height="{row - 6}"'
            f' fill="{PALETTE[0]}"/>'
        )
        parts.append(
            f'<text x="{pad + length + 4:.1f}" y="{y + 14}" font-size="11">{value:.3g}{unit}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _year_fraction(frame: pl.DataFrame, column: str) -> pl.Series:
    return frame[column].dt.year() + (frame[column].dt.ordinal_day() - 1) / 365.25


def build_report(warehouse: Warehouse) -> str:
    """The report as one HTML string."""
    tables = set(warehouse.tables())
    sections: list[str] = []

    def have(table: str) -> bool:
        if table in tables:
            return True
        sections.append(
            f"<p class=note>{table} is not in the warehouse yet (run `altflow run`).</p>"
        )
        return False

    sections.append("<h2>The pool: US retirement assets</h2>")
    if have("marts.retirement_assets"):
        frame = warehouse.query(
            "SELECT period_end, series, assets_usd FROM marts.retirement_assets"
            " WHERE series IN ('total_retirement', 'dc_plans', '401k', 'ira', 'private_dc_z1')"
            " ORDER BY series, period_end"
        )
        frame = frame.with_columns(x=_year_fraction(frame, "period_end"))
        series = {
            name: list(zip(g["x"].to_list(), (g["assets_usd"] / 1e12).to_list(), strict=True))
            for (name,), g in frame.group_by("series", maintain_order=True)
        }
        sections.append(line_chart(series, "Retirement assets, US$ trillion"))
        sections.append(
            "<p class=note>US$ trillion, end of quarter; breaks in a line are quarters no "
            "source figure was found for (never interpolated).</p>"
        )
    if "marts.pool_growth" in tables:
        growth = warehouse.query("SELECT * FROM marts.pool_growth ORDER BY latest_assets_usd DESC")
        sections.append(html_table(_columns(growth, GROWTH_COLUMNS)))

    sections.append("<h2>The markets</h2>")
    if have("marts.market_snapshot"):
        snap = warehouse.query("SELECT * FROM marts.market_snapshot ORDER BY asset_class, asset")
        sections.append(html_table(_columns(snap, SNAPSHOT_COLUMNS)))

    sections.append("<h2>Scenarios</h2>")
    if "marts.scenario_summary" in tables:
        summary = warehouse.query("SELECT * FROM marts.scenario_summary ORDER BY scenario")
        sections.append(html_table(_columns(summary, SUMMARY_COLUMNS)))
    if have("marts.scenario_impact"):
        impact = warehouse.query(
            "SELECT * FROM marts.scenario_impact"
            " QUALIFY horizon_end = max(horizon_end) OVER (PARTITION BY scenario)"
            " ORDER BY scenario, asset"
        )
        shares = [
            (f"{r['scenario']} · {r['asset']}", 100 * r["share_of_market_cap"])
            for r in impact.iter_rows(named=True)
            if r.get("share_of_market_cap") is not None
        ]
        sections.append(bar_chart(shares, "Cumulative flow as % of market cap at the horizon"))
        sections.append(html_table(_columns(impact, IMPACT_COLUMNS), limit=200))

    sections.append("<h2>Sources</h2>")
    if have("marts.sources"):
        sources = warehouse.query("SELECT * FROM marts.sources")
        sections.append(html_table(_columns(sources, SOURCES_COLUMNS), limit=500))

    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>altflow report</title>"
        f"<style>{CSS}</style></head><body>"
        "<h1>altflow: retirement-plan flows into alternatives</h1>"
        f"<p class=note>Generated {generated} from {html.escape(str(warehouse.path))}.</p>"
        + "".join(sections)
        + "</body></html>"
    )


def write_report(warehouse: Warehouse, out: Path) -> Path:
    """Write the report atomically (a temporary file renamed into place)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(build_report(warehouse), encoding="utf-8")
    tmp.replace(out)
    return out
