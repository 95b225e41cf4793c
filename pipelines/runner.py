"""Run the asset graph in-process with progress lines and a closing summary (``altflow run``).

A run: resolve the selection (a selection that would split a multi-asset takes all of it),
leave out every asset whose version is unchanged since the last published run (unless
``force``), add the publish step, and execute in-process on the warehouse's own Dagster
instance (so the run shows in ``altflow ui``). Progress lines come from Dagster's events as
they happen; retries of live fetches are shown as they wait.
"""

from __future__ import annotations

import logging
import sys
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import polars as pl
from dagster import (
    AssetKey,
    AssetSelection,
    DagsterError,
    DagsterInstance,
    DagsterRunStatus,
    Definitions,
    logger,
)

from altflow.display import render
from altflow.warehouse import Warehouse, stored_versions
from assets.publish import mark_unpublished
from pipelines.instance import ensure_dagster_home
from pipelines.versions import PUBLISH_KEY, asset_versions

KEEP_EVENTS = {
    "STEP_START",
    "STEP_SUCCESS",
    "STEP_FAILURE",
    "STEP_SKIPPED",
    "ASSET_MATERIALIZATION",
    "ASSET_CHECK_EVALUATION",
}
LABEL_WIDTH = 44


@dataclass
class StepRecord:
    step: str
    started: float = 0.0
    seconds: float | None = None
    status: str = "pending"
    assets: list[str] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)
    rows: int | None = None
    reason: str = ""
    checks_passed: int = 0
    checks_failed: int = 0
    checks_warned: int = 0

    @property
    def is_check(self) -> bool:
        return bool(self.planned) and self.planned[0].startswith("check ")

    @property
    def label(self) -> str:
        return short_label(self.planned or [self.step])


@dataclass
class RunOutcome:
    success: bool
    steps: dict[str, StepRecord]
    failed_checks: list[tuple[str, str]]
    seconds: float
    warnings: list[tuple[str, str]] = field(default_factory=list)
    run_id: str = ""
    published: bool = False
    working_copy: Path | None = None

    @property
    def failures(self) -> list[str]:
        lines = [
            f"FAILED {', '.join(r.planned) or r.step}: {r.reason}"
            for r in self.steps.values()
            if r.status == "failed" and not r.is_check
        ]
        lines += [f"FAILED check {name}: {reason}" for name, reason in self.failed_checks]
        return lines


def short_label(names: list[str]) -> str:
    """One asset, or the first of a multi-asset and how many more: fits the summary column."""
    label = names[0] if len(names) == 1 else f"{names[0]} (+{len(names) - 1})"
    return label if len(label) <= LABEL_WIDTH else label[: LABEL_WIDTH - 1] + "…"


def _root_message(error: Any) -> str:
    """The innermost cause of a Dagster error, as one line ('SourceError: fred X: ...')."""
    while error is not None and getattr(error, "cause", None) is not None:
        error = error.cause
    if error is None:
        return "unknown error"
    message = " ".join(str(error.message).split())
    prefix, _, rest = message.partition(": ")
    if rest and prefix.split(".")[-1] == error.cls_name:
        message = rest  # drop 'altflow.sources.errors.SourceError: '
    if error.cls_name and error.cls_name.endswith(("Error", "Exception")) and (
        error.cls_name not in ("SourceError", "WarehouseError", "PublishRefused")
    ):
        message = f"{error.cls_name}: {message}"
    return message


