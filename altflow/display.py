"""Render a polars DataFrame for the terminal: the one table format every command prints."""

from __future__ import annotations

import json
import math

import polars as pl

FORMATS = ("table", "csv", "json")
_SCALES = ((1e12, "trillion", "tn"), (1e9, "billion", "bn"), (1e6, "million", "m"))


def usd(value: float | None, *, short: bool = False, missing: str = "—") -> str:
    """$1.23 trillion / $4.50 billion (or $1.23 tn / $4.50 bn): how people read amounts."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    for scale, word, abbr in _SCALES:
        if abs(value) >= scale:
            return f"${value / scale:,.2f} {abbr if short else word}"
    return f"${value:,.0f}"


def pct(value: float | None, *, missing: str = "—") -> str:
    """A fraction as a percentage: 1.148 -> '114.8 %', 0.00093 -> '0.093 %'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    scaled = 100 * value
    if scaled == 0 or abs(scaled) >= 10:
        return f"{scaled:,.1f} %"
    return f"{scaled:.2g} %" if abs(scaled) < 1 else f"{scaled:.2f} %"


def render(frame: pl.DataFrame, fmt: str = "table") -> str:
    """`table` (aligned, every row), `csv`, or `json` (a list of row objects)."""
    if fmt == "csv":
        return frame.write_csv().rstrip("\n")
    if fmt == "json":
        return json.dumps(frame.to_dicts(), default=str, indent=1)
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        fmt_str_lengths=80,
        tbl_width_chars=240,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        tbl_formatting="ASCII_MARKDOWN",
        float_precision=None,
    ):
        return str(frame)
