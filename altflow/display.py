"""Render a polars DataFrame for the terminal: the one table format every command prints."""

from __future__ import annotations

import json

import polars as pl

FORMATS = ("table", "csv", "json")


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
