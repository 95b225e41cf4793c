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


# --- helpers ----------------------------------------------------------------------------------

import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import duckdb  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "gold-sleeve.yaml"
URL = ("https://www.example.com/a/very/long/url/that/does/not/fit/anywhere/in/a/narrow/"
       "terminal/window/at/all.html")


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """A small DuckDB warehouse with one mart of amounts, shares, NULLs and a long URL."""
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    con.execute(f"""
        CREATE TABLE marts.t AS
        SELECT * FROM (VALUES
            (13900000000000.0, 0.0123456::DOUBLE, NULL, '{URL}', DATE '2025-06-30', 2025, 123456789,
             0.1::FLOAT, 1.50::DECIMAL(10, 2)),
            (5e9, 0.5::DOUBLE, NULL, 'short', NULL, 2026, 5, 2.5::FLOAT, 3::DECIMAL(10, 2))
        ) AS v(assets_usd, share, n, url, period_end, year, big, f, d)
    """)
    con.close()
    return path


def _one_line_error(err: str) -> str:
    """The stderr of a failed command: exactly one `altflow: ...` line, no traceback."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("altflow: ")
    return lines[0]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The installed entry point in a subprocess: what a user sees, tracebacks included."""
    full = {**os.environ, "COLUMNS": "100", **(env or {})}
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, env=full, timeout=120)


# --- altflow query: sandbox ---------------------------------------------------------------------

