"""Curated reference facts: parser rules, explicit NULLs, and reading in both modes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from altflow.sources import reference
from altflow.sources.base import Payload, snapshot_entries
from altflow.sources.errors import SourceError
from altflow.universe import ASSET_CLASS
from tests.conftest import FIXTURES

FACTS = (FIXTURES / "reference" / "market_facts.csv").read_bytes()
HEADER = b"asset,metric,value,unit,as_of,source_name,url,note\n"


def payload(content: bytes) -> Payload:
    return Payload("reference", "market_facts", "http://x", content, datetime.now(UTC), "snapshot")


def test_parses_facts_with_history_and_explicit_nulls() -> None:
    frame = reference.parse_market_facts(payload(FACTS))
    assert frame.height == 12
    stock = frame.filter(
        (frame["asset"] == "gold") & (frame["metric"] == "above_ground_stock_tonnes")
    ).sort("as_of", descending=True)
    assert stock["value"].to_list() == [219891.0, 212582.0]
    assert stock["as_of"].to_list() == [date(2025, 12, 31), date(2023, 12, 31)]
    assert stock["source_name"][0].startswith("World Gold Council")
    assert stock["note"][0] == 'Page: "Total above-ground stock (end-2025): 219,891 tonnes"'
    silver = frame.filter(frame["asset"] == "silver")
    assert silver["value"].to_list() == [None, None]
    assert silver["as_of"].to_list() == [None, None]
    assert all(note.startswith("no public") for note in silver["note"])


def test_registry_has_every_contract_asset_with_class_and_pricing() -> None:
    registry = reference.asset_registry()
    assert set(registry["asset"]) == set(ASSET_CLASS)
    rows = {r["asset"]: r for r in registry.iter_rows(named=True)}
    assert rows["gold"]["pricing"] == "market" and rows["gold"]["trading_days_per_year"] == 252
    assert rows["bitcoin"]["trading_days_per_year"] == 365
    assert rows["private_equity"]["pricing"] == "appraisal"
    assert rows["private_credit"]["trading_days_per_year"] is None


def line(text: str) -> bytes:
    return HEADER + text.encode() + b"\n"


GOOD = "gold,above_ground_stock_tonnes,219891,tonnes,2025-12-31,WGC,https://www.gold.org/x,n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<!DOCTYPE html><html><body>Access denied</body></html>",
         "got an HTML page where CSV was expected"),
        (b"asset,metric,value,unit,as_of,url,note\n", "lacks column(s) ['source_name']"),
        (line(GOOD.replace("gold,", "gld,", 1)), "line 2 field 'asset': unknown asset 'gld'"),
        (line(GOOD.replace("219891", "219.9k")), "line 2 field 'value': not a number: '219.9k'"),
        (line(GOOD.replace("219891", "-1")), "line 2 field 'value': above_ground_stock_tonnes"
         " must not be negative"),
        (line(GOOD.replace("tonnes,2025", "Moz,2025")), "line 2 field 'unit': "
         "above_ground_stock_tonnes must be in tonnes, not 'Moz'"),
        (line("gold,avg_daily_volume_usd,361,USD bn per day,2025-12-31,WGC,https://x.org,n"),
         "field 'unit': avg_daily_volume_usd must be in USD"),
        (line("gold,avg_daily_volume_usd,361,USD per day,2025-12-31,WGC,https://x.org,n"),
         "line 2 field 'value': 361 for avg_daily_volume_usd looks like billions"),
        (line(GOOD.replace("2025-12-31", "end-2025")), "field 'as_of': not an ISO date"),
        (line(GOOD.replace("https://www.gold.org/x", "gold.org")), "field 'url': not an http(s)"),
        (line("silver,above_ground_stock_tonnes,,tonnes,,,,"),
         "line 2 field 'note': an empty value needs a note"),
        (line(GOOD) + GOOD.encode() + b"\n",
         "line 3: duplicated fact gold/above_ground_stock_tonnes as of 2025-12-31"),
        (line(GOOD)[:-30], "line 2: row is short"),
        (HEADER, "CSV has a header but no facts"),
    ],
)
def test_bad_facts_fail_with_one_line_naming_line_and_field(content: bytes, message: str) -> None:
    with pytest.raises(SourceError) as err:
        reference.parse_market_facts(payload(content))
    text = str(err.value)
    assert text.startswith("reference market_facts: "), text
    assert message in text, text
    assert "\n" not in text


def test_reads_the_curated_snapshot_file_even_in_live_mode(tmp_path: Path) -> None:
    folder = tmp_path / "reference"
    folder.mkdir()
    (folder / "market_facts.csv").write_bytes(FACTS)
    manifest = {"source": "reference", "files": [{
        "dataset": "market_facts", "path": "market_facts.csv", "url": "(per-row url column)",
        "as_of": "2025-12-31", "retrieved_at": "2026-01-05T00:00:00Z",
        "sha256": payload(FACTS).sha256,
    }]}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    source = reference.Reference("live", snapshot_root=tmp_path)
    assert source.mode == "snapshot" and source.requested_mode == "live"
    tables, payloads, rows = reference.fetch_all(source)
    assert payloads[0].mode == "snapshot" and rows == [12]
    assert set(tables) == {"raw.reference_facts", "raw.reference_assets"}


def test_embedded_snapshot_parses() -> None:
    source = reference.Reference("live")
    if not snapshot_entries("reference"):
        pytest.skip("no reference snapshot")
    tables, payloads, rows = reference.fetch_all(source)
    facts = tables["raw.reference_facts"]
    gold_stock = facts.filter(
        (facts["asset"] == "gold") & (facts["metric"] == "above_ground_stock_tonnes")
    )
    assert 219891.0 in gold_stock["value"].to_list()
    assert payloads[0].mode == "snapshot" and rows == [facts.height]


def test_source_quality_is_read_and_checked() -> None:
    header = HEADER.rstrip(b"\n") + b",source_quality\n"
    frame = reference.parse_market_facts(payload(header + GOOD.encode() + b",secondary\n"))
    assert frame["source_quality"].to_list() == ["secondary"]
    assert reference.parse_market_facts(payload(line(GOOD)))["source_quality"].to_list() == [
        None
    ]
    with pytest.raises(SourceError) as err:
        reference.parse_market_facts(payload(header + GOOD.encode() + b",blog\n"))
    assert str(err.value) == (
        "reference market_facts: line 2 field 'source_quality': 'blog' is not one of primary,"
        " secondary, tertiary"
    )


def test_snapshot_payloads_say_where_the_bytes_came_from() -> None:
    if not snapshot_entries("reference"):
        pytest.skip("no reference snapshot")
    [got] = reference.Reference("snapshot").batch().payloads
    entry = snapshot_entries("reference")["market_facts"]
    assert got.provenance == entry.provenance
    assert got.retrieved_from == entry.retrieved_from
    assert got.retrieved_from and got.retrieved_from != got.url