class ProgressTracker(logging.Handler):
    """Turns Dagster's step and asset events into progress lines as they happen."""

    def __init__(
        self,
        step_assets: dict[str, list[str]],
        out: TextIO,
        checks_planned: dict[str, int] | None = None,
    ) -> None:
        super().__init__(level=logging.DEBUG)
        self.out = out
        self.steps = {
            step: StepRecord(step, status="not run", assets=[], planned=names)
            for step, names in step_assets.items()
        }
        self.total = sum(not s.is_check for s in self.steps.values())
        self.asset_step = {
            name: record for record in self.steps.values() if not record.is_check
            for name in record.planned
        }
        self.checks_planned: dict[str, int] = dict(checks_planned or {})
        self.checks_seen: dict[str, int] = {}
        self.noted: set[str] = set()
        self.failed_checks: list[tuple[str, str]] = []
        self.warnings: list[tuple[str, str]] = []
        self.started = 0

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "dagster_event", None)
        if event is None or event.event_type_value not in KEEP_EVENTS:
            return
        kind, step_key = event.event_type_value, event.step_key or "?"
        step = self.steps.setdefault(step_key, StepRecord(step_key))
        if kind == "STEP_START":
            step.started, step.status = time.monotonic(), "running"
            if not step.is_check:
                self.started += 1
                self._print(f"[{self.started:>2}/{self.total}] {step.label} ...")
        elif kind == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            step.assets.append(materialization.asset_key.to_user_string())
            rows = materialization.metadata.get("dagster/row_count")
            if rows is not None:
                step.rows = (step.rows or 0) + int(rows.value)
            notes = materialization.metadata.get("notes")  # a source's gaps, one line each
            if notes is not None and step_key not in self.noted:
                self.noted.add(step_key)
                for note in str(notes.value).split(" | "):
                    self._print(f"        gap  {note}")
        elif kind == "ASSET_CHECK_EVALUATION":
            self._check(event.event_specific_data)
        elif kind == "STEP_SUCCESS":
            step.status, step.seconds = "ok", time.monotonic() - step.started
            rows = f"{step.rows:,} rows" if step.rows is not None else ""
            if not step.is_check:
                self._print(f"        ok   {step.label}  {rows}  {step.seconds:.1f} s")
        elif kind == "STEP_FAILURE":
            step.status, step.seconds = "failed", time.monotonic() - step.started
            step.reason = _root_message(event.step_failure_data.error)
            if not step.is_check:  # a failed check printed its own line
                self._print(f"        FAIL {step.label}: {step.reason}")
        elif kind == "STEP_SKIPPED":
            step.status, step.reason = "skipped", "an upstream asset or blocking check failed"
            if not step.is_check:
                self._print(f"        skip {step.label}: {step.reason}")

    def _check(self, evaluation: Any) -> None:
        """Failures and warnings print at once; passes as one line per asset when all are in."""
        asset = evaluation.asset_key.to_user_string()
        owner = self.asset_step.get(asset)
        name = f"{asset}:{evaluation.check_name}"
        self.checks_seen[asset] = self.checks_seen.get(asset, 0) + 1
        if evaluation.passed:
            if owner:
                owner.checks_passed += 1
            self._checks_done(asset, owner)
            return
        reason = " ".join((evaluation.description or "check failed").split())
        severity = getattr(getattr(evaluation, "severity", None), "value", "ERROR")
        if severity == "WARN":  # a warning (freshness, say) never fails the run
            if owner:
                owner.checks_warned += 1
            self.warnings.append((name, reason))
            verdict = "WARN"
        else:
            if owner:
                owner.checks_failed += 1
            self.failed_checks.append((name, reason))
            verdict = "FAILED"
        if len(reason) > 200:
            reason = reason[:199] + "…"
        self._print(f"        {verdict:<6} check {name}: {reason}")
        self._checks_done(asset, owner)

    def _checks_done(self, asset: str, owner: StepRecord | None) -> None:
        if self.checks_seen.get(asset) != self.checks_planned.get(asset) or owner is None:
            return
        total = owner.checks_passed + owner.checks_failed + owner.checks_warned
        self._print(f"        checks {asset}: {owner.checks_passed}/{total} passed")


class RetryPrinter(logging.Handler):
    """Shows the sources' retry messages (logger ``altflow.sources``) among the progress."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(level=logging.WARNING)
        self.out = out

    def emit(self, record: logging.LogRecord) -> None:
        print(f"        … {record.getMessage()}", file=self.out, flush=True)


def instance() -> DagsterInstance:
    """The warehouse's persistent instance (runs show in ``altflow ui``)."""
    ensure_dagster_home()
    return DagsterInstance.get()


