"""Charts as PNG images (matplotlib, Agg): one set of figures for the report and the Dagster UI.

Why PNG bytes and data URIs: the HTML report must stay one self-contained file, and Dagster
shows images in markdown metadata only inline. Every function takes a mart frame and
returns PNG bytes, or None when the frame has nothing to draw (so callers leave the gap and
say so instead of drawing an empty axis).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import inspect
import io
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import date

import matplotlib

matplotlib.use("Agg")

import polars as pl  # noqa: E402
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, PercentFormatter  # noqa: E402

from altflow import workers  # noqa: E402

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939")
GAP_DAYS = 120  # a line breaks where consecutive points are further apart (never interpolated)


def _usd_axis(value: float, _pos: object = None) -> str:
    for scale, word in ((1e12, "tn"), (1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if abs(value) >= scale:
            return f"${value / scale:,.3g} {word}"
    return f"${value:,.0f}"


_DRAWN: OrderedDict[tuple, bytes | None] = OrderedDict()
_DRAWN_MAX = 256


def _frame_key(frame: pl.DataFrame) -> str:
    """The frame's content, independent of row and column order, of how it was typed and
    of its memory layout (a frame built in memory and the same rows read back from DuckDB
    give one key; IPC bytes would differ with chunking and string-view buffers)."""
    ordered = frame.select(pl.col(c).cast(pl.Utf8) for c in sorted(frame.columns))
    ordered = ordered.sort(ordered.columns, nulls_last=True) if ordered.height else ordered
    return hashlib.sha256(ordered.write_csv().encode()).hexdigest()


_CHARTS: dict[str, Callable[..., bytes | None]] = {}  # name -> undecorated drawing function


@functools.cache
def _takes_scenario(draw: Callable[..., bytes | None]) -> bool:
    return "scenario" in inspect.signature(draw).parameters


def _normalise(draw: Callable[..., bytes | None], frame: pl.DataFrame, args: tuple,
               kwargs: dict) -> tuple[tuple, pl.DataFrame, tuple, dict]:
    """The cache key of a call, and the call's (frame, args, kwargs) with a ``scenario``
    argument applied to the frame (so one scenario's rows, or the whole table, is one chart)."""
    kwargs = dict(kwargs)
    if _takes_scenario(draw):
        scenario = kwargs.pop("scenario", args[0] if args else None)
        args = args[1:] if args else ()
        if scenario is not None and "scenario" in frame.columns:
            frame = frame.filter(pl.col("scenario") == scenario)
        kwargs["scenario"] = scenario
    key = (draw.__name__, _frame_key(frame), args, tuple(sorted(kwargs.items())))
    return key, frame, args, kwargs


def _remember(key: tuple, png: bytes | None) -> bytes | None:
    _DRAWN[key] = png
    while len(_DRAWN) > _DRAWN_MAX:
        _DRAWN.popitem(last=False)
    return png


def _memo(draw: Callable[..., bytes | None]) -> Callable[..., bytes | None]:
    """Draw each distinct chart once per process: the UI metadata and the report share them."""
    _CHARTS[draw.__name__] = draw

    @functools.wraps(draw)
    def cached(frame: pl.DataFrame, *args: object, **kwargs: object) -> bytes | None:
        try:
            key, frame, args, kwargs = _normalise(draw, frame, args, kwargs)
        except Exception:  # an unsortable column type: draw without the cache
            return draw(frame, *args, **kwargs)
        if key in _DRAWN:
            return _DRAWN[key]
        return _remember(key, draw(frame, *args, **kwargs))

    return cached


def _draw(name: str, frame: pl.DataFrame, args: tuple, kwargs: dict) -> bytes | None:
    """One chart by name (what a worker process runs)."""
    return _CHARTS[name](frame, *args, **kwargs)


def draw_all(calls: Sequence[tuple[Callable[..., bytes | None], pl.DataFrame, tuple]]) -> None:
    """Draw the charts of ``calls`` ``(chart, frame, args)`` not drawn yet, in the worker
    processes when they run (``altflow.workers``); the calls that follow are cache hits."""
    todo: dict[tuple, tuple[str, pl.DataFrame, tuple, dict]] = {}
    for chart, frame, args in calls:
        draw = _CHARTS[chart.__name__]
        key, frame, args, kwargs = _normalise(draw, frame, args, {})
        if key not in _DRAWN:
            todo[key] = (draw.__name__, frame, args, kwargs)
    for key, png in zip(todo, workers.run_all(_draw, todo.values()), strict=True):
        _remember(key, png)


def _png(fig: Figure) -> bytes:
    """PNG bytes at the figure's own size: margins are set when the figure is made, because
    ``bbox_inches="tight"`` draws every figure twice (about a third of a chart's cost)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _figure(width: float = 9.0, height: float = 3.6, legend_right: bool = False
            ) -> tuple[Figure, object]:
    """One axis with fixed margins; ``legend_right`` leaves room for a legend beside it."""
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=0.09, right=0.8 if legend_right else 0.98, top=0.9, bottom=0.17)
    ax = fig.add_subplot()
    ax.grid(True, color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def _segments(dates: Sequence[date], values: Sequence[float | None]):  # noqa: ANN202
    """Runs of consecutive points: a gap in the data is a gap in the line."""
    run_x: list[date] = []
    run_y: list[float] = []
    for x, y in zip(dates, values, strict=True):
        if y is None:
            if run_x:
                yield run_x, run_y
            run_x, run_y = [], []
            continue
        if run_x and (x - run_x[-1]).days > GAP_DAYS:
            yield run_x, run_y
            run_x, run_y = [], []
        run_x.append(x)
        run_y.append(y)
    if run_x:
        yield run_x, run_y


def _lines(ax: object, frame: pl.DataFrame, x: str, y: str, by: str) -> int:
    """One line per group; isolated points are drawn as markers so they never vanish."""
    drawn = 0
    for i, ((name,), group) in enumerate(frame.sort(by, x).group_by(by, maintain_order=True)):
        colour = PALETTE[i % len(PALETTE)]
        first = True
        for xs, ys in _segments(group[x].to_list(), group[y].to_list()):
            label = str(name) if first else None
            ax.plot(xs, ys, color=colour, linewidth=1.8, label=label,
                    marker="o" if len(xs) == 1 else None, markersize=4)
            first = False
            drawn += len(xs)
    return drawn


@_memo
def pool_history(frame: pl.DataFrame, series: Sequence[str] | None = None) -> bytes | None:
    """Retirement assets by series over time (period_end, series, assets_usd)."""
    if frame.is_empty():
        return None
    if series:
        frame = frame.filter(pl.col("series").is_in(list(series)))
    fig, ax = _figure(legend_right=True)
    if not _lines(ax, frame.drop_nulls("assets_usd"), "period_end", "assets_usd", "series"):
        return None
    ax.yaxis.set_major_formatter(FuncFormatter(_usd_axis))
    ax.set_title("US retirement assets by series, end of quarter")
    ax.legend(fontsize=8, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _png(fig)


@_memo
def price_history(frame: pl.DataFrame) -> bytes | None:
    """Price per asset (date, asset, price_usd): one small panel each, own scale."""
    frame = frame.drop_nulls("price_usd")
    if frame.is_empty():
        return None
    assets = sorted(frame["asset"].unique().to_list())
    cols = 2 if len(assets) > 1 else 1
    rows = (len(assets) + cols - 1) // cols
    fig = Figure(figsize=(9.0, 2.4 * rows))
    for i, name in enumerate(assets):
        ax = fig.add_subplot(rows, cols, i + 1)
        group = frame.filter(pl.col("asset") == name).sort("date")
        for xs, ys in _segments(group["date"].to_list(), group["price_usd"].to_list()):
            ax.plot(xs, ys, color=PALETTE[i % len(PALETTE)], linewidth=1.2,
                    marker="o" if len(xs) == 1 else None, markersize=3)
        ax.set_title(f"{name}, US$", fontsize=9)
        ax.yaxis.set_major_formatter(FuncFormatter(_usd_axis))
        locator = AutoDateLocator(minticks=3, maxticks=7)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        ax.tick_params(labelsize=7)
        ax.grid(True, color="#e5e5e5", linewidth=0.6)
    fig.tight_layout()
    return _png(fig)


@_memo
def scenario_flows(frame: pl.DataFrame, scenario: str | None = None) -> bytes | None:
    """Quarterly flow per asset (period_end, asset, flow_usd) as stacked bars: how fast."""
    frame = frame.drop_nulls("flow_usd")
    if frame.is_empty():
        return None
    wide = frame.pivot(on="asset", index="period_end", values="flow_usd",
                       aggregate_function="sum").sort("period_end").fill_null(0.0)
    quarters = [d.strftime("%Y-%m") for d in wide["period_end"].to_list()]
    fig, ax = _figure(legend_right=True)
    positive = [0.0] * len(quarters)
    negative = [0.0] * len(quarters)
    for i, asset in enumerate(c for c in wide.columns if c != "period_end"):
        values = wide[asset].to_list()
        bottoms = [p if v >= 0 else n for v, p, n in zip(values, positive, negative, strict=True)]
        ax.bar(range(len(quarters)), values, bottom=bottoms, label=asset,
               color=PALETTE[i % len(PALETTE)], width=0.8)
        positive = [p + max(v, 0) for p, v in zip(positive, values, strict=True)]
        negative = [n + min(v, 0) for n, v in zip(negative, values, strict=True)]
    step = max(1, len(quarters) // 12)
    ax.set_xticks(range(0, len(quarters), step), quarters[::step], rotation=45, fontsize=8)
    ax.yaxis.set_major_formatter(FuncFormatter(_usd_axis))
    ax.set_title(f"Flow by quarter and asset{f': {scenario}' if scenario else ''}")
    ax.legend(fontsize=8, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _png(fig)


@_memo
def impact_bands(frame: pl.DataFrame, scenario: str | None = None) -> bytes | None:
    """Permanent price impact over the horizon: central line, p05-p95 band, per asset."""
    if "price_impact" not in frame.columns:
        return None
    frame = frame.drop_nulls("price_impact")
    if frame.is_empty():
        return None
    fig, ax = _figure()
    for i, ((asset,), group) in enumerate(
        frame.sort("asset", "horizon_end").group_by("asset", maintain_order=True)
    ):
        colour = PALETTE[i % len(PALETTE)]
        x = group["horizon_end"].to_list()
        low = group["price_impact_p05"].to_list() if "price_impact_p05" in group.columns else None
        high = group["price_impact_p95"].to_list() if "price_impact_p95" in group.columns else None
        central = group["price_impact"].to_list()
        if low and high and None not in low and None not in high:
            if len(x) > 1:
                ax.fill_between(x, low, high, color=colour, alpha=0.18, linewidth=0)
            else:  # one horizon: the band is an error bar
                ax.errorbar(x, central, yerr=[[c - lo for c, lo in zip(central, low, strict=True)],
                                              [h - c for c, h in zip(central, high, strict=True)]],
                            fmt="none", ecolor=colour, capsize=6, linewidth=1.5)
        ax.plot(x, central, color=colour, linewidth=1.8,
                marker="o", markersize=3, label=f"{asset} (central; band p05-p95)")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_title(f"Permanent price impact{f': {scenario}' if scenario else ''}")
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    return _png(fig)


@_memo
def sensitivity_heatmap(frame: pl.DataFrame, scenario: str | None = None,
                        value: str = "total_flow_usd") -> bytes | None:
    """Allocation scale x uptake grid of a scenario's total flow, each cell labelled."""
    frame = frame.drop_nulls(value)
    if frame.is_empty():
        return None
    scales = sorted(frame["allocation_scale"].unique().to_list())
    uptakes = sorted(frame["uptake"].unique().to_list())
    lookup = {(r["allocation_scale"], r["uptake"]): r[value] for r in frame.iter_rows(named=True)}
    grid = [[lookup.get((s, u), float("nan")) for u in uptakes] for s in scales]
    height = 1.0 + 0.6 * len(scales)
    fig = Figure(figsize=(6.0, height))
    fig.subplots_adjust(left=0.14, right=0.98, top=1 - 0.35 / height, bottom=0.55 / height)
    ax = fig.add_subplot()
    image = ax.imshow(grid, cmap="Blues", aspect="auto")
    ax.set_xticks(range(len(uptakes)), [f"{u:.0%}" for u in uptakes])
    ax.set_yticks(range(len(scales)), [f"x{s:g}" for s in scales])
    ax.set_xlabel("uptake")
    ax.set_ylabel("allocation scale")
    top = max(v for row in grid for v in row if v == v) or 1.0
    for r, row in enumerate(grid):
        for c, cell in enumerate(row):
            if cell == cell:
                ax.text(c, r, _usd_axis(cell), ha="center", va="center", fontsize=8,
                        color="white" if cell > 0.6 * top else "black")
    fig.colorbar(image, ax=ax, format=FuncFormatter(_usd_axis))
    ax.set_title(f"Total flow by allocation scale x uptake{f': {scenario}' if scenario else ''}",
                 fontsize=10)
    return _png(fig)


# The chart a table carries, in its Dagster materialization and in the report:
# table -> (metadata key, chart function, the rows it draws, with the source columns the
# report's caption names). One query for both, so they draw the same frame and the second
# finds it drawn (the report draws the primary source of each asset, as the UI does, not
# two sources' prices on one line).
TABLE_CHARTS: dict[str, tuple[str, str, str]] = {
    "marts.retirement_assets": (
        "pool_chart", "pool_history",
        "SELECT period_end, series, assets_usd, source, url, as_of FROM marts.retirement_assets"
        " WHERE series IN ('total_retirement', 'dc_plans', 'ira', '401k', 'pension_funds_z1')"
        " ORDER BY series, period_end",
    ),
    "marts.market_prices": (
        "price_chart", "price_history",
        "SELECT date, asset, price_usd, source FROM marts.market_prices WHERE primary_source"
        " AND price_usd IS NOT NULL ORDER BY asset, date",
    ),
    "marts.market_history": (
        "price_chart", "price_history",
        "SELECT date, asset, price_usd, source FROM marts.market_history"
        " WHERE price_usd IS NOT NULL ORDER BY asset, date",
    ),
}


def table_chart(table: str, frame: pl.DataFrame) -> bytes | None:
    """Draw ``table``'s chart (:data:`TABLE_CHARTS`) from the rows its query returned."""
    return globals()[TABLE_CHARTS[table][1]](frame)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def markdown_image(png: bytes | None, alt: str) -> str:
    """A markdown image with the PNG inline (Dagster renders data URIs in MetadataValue.md)."""
    if png is None:
        return f"_{alt}: no data to draw._"
    return f"![{alt}]({data_uri(png)})"


def html_image(png: bytes | None, alt: str) -> str:
    if png is None:
        return f"<p class=note>{alt}: no data to draw.</p>"
    return f'<img class=chart alt="{alt}" src="{data_uri(png)}">'
