"""Dagster resources: one for the warehouse, one for every outside data source."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from dagster import ConfigurableResource, InitResourceContext
from pydantic import PrivateAttr

from altflow import config
from altflow.sources.base import Source
from altflow.warehouse import Warehouse, WorkingCopy

S = TypeVar("S", bound=Source)


class WarehouseResource(ConfigurableResource):
    """The DuckDB warehouse file (ALTFLOW_WAREHOUSE).

    Inside a run, ``get()`` is the run's private working copy (write, audit, publish): every
    step of one run reads and writes the same copy, and only the publish step makes it the
    published warehouse. Outside a run it is the published file itself.
    """

    path: str
    _run_id: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._run_id = context.run_id

    def published(self) -> Warehouse:
        return Warehouse(self.path)

    def get(self) -> Warehouse | WorkingCopy:
        published = self.published()
        return published.working(self._run_id) if self._run_id else published


class SourcesResource(ConfigurableResource):
    """How sources are read: `snapshot` (embedded copy, offline) or `live` (HTTP)."""

    mode: str = "snapshot"
    snapshot_dir: str = str(config.SNAPSHOT_DIR)
    archive_dir: str | None = None  # live payloads are kept here as fetched (None: not kept)

    def source(self, cls: type[S]) -> S:
        archive = Path(self.archive_dir) if self.archive_dir else None
        return cls(self.mode, snapshot_root=Path(self.snapshot_dir), archive_root=archive)