@pytest.mark.parametrize(("sql", "says"), [
    ("COPY marts.t TO '{tmp}/out.csv'", "file system operations are disabled"),
    ("SELECT * FROM read_text('/etc/hostname')", "file system operations are disabled"),
    ("SELECT * FROM read_csv('/etc/passwd')", "file system operations are disabled"),
    ("SELECT * FROM read_blob('/etc/hostname')", "file system operations are disabled"),
    ("SELECT * FROM glob('/etc/*')", "file system operations are disabled"),
    ("ATTACH '{tmp}/other.duckdb' AS other", "file system operations are disabled"),
    ("EXPORT DATABASE '{tmp}/export'", "file system operations are disabled"),
    ("INSTALL httpfs", "file system operations are disabled"),
    ("LOAD httpfs", "Loading external extensions is disabled"),
    ("SET enable_external_access = true", "the configuration has been locked"),
    ("CREATE TABLE marts.x AS SELECT 1", "read-only mode"),
])
def test_query_sandbox_refuses_outside_access(sql: str, says: str, warehouse: Path,
                                              tmp_path: Path, capsys) -> None:
    sql = sql.format(tmp=tmp_path)
    assert main(["query", sql, "--warehouse", str(warehouse)]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert line.startswith("altflow: query failed: ") and says in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.duckdb"]  # nothing written


def test_query_on_a_file_that_is_not_duckdb(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.duckdb"
    bad.write_text("not a database")
    assert main(["query", "SELECT 1", "--warehouse", str(bad)]) == 2
    assert "is not a readable DuckDB warehouse" in _one_line_error(capsys.readouterr().err)


def test_query_syntax_error_is_one_line(warehouse: Path, capsys) -> None:
    assert main(["query", "SELEC 1", "--warehouse", str(warehouse)]) == 2
    assert "Parser Error" in _one_line_error(capsys.readouterr().err)


# --- altflow query: formats ---------------------------------------------------------------------

def test_query_table_is_readable_and_fits_the_terminal(warehouse: Path, capsys,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    assert main(["query", "SELECT * FROM marts.t", "--warehouse", str(warehouse)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 120
    start, end = lines[0].index("url"), lines[0].index("period_end")
    url_cells = [line[start:end].strip() for line in lines[2:] if line[start:end].strip()]
    assert len(url_cells) > 2 and "".join(url_cells[:-1]) == URL  # wrapped, never cut
    assert "13,900,000,000,000" in out and "123,456,789" in out
    assert "0.01235" in out and " 2025 " in out  # 4 significant digits; years unseparated
    assert "None" not in out and "null" not in out  # NULL prints as an empty cell
    assert lines[-1] == "(2 rows)"


def test_query_table_too_wide_prints_records(warehouse: Path, capsys,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "50")
    assert main(["query", "SELECT * FROM marts.t", "--warehouse", str(warehouse)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 50
    assert lines[0].startswith("-[ row 1 ]")
    assert "assets_usd  13,900,000,000,000" in lines
    assert URL in "".join(line[len("assets_usd  "):] for line in lines if
                          line.startswith(("url ", "    ")))


def test_query_csv_and_json_keep_full_precision(warehouse: Path, capsys) -> None:
    sql = "SELECT assets_usd, share, n, url, period_end, f, d FROM marts.t ORDER BY year"
    assert main(["query", sql, "--format", "csv", "--warehouse", str(warehouse)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "assets_usd,share,n,url,period_end,f,d",
        f"13900000000000.0,0.0123456,,{URL},2025-06-30,0.1,1.50",
        "5000000000.0,0.5,,short,,2.5,3.00",
    ]
    assert main(["query", sql, "--format", "json", "--warehouse", str(warehouse)]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"assets_usd": 13900000000000.0, "share": 0.0123456, "n": None, "url": URL,
         "period_end": "2025-06-30", "f": 0.1, "d": 1.5},
        {"assets_usd": 5e9, "share": 0.5, "n": None, "url": "short", "period_end": None,
         "f": 2.5, "d": 3},
    ]


def test_query_markdown(warehouse: Path, capsys) -> None:
    sql = "SELECT year, assets_usd, n, 'a|b' AS t FROM marts.t ORDER BY year"
    assert main(["query", sql, "--format", "markdown", "--warehouse", str(warehouse)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "| year | assets_usd | n | t |",
        "|---:|---:|---|---|",
        "| 2025 | 13,900,000,000,000 |  | a\\|b |",
        "| 2026 | 5,000,000,000 |  | a\\|b |",
    ]


def test_query_parquet_needs_out_and_round_trips(warehouse: Path, tmp_path: Path,
                                                 capsys) -> None:
    import pyarrow.parquet as pq

    sql = "SELECT assets_usd, url, d FROM marts.t ORDER BY year"
    assert main(["query", sql, "--format", "parquet", "--warehouse", str(warehouse)]) == 2
    assert "give --out FILE" in _one_line_error(capsys.readouterr().err)
    out = tmp_path / "q.parquet"
    assert main(["query", sql, "--format", "parquet", "--out", str(out),
                 "--warehouse", str(warehouse)]) == 0
    table = pq.read_table(out)
    assert table.column("assets_usd").to_pylist() == [13900000000000.0, 5e9]
    assert table.column("url").to_pylist() == [URL, "short"]
    assert [str(x) for x in table.column("d").to_pylist()] == ["1.50", "3.00"]


def test_query_out_writes_text_and_refuses_bad_paths(warehouse: Path, tmp_path: Path,
                                                    capsys) -> None:
    out = tmp_path / "q.csv"
    assert main(["query", "SELECT year FROM marts.t ORDER BY 1", "--format", "csv",
                 "--out", str(out), "--warehouse", str(warehouse)]) == 0
    assert out.read_text() == "year\n2025\n2026\n"
    capsys.readouterr()
    assert main(["query", "SELECT 1", "--out", str(tmp_path), "--warehouse",
                 str(warehouse)]) == 2
    assert "it is a directory" in _one_line_error(capsys.readouterr().err)


# --- tracebacks turned into one line (issue 12, "CLI tracebacks") -----------------------------

def _report_cases(tmp: Path) -> list[tuple[str, str]]:
    (tmp / "a-file").write_text("x")
    return [
        (str(tmp), "it is a directory"),
        (str(tmp / "a-file" / "report.html"), "is a file, not a directory"),
        ("/proc/altflow-report.html", "cannot write /proc/altflow-report.html"),
        ("/proc/altflow/deeper/report.html", "cannot write /proc/altflow/deeper/report.html"),
        ("/sys/altflow-report.html", "cannot write /sys/altflow-report.html"),
    ]


def test_report_out_that_cannot_be_written(warehouse: Path, tmp_path: Path, capsys) -> None:
    for out, says in _report_cases(tmp_path):
        assert main(["report", "--out", out, "--warehouse", str(warehouse)]) == 2, out
        assert says in _one_line_error(capsys.readouterr().err)
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permission bits")
def test_report_out_in_a_read_only_folder(warehouse: Path, tmp_path: Path, capsys) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        assert main(["report", "--out", str(locked / "r.html"), "--warehouse",
                     str(warehouse)]) == 2
        assert "Permission denied" in _one_line_error(capsys.readouterr().err)
    finally:
        locked.chmod(0o700)


def test_report_without_a_warehouse_is_an_error(tmp_path: Path, capsys) -> None:
    out = tmp_path / "report.html"
    assert main(["report", "--out", str(out), "--warehouse", str(tmp_path / "none.duckdb")]) == 2
    assert "no warehouse at" in _one_line_error(capsys.readouterr().err)
    assert not out.exists()  # no placeholder page


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("how", ["--warehouse", "ALTFLOW_WAREHOUSE"])
def test_scenarios_with_a_file_that_is_not_duckdb(command: str, how: str, tmp_path: Path,
                                                  capsys, monkeypatch) -> None:
    bad = tmp_path / "bad.duckdb"
    bad.write_bytes(b"PK\x03\x04 this is a zip, not DuckDB")
    args = ["scenarios", command, str(SCENARIO)]
    if how == "--warehouse":
        args += ["--warehouse", str(bad)]
    else:
        monkeypatch.setenv("ALTFLOW_WAREHOUSE", str(bad))
    assert main(args) == 2
    assert "is not a readable DuckDB warehouse" in _one_line_error(capsys.readouterr().err)


@pytest.mark.parametrize("command", ["validate", "run"])
def test_scenarios_with_a_directory_as_warehouse(command: str, tmp_path: Path, capsys) -> None:
    assert main(["scenarios", command, str(SCENARIO), "--warehouse", str(tmp_path)]) == 2
    assert "is a directory" in _one_line_error(capsys.readouterr().err)


def test_scenarios_run_engine_failure_is_one_line(warehouse: Path, capsys, monkeypatch) -> None:
    import altflow.scenarios.report as report

    def broken(*args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(report, "run_scenario", broken)
    monkeypatch.setattr("altflow.scenarios.spec.load_scenario",
                        lambda path, *a: __import__("altflow.scenarios.spec").scenarios.spec
                        .check_text(Path(path).read_text(), str(path))[0])
    assert main(["scenarios", "run", str(SCENARIO), "--warehouse", str(warehouse)]) == 1
    line = _one_line_error(capsys.readouterr().err)
    assert line == f"altflow: {SCENARIO}: (run): RuntimeError: boom\\nsecond line"


def test_usage_errors_are_one_line(capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["query", "SELECT 1", "--format", "xml"])
    assert stop.value.code == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "invalid choice: 'xml'" in line and "altflow query --help" in line


SUBPROCESS_CASES = [
    pytest.param(["report", "--out", "/proc/altflow-report.html"], "cannot write",
                 id="report-proc"),
    pytest.param(["report", "--out", "{tmp}"], "it is a directory", id="report-directory"),
    pytest.param(["report", "--out", "{tmp}/a-file/r.html"], "not a directory",
                 id="report-under-file"),
    pytest.param(["report", "--warehouse", "{tmp}/none.duckdb"], "no warehouse", id="report-none"),
    pytest.param(["scenarios", "validate", str(SCENARIO), "--warehouse", "{tmp}/a-file"],
                 "not a readable DuckDB", id="validate-not-duckdb"),
    pytest.param(["scenarios", "run", str(SCENARIO)], "not a readable DuckDB",
                 id="run-not-duckdb-env"),
]


@pytest.mark.parametrize(("args", "says"), SUBPROCESS_CASES)
def test_cli_subprocess_never_prints_a_traceback(args: list[str], says: str, warehouse: Path,
                                                 tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    args = [a.format(tmp=tmp_path) for a in args]
    if "--warehouse" not in args:
        env = {"ALTFLOW_WAREHOUSE": str(tmp_path / "a-file" if "run" in args else warehouse)}
    else:
        env = {}
    done = _cli(*args, env=env)
    assert done.returncode == 2, done.stderr
    assert says in _one_line_error(done.stderr)


def test_query_long_column_names_wrap_at_underscores(warehouse: Path, capsys,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    sql = ("SELECT year AS the_year_of_the_observation, share AS share_of_market_cap, url "
           "FROM marts.t ORDER BY year")
    assert main(["query", sql, "--warehouse", str(warehouse)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert not lines[0].startswith("-[ row")  # still a table
    assert max(len(line) for line in lines) <= 60
    header = lines[: next(i for i, line in enumerate(lines) if line.startswith("─"))]
    tokens = [t for h in header for t in h.split()]
    assert sorted(tokens) == sorted(["the_year_of_", "the_", "observation", "share_", "of_",
                                     "market_", "cap", "url"])
    assert all(len(t) <= 12 for t in tokens)  # each name fits its column's cells


# --- on a real warehouse ------------------------------------------------------------------------

def test_validate_equals_run_on_the_built_warehouse(built_warehouse: Path, tmp_path: Path,
                                                    capsys) -> None:
    """Shipped files validate; a file whose start predates bitcoin's data is refused by
    validate (not only by run); a fixed base_usd without start runs at the latest market date."""
    shipped = sorted(str(p) for p in (ROOT / "scenarios").glob("*.yaml"))
    assert main(["scenarios", "validate", *shipped, "--warehouse", str(built_warehouse)]) == 0
    capsys.readouterr()
    early = tmp_path / "early.yaml"
    early.write_text("name: early\npool: {series: dc_plans}\nhorizon_years: 5\n"
                     "allocations: {bitcoin: 0.01}\nadoption: {curve: immediate}\n"
                     "start: 1995-03-31\n")
    assert main(["scenarios", "validate", str(early), "--warehouse", str(built_warehouse)]) == 2
    assert capsys.readouterr().out.strip() == (
        f"{early}: allocations.bitcoin: no market data for asset 'bitcoin' on or before the "
        "base date")
    assert main(["scenarios", "run", str(early), "--warehouse", str(built_warehouse)]) == 1
    assert "no market data for asset 'bitcoin'" in _one_line_error(capsys.readouterr().err)
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text("name: fixed\npool: {base_usd: 12.2e12}\nhorizon_years: 1\n"
                     "allocations: {bitcoin: 0.01}\nadoption: {curve: immediate}\n")
    assert main(["scenarios", "run", str(fixed), "--warehouse", str(built_warehouse)]) == 0
    assert "(the latest date with market data)" in capsys.readouterr().out


def test_query_sandbox_on_the_built_warehouse(built_warehouse: Path, capsys) -> None:
    sql = "SELECT count(*) AS n FROM marts.scenario_impact"
    assert main(["query", sql, "--format", "json", "--warehouse", str(built_warehouse)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["n"] > 0
    assert main(["query", "SELECT * FROM read_text('/etc/hostname')", "--warehouse",
                 str(built_warehouse)]) == 2
    assert "disabled by configuration" in _one_line_error(capsys.readouterr().err)
