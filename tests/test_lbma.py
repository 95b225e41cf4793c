"""LBMA JSON price files: parser on real-format payloads, failures, and the live fetcher."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from altflow.sources import lbma
from altflow.sources.base import Payload, snapshot_entries
from altflow.sources.errors import SourceError
from altflow.warehouse import Warehouse
from pipelines.cli import main
from tests.conftest import FIXTURES
from tests.faults import lbma_json

LBMA_FIXTURES = FIXTURES / "lbma"



@pytest.fixture(autouse=True)
def _fixtures_present(monkeypatch: pytest.MonkeyPatch) -> None:
    """Live recency checks judge the fixtures against their own time, not today's."""
    monkeypatch.setattr(lbma, "today", lambda: date(2025, 1, 15))


def payload(dataset: str, content: bytes) -> Payload:
    return Payload("lbma", dataset, "http://x", content, datetime.now(UTC), "live")


def fixture(name: str) -> bytes:
    return (LBMA_FIXTURES / f"{name}.json").read_bytes()


def test_parses_v_arrays_with_nulls_and_zeros_on_holidays() -> None:
    frame = lbma.parse_price_json(payload("gold_pm", fixture("gold_pm")))
    assert frame.columns == ["dataset", "asset", "fixing", "date", "usd", "gbp", "eur"]
    assert frame["date"].to_list()[:4] == [date(2024, 12, d) for d in (23, 24, 25, 26)]
    usd = dict(zip(frame["date"].to_list(), frame["usd"].to_list(), strict=True))
    assert usd[date(2024, 12, 23)] == 2614.6
    assert usd[date(2024, 12, 25)] is None  # 0 on Christmas Day: no fixing
    assert usd[date(2024, 12, 26)] is None  # null on Boxing Day
    assert set(frame["asset"]) == {"gold"} and set(frame["fixing"]) == {"pm"}


def test_early_records_without_eur_keep_usd_and_gbp() -> None:
    frame = lbma.parse_price_json(payload("gold_pm", fixture("gold_pm_1968")))
    assert frame["usd"].to_list() == [37.7, 37.3]
    assert frame["gbp"].to_list() == [15.68, 15.52]
    assert frame["eur"].to_list() == [None, None]


def test_silver_is_the_single_daily_price() -> None:
    frame = lbma.parse_price_json(payload("silver", fixture("silver")))
    assert set(frame["fixing"]) == {"daily"} and frame["usd"].null_count() == 1


def record(d: str, v: object) -> dict[str, object]:
    return {"is_cms_locked": 0, "d": d, "v": v}


def body(*records: object) -> bytes:
    return json.dumps(list(records)).encode()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<!DOCTYPE html><html><head><title>Just a moment...</title></head></html>",
         "got an HTML page where JSON was expected"),
        (fixture("gold_pm")[:150], "invalid JSON"),
        (b"", "empty response"),
        (body(record("2024-01-02", [1.0, 1.0, 1.0]), {"d": "2024-01-03"}),
         "record 1: missing field 'v'"),
        (body({"v": [1.0, 1.0, 1.0]}), "record 0: missing field 'd'"),
        (body(record("2024-01-02", [-5.0, 1.0, 1.0])),
         "record 0 (2024-01-02) v.usd: negative price -5"),
        (body(record("2024-01-02", [1.0, 1.0, 1.0]), record("2024-01-02", [2.0, 1.0, 1.0])),
         "record 1: field 'd' duplicates date 2024-01-02"),
        (body(record("2024-01-02", ["1,000.5", 1.0, 1.0])),
         "record 0 (2024-01-02) v.usd: non-numeric price '1,000.5'"),
        (body(record("02/01/2024", [1.0, 1.0, 1.0])),
         "record 0: field 'd' is not a date: '02/01/2024'"),
        (body(record("2024-01-02", 1.0)), "record 0 (2024-01-02): field 'v' is not a price array"),
        (body(record("2024-01-02", [0, 1.0, 1.0]), record("2024-01-03", [None, 1.0, 1.0])),
         "field 'v' holds no USD price"),
        (b'{"d": "2024-01-02", "v": [1, 2, 3]}', "expected a JSON array"),
        (b"[]", "the price file has no records"),
    ],
)
def test_bad_payloads_fail_with_one_line_naming_file_and_field(
    content: bytes, message: str
) -> None:
    with pytest.raises(SourceError) as err:
        lbma.parse_price_json(payload("gold_pm", content))
    text = str(err.value)
    assert text.startswith("lbma gold_pm: "), text
    assert message in text, text
    assert "\n" not in text