def _expand_multi_assets(defs: Definitions, keys: set[AssetKey]) -> set[AssetKey]:
    """A selection that would split a multi-asset that cannot be subset takes all of it."""
    expanded = set(keys)
    for assets_def in defs.assets or []:
        own = getattr(assets_def, "keys", set())
        if own & keys and not getattr(assets_def, "can_subset", True):
            expanded |= set(own)
    return expanded


def resolve_selection(defs: Definitions, select: str | None) -> list[AssetKey]:
    graph = defs.resolve_asset_graph()
    try:
        selection = AssetSelection.all() if not select else AssetSelection.from_string(select)
        keys = selection.resolve(graph)
    except DagsterError as exc:
        raise ValueError(f"--select {select!r}: {' '.join(str(exc).split())}") from None
    except Exception as exc:  # the selection grammar raises plain errors too
        raise ValueError(f"--select {select!r}: {' '.join(str(exc).split())}") from None
    keys = _expand_multi_assets(defs, set(keys))
    return sorted(keys, key=lambda k: k.to_user_string())


def with_downstream(defs: Definitions, keys: list[AssetKey]) -> list[AssetKey]:
    """The selection and everything built from it.

    A published state must be consistent: a table is never published beside tables that were
    built from an older version of it. So refreshing one source rebuilds what reads it.
    """
    if not keys:
        return keys
    graph = defs.resolve_asset_graph()
    selected = AssetSelection.assets(*keys).downstream().resolve(graph)
    return sorted(_expand_multi_assets(defs, set(selected)), key=lambda k: k.to_user_string())


def plan(
    defs: Definitions, select: str | None, warehouse: Path, force: bool = False
) -> tuple[list[AssetKey], list[AssetKey]]:
    """(to build, unchanged): the selection, less what is unchanged since the last publish."""
    graph = defs.resolve_asset_graph()
    published_assets = (
        AssetSelection.assets(PUBLISH_KEY).upstream(include_self=False).resolve(graph)
        if graph.has(PUBLISH_KEY)
        else set(graph.materializable_asset_keys)
    )
    after_publish = set(graph.materializable_asset_keys) - published_assets - {PUBLISH_KEY}
    keys = [k for k in with_downstream(defs, resolve_selection(defs, select)) if k != PUBLISH_KEY]
    stored = {} if force else stored_versions(warehouse)
    if not stored:
        return keys, []
    before = [k for k in keys if k not in after_publish]
    current = asset_versions(graph, before)
    unchanged = [
        k for k in before if current.get(k) and stored.get(k.to_user_string()) == current[k]
    ]
    if len(unchanged) == len(before):  # outputs of the published state need a new one
        unchanged += [k for k in keys if k in after_publish]
    unchanged_set = set(unchanged)
    build = [k for k in keys if k not in unchanged_set]
    # a multi-asset is built whole or not at all
    build_set = _expand_multi_assets(defs, set(build))
    build = sorted(build_set, key=lambda k: k.to_user_string())
    return build, [k for k in unchanged if k not in build_set]


def _clean_old_working_copies(warehouse: Warehouse, inst: DagsterInstance) -> None:
    """Working copies of runs that are over (kept for inspection until the next run)."""
    for path in warehouse.working_copies():
        run_id = path.name.split(".run-", 1)[1].removesuffix(".duckdb")
        run = inst.get_run_by_id(run_id)
        if run is None or run.status in (
            DagsterRunStatus.SUCCESS,
            DagsterRunStatus.FAILURE,
            DagsterRunStatus.CANCELED,
        ):
            warehouse.working(run_id).discard()


