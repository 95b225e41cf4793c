"""CLI errors: one line naming what is wrong, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.cli import main


@pytest.mark.parametrize(
    ("select", "message"),
    [("((", "Invalid selection string"), ("key:no/such_asset", "matches no asset")],
)
def test_bad_selection_is_one_line(select: str, message: str, tmp_path: Path, capsys) -> None:
    warehouse = tmp_path / "a.duckdb"
    assert main(["run", "--select", select, "--warehouse", str(warehouse)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"altflow: --select {select!r}") and message in err
    assert "\n" not in err
    assert not warehouse.exists()


def test_bad_source_mode_in_environment(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("ALTFLOW_SOURCE", "bogus")
    assert main(["run"]) == 2
    assert capsys.readouterr().err.strip() == (
        "altflow: ALTFLOW_SOURCE='bogus': expected one of snapshot, live"
    )


def test_query_without_warehouse(tmp_path: Path, capsys) -> None:
    assert main(["query", "SELECT 1", "--warehouse", str(tmp_path / "none.duckdb")]) == 2
    assert "no warehouse at" in capsys.readouterr().err
