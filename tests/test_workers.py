"""Worker processes: same results as in-process, off with ALTFLOW_WORKERS=0, gone with the run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from altflow import metadata, quality, workers

ROOT = Path(__file__).resolve().parents[1]


def test_workers_count_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    workers.stop()  # a pool an earlier run in this process started
    monkeypatch.setenv("ALTFLOW_WORKERS", "0")
    assert workers.count() == 0 and workers.start() is False
    assert workers.run_all(pow, [(2, 10), (3, 3)]) == [1024, 27]  # in-process
    monkeypatch.setenv("ALTFLOW_WORKERS", "two")
    with pytest.raises(ValueError, match="ALTFLOW_WORKERS='two': expected a whole number"):
        workers.count()


def test_gx_checks_in_workers_give_the_in_process_results(
    built_warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    con = duckdb.connect(str(built_warehouse), read_only=True)
    tables = ["marts.retirement_assets", "marts.market_snapshot", "raw.fetch_log"]
    tables = [t for t in tables if t in metadata.all_entries()]
    try:
        monkeypatch.setenv("ALTFLOW_WORKERS", "0")
        here = {t: quality.run_checks(con, t, engine="gx") for t in tables}
        monkeypatch.setenv("ALTFLOW_WORKERS", "2")
        assert workers.start(warm=["altflow.quality:_gx"])
        pool = workers._POOL
        there = {t: quality.run_checks(con, t, engine="gx") for t in tables}
    finally:
        con.close()
        workers.stop()
    assert pool is not None and there == here
    assert sum(len(r) for r in here.values()) >= 10


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_workers_exit_when_the_run_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent("""
        import os, signal, subprocess
        from altflow import workers
        if __name__ == "__main__":
            workers.start()
            assert workers.run_all(pow, [(2, 3)]) == [8]
            kids = subprocess.run(["pgrep", "-P", str(os.getpid())], capture_output=True,
                                  text=True).stdout.split()
            print(" ".join(kids), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    """))
    env = {**os.environ, "ALTFLOW_WORKERS": "2"}
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL
    kids = [int(k) for k in done.stdout.split()]
    assert len(kids) >= 2
    deadline = time.monotonic() + 10
    alive = kids
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [k for k in kids if _running(k)]
    assert alive == []