def run_assets(
    defs: Definitions,
    select: str | None,
    out: TextIO | None = None,
    *,
    warehouse: Path | None = None,
    force: bool = False,
) -> RunOutcome:
    """Materialize the selection (and its checks) in-process, printing progress to `out`."""
    from altflow import config

    out = out or sys.stdout
    warehouse_path = Path(warehouse or config.warehouse_path())
    keys, unchanged = plan(defs, select, warehouse_path, force)
    if not keys and not unchanged:
        raise ValueError(f"--select {select!r} matches no asset")
    if unchanged:
        print(
            f"unchanged since the last published run, not rebuilt: {len(unchanged)} assets"
            " (--force rebuilds them)",
            file=out,
        )
    if not keys:
        print("nothing to build: every selected asset is unchanged", file=out)
        return RunOutcome(True, {}, [], 0.0)
    graph_keys = set(defs.resolve_asset_graph().materializable_asset_keys)
    if PUBLISH_KEY in graph_keys:
        keys = [*keys, PUBLISH_KEY]
    wanted = set(keys)
    step_assets = {
        assets_def.op.name: [k.to_user_string() for k in sorted(assets_def.keys & wanted)]
        for assets_def in defs.assets or []
        if hasattr(assets_def, "op") and assets_def.keys & wanted
    }
    for checks_def in defs.asset_checks or []:
        names = [
            f"check {k.asset_key.to_user_string()}:{k.name}"
            for k in checks_def.check_keys
            if k.asset_key in wanted
        ]
        if names:
            step_assets[checks_def.node_def.name] = names
    planned: dict[str, int] = {}
    for definition in [*(defs.assets or []), *(defs.asset_checks or [])]:
        for check in getattr(definition, "check_keys", ()):
            if check.asset_key in wanted:
                name = check.asset_key.to_user_string()
                planned[name] = planned.get(name, 0) + 1
    if planned:
        from altflow import quality

        quality.prepare()  # checks will run: start the workers, importing GX there
    tracker = ProgressTracker(step_assets, out=out, checks_planned=planned)

    @logger(description="altflow progress lines")
    def progress(_context: Any) -> logging.Logger:
        log = logging.getLogger("altflow.progress")
        log.handlers = [tracker]
        log.setLevel(logging.DEBUG)
        log.propagate = False
        return log

    retries = logging.getLogger("altflow.sources")
    retry_printer = RetryPrinter(out)
    retries.addHandler(retry_printer)
    run_defs = Definitions.merge(defs, Definitions(loggers={"progress": progress}))
    job = (
        run_defs.resolve_job_def("refresh_all")
        if "refresh_all" in {j.name for j in run_defs.jobs or []}
        else run_defs.resolve_implicit_global_asset_job_def()
    )
    inst = instance()
    published = Warehouse(warehouse_path)
    _clean_old_working_copies(published, inst)
    run_id = str(uuid.uuid4())
    started = time.monotonic()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Dagster's beta/preview notices, not ours to show
            result = job.execute_in_process(
                instance=inst,
                asset_selection=keys,
                raise_on_error=False,
                run_config={"loggers": {"progress": {}}},
                run_id=run_id,
                tags={"altflow/command": "altflow run"},
            )
    finally:
        retries.removeHandler(retry_printer)
    publish_step = next(
        (s for s in tracker.steps.values() if PUBLISH_KEY.to_user_string() in s.planned), None
    )
    was_published = publish_step is not None and publish_step.status == "ok"
    working = published.working(run_id)
    if not was_published:
        mark_unpublished(inst, run_id)
    return RunOutcome(
        success=result.success and not tracker.failed_checks and was_published,
        steps=tracker.steps,
        failed_checks=tracker.failed_checks,
        seconds=time.monotonic() - started,
        warnings=tracker.warnings,
        run_id=run_id,
        published=was_published,
        working_copy=working.path if working.path.exists() else None,
    )


def summary_table(outcome: RunOutcome) -> str:
    """Assets (checks folded into their asset's row); fits 100 columns."""
    rows = []
    for record in outcome.steps.values():
        if record.is_check:
            continue
        checks = record.checks_passed + record.checks_failed + record.checks_warned
        verdict = f"{record.checks_passed}/{checks} passed" if checks else ""
        if record.checks_warned:
            verdict += f", {record.checks_warned} warn"
        rows.append(
            {
                "asset": record.label,
                "status": record.status,
                "rows": f"{record.rows:,}" if record.rows is not None else "",
                "seconds": f"{record.seconds:.1f}" if record.seconds is not None else "",
                "checks": verdict,
            }
        )
    frame = pl.DataFrame(rows, schema=dict.fromkeys(("asset", "status", "rows", "seconds",
                                                     "checks"), pl.Utf8))
    return render(frame)