# --- live ------------------------------------------------------------------------------


def serve_all(httpserver: HTTPServer, broken: dict[str, bytes] | None = None) -> None:
    for dataset in lbma.FILES:
        content = (broken or {}).get(dataset, fixture(dataset))
        httpserver.expect_request(f"/json/{dataset}.json").respond_with_data(
            content, content_type="application/json"
        )


@pytest.fixture
def live_env(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> HTTPServer:
    monkeypatch.setenv("ALTFLOW_LBMA_BASE_URL", httpserver.url_for("/"))
    monkeypatch.setattr(lbma.Lbma, "min_interval", 0.0)
    return httpserver


def test_live_fetches_every_file_from_its_documented_path(live_env: HTTPServer) -> None:
    serve_all(live_env)
    frame, payloads = lbma.fetch_all(lbma.Lbma("live"))
    assert [p.dataset for p in payloads] == list(lbma.FILES)
    assert payloads[0].url.endswith("/json/gold_am.json")
    assert {p.mode for p in payloads} == {"live"}
    gold_pm = next(p for p in payloads if p.dataset == "gold_pm")
    assert gold_pm.as_of == date(2024, 12, 31)  # latest USD fixing
    assert set(frame["asset"]) == {"gold", "silver", "platinum", "palladium"}


def test_live_bot_challenge_page_fails_naming_the_file(live_env: HTTPServer) -> None:
    challenge = b"<html><head><title>Attention Required! | Cloudflare</title></head></html>"
    serve_all(live_env, {"silver": challenge})
    with pytest.raises(SourceError, match="^lbma silver: got an HTML page where JSON"):
        lbma.fetch_all(lbma.Lbma("live"))


def make_snapshot(root: Path, datasets: tuple[str, ...]) -> Path:
    folder = root / "lbma"
    folder.mkdir(parents=True)
    files = []
    for dataset in datasets:
        content = fixture(dataset)
        (folder / f"{dataset}.json").write_bytes(content)
        files.append({
            "dataset": dataset, "path": f"{dataset}.json",
            "url": f"https://prices.lbma.org.uk/json/{dataset}.json", "as_of": "2024-12-31",
            "retrieved_at": "2025-01-02T00:00:00Z",
            "sha256": Payload("lbma", dataset, "", content, datetime.now(UTC), "x").sha256,
        })
    (folder / "manifest.json").write_text(json.dumps({"source": "lbma", "files": files}))
    return root


def test_snapshot_mode_reads_the_files_the_snapshot_holds(tmp_path: Path) -> None:
    root = make_snapshot(tmp_path / "full", ("gold_pm", "silver", "platinum_pm"))
    source = lbma.Lbma("snapshot", snapshot_root=root)
    assert source.datasets() == ["gold_pm", "silver", "platinum_pm"]
    frame, payloads = lbma.fetch_all(source)
    assert {p.mode for p in payloads} == {"snapshot"} and frame.height > 0


def test_snapshot_without_a_metal_reads_the_rest_and_names_the_gap(tmp_path: Path) -> None:
    root = make_snapshot(tmp_path / "gold_only", ("gold_pm",))
    source = lbma.Lbma("snapshot", snapshot_root=root)
    assert source.datasets() == ["gold_pm"]
    assert lbma.missing_metals(source.datasets()) == ["silver", "platinum"]
    empty = make_snapshot(tmp_path / "none", ())
    with pytest.raises(SourceError, match="no LBMA price file in the snapshot"):
        lbma.Lbma("snapshot", snapshot_root=empty).datasets()


def test_failed_live_file_keeps_its_last_good_rows_and_the_others_refresh(
    live_env: HTTPServer, warehouse_path: Path, built_warehouse: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 11: a refused file keeps its last good rows; the other files are refreshed."""
    _start_from(built_warehouse, warehouse_path)  # marts need every source
    end = date(2025, 1, 14)
    for dataset in lbma.FILES:
        live_env.expect_request(f"/json/{dataset}.json").respond_with_data(lbma_json(end, 400))
    assert main(["run", "--source", "live", "--select", "tag:source=lbma"]) == 0, (
        capsys.readouterr())
    wh = Warehouse(warehouse_path)
    before = wh.query("SELECT * FROM raw.lbma_prices WHERE dataset = 'gold_pm' ORDER BY date")
    assert before.height == 287

    live_env.clear()
    bad = body(record("2024-12-30", [2608.3, 1, 1]), record("2024-12-30", [2610.0, 1, 1]))
    for dataset in lbma.FILES:
        live_env.expect_request(f"/json/{dataset}.json").respond_with_data(
            bad if dataset == "gold_pm" else lbma_json(end, 400, usd=2500.0)
        )
    capsys.readouterr()
    assert main(["run", "--source", "live", "--select", "tag:source=lbma"]) == 1
    out = capsys.readouterr()
    assert "lbma gold_pm: record 1: field 'd' duplicates date 2024-12-30" in out.out + out.err
    after = wh.query("SELECT * FROM raw.lbma_prices WHERE dataset = 'gold_pm' ORDER BY date")
    assert after.equals(before)
    silver = wh.query("SELECT min(usd) AS low FROM raw.lbma_prices WHERE dataset = 'silver'")
    assert silver["low"][0] == 2500.0  # refreshed
    failed = wh.query("SELECT dataset, reason FROM raw.fetch_log WHERE status = 'failed'")
    assert failed.rows() == [
        ("gold_pm", "record 1: field 'd' duplicates date 2024-12-30")
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<html><head><title>Attention Required! | Cloudflare</title></head></html>",
         "lbma gold_pm: got an HTML page where JSON was expected"),
        (fixture("gold_pm")[:-30], "lbma gold_pm: invalid JSON"),
        (body({"d": "2024-01-02", "value": [1.0, 1.0, 1.0]}), "lbma gold_pm: record 0: missing"
         " field 'v'"),
        (body(record("2024-01-02", [-1.0, 1.0, 1.0])), "lbma gold_pm: record 0 (2024-01-02)"
         " v.usd: negative price -1"),
        (body(record("2024-01-02", [1.0, 1.0, 1.0]), record("2024-01-02", [1.0, 1.0, 1.0])),
         "lbma gold_pm: record 1: field 'd' duplicates date 2024-01-02"),
    ],
)
def test_live_failures_from_a_local_server(
    live_env: HTTPServer, content: bytes, message: str
) -> None:
    serve_all(live_env, {"gold_pm": content})
    with pytest.raises(SourceError) as err:
        lbma.fetch_all(lbma.Lbma("live"))
    assert str(err.value).startswith(message), str(err.value)


def test_embedded_snapshot_parses() -> None:
    source = lbma.Lbma("snapshot")
    if not snapshot_entries("lbma"):
        pytest.skip("no LBMA snapshot")
    frame, payloads = lbma.fetch_all(source)
    assert "gold" in set(frame["asset"]) and frame["usd"].min() > 0
    assert all(p.as_of is not None for p in payloads)


def _start_from(built: Path, warehouse_path: Path) -> None:
    """A copy of the snapshot build: a run rebuilds the marts, which read every source."""
    import shutil

    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(built, warehouse_path)
