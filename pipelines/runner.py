"""Run the asset graph in-process with progress lines and a closing summary (``altflow run``)."""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

import polars as pl
from dagster import (
    AssetKey,
    AssetSelection,
    DagsterError,
    DagsterInstance,
    Definitions,
    logger,
)

from altflow.display import render

KEEP_EVENTS = {
    "STEP_START",
    "STEP_SUCCESS",
    "STEP_FAILURE",
    "STEP_SKIPPED",
    "ASSET_MATERIALIZATION",
    "ASSET_CHECK_EVALUATION",
}


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


@dataclass
class RunOutcome:
    success: bool
    steps: dict[str, StepRecord]
    failed_checks: list[tuple[str, str]]
    seconds: float

    @property
    def failures(self) -> list[str]:
        lines = [
            f"FAILED {', '.join(r.planned) or r.step}: {r.reason}"
            for r in self.steps.values()
            if r.status == "failed" and not ", ".join(r.planned).startswith("check ")
        ]
        lines += [f"FAILED check {name}: {reason}" for name, reason in self.failed_checks]
        return lines


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
        error.cls_name not in ("SourceError", "WarehouseError")
    ):
        message = f"{error.cls_name}: {message}"
    return message


class ProgressTracker(logging.Handler):
    """Turns Dagster's step and asset events into progress lines as they happen."""

    def __init__(self, step_assets: dict[str, list[str]], out: TextIO) -> None:
        super().__init__(level=logging.DEBUG)
        self.total = sum(not names[0].startswith("check ") for names in step_assets.values())
        self.out = out
        self.steps = {
            step: StepRecord(step, status="not run", assets=[], planned=names)
            for step, names in step_assets.items()
        }
        self.failed_checks: list[tuple[str, str]] = []
        self.started = 0

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "dagster_event", None)
        if event is None or event.event_type_value not in KEEP_EVENTS:
            return
        kind, step_key = event.event_type_value, event.step_key or "?"
        step = self.steps.setdefault(step_key, StepRecord(step_key))
        label = ", ".join(step.planned) or step_key
        is_check = label.startswith("check ")  # a check prints one line: its verdict
        if kind == "STEP_START":
            step.started, step.status = time.monotonic(), "running"
            if not is_check:
                self.started += 1
                self._print(f"[{self.started:>2}/{self.total}] {label} ...")
        elif kind == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            step.assets.append(materialization.asset_key.to_user_string())
            rows = materialization.metadata.get("dagster/row_count")
            if rows is not None:
                step.rows = (step.rows or 0) + int(rows.value)
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            if evaluation.passed:
                self._print(f"        check {name} passed")
            else:
                reason = evaluation.description or "expectations failed"
                self.failed_checks.append((name, reason))
                self._print(f"        check {name} FAILED: {reason}")
        elif kind == "STEP_SUCCESS":
            step.status, step.seconds = "ok", time.monotonic() - step.started
            rows = f"{step.rows:,} rows" if step.rows is not None else ""
            if not is_check:
                self._print(f"        ok   {label}  {rows}  {step.seconds:.1f} s")
        elif kind == "STEP_FAILURE":
            step.status, step.seconds = "failed", time.monotonic() - step.started
            step.reason = _root_message(event.step_failure_data.error)
            if not is_check:  # a failed check printed its own line
                self._print(f"        FAIL {label}: {step.reason}")
        elif kind == "STEP_SKIPPED":
            step.status, step.reason = "skipped", "an upstream asset or blocking check failed"
            self._print(f"        skip {label}: {step.reason}")


def _instance() -> DagsterInstance:
    """The persistent instance when DAGSTER_HOME is set (runs show in the UI), else ephemeral."""
    return DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()


def resolve_selection(defs: Definitions, select: str | None) -> list[AssetKey]:
    graph = defs.resolve_asset_graph()
    try:
        selection = AssetSelection.all() if not select else AssetSelection.from_string(select)
        keys = selection.resolve(graph)
    except DagsterError as exc:
        raise ValueError(f"--select {select!r}: {' '.join(str(exc).split())}") from None
    return sorted(keys, key=lambda k: k.to_user_string())


def run_assets(defs: Definitions, select: str | None, out: TextIO | None = None) -> RunOutcome:
    """Materialize the selection (and its checks) in-process, printing progress to `out`."""
    out = out or sys.stdout
    keys = resolve_selection(defs, select)
    if not keys:
        raise ValueError(f"--select {select!r} matches no asset")
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
    tracker = ProgressTracker(step_assets, out=out)

    @logger(description="altflow progress lines")
    def progress(_context: Any) -> logging.Logger:
        log = logging.getLogger("altflow.progress")
        log.handlers = [tracker]
        log.setLevel(logging.DEBUG)
        log.propagate = False
        return log

    run_defs = Definitions.merge(defs, Definitions(loggers={"progress": progress}))
    job = run_defs.resolve_implicit_global_asset_job_def()
    started = time.monotonic()
    result = job.execute_in_process(
        instance=_instance(),
        asset_selection=keys,
        raise_on_error=False,
        run_config={"loggers": {"progress": {}}},
    )
    return RunOutcome(
        success=result.success and not tracker.failed_checks,
        steps=tracker.steps,
        failed_checks=tracker.failed_checks,
        seconds=time.monotonic() - started,
    )


def summary_table(outcome: RunOutcome) -> str:
    frame = pl.DataFrame(
        [
            {
                "asset": ", ".join(r.planned) or r.step,
                "status": r.status,
                "rows": f"{r.rows:,}" if r.rows is not None else "",
                "seconds": f"{r.seconds:.1f}" if r.seconds is not None else "",
            }
            for r in outcome.steps.values()
        ],
        schema=dict.fromkeys(("asset", "status", "rows", "seconds"), pl.Utf8),
    )
    return render(frame)
