"""Dagster resources: one for the warehouse, one for every outside data source."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from dagster import ConfigurableResource

from altflow import config
from altflow.sources.base import Source
from altflow.warehouse import Warehouse

S = TypeVar("S", bound=Source)


class WarehouseResource(ConfigurableResource):
    """The DuckDB warehouse file (ALTFLOW_WAREHOUSE)."""

    path: str

    def get(self) -> Warehouse:
        return Warehouse(self.path)


class SourcesResource(ConfigurableResource):
    """How sources are read: `snapshot` (embedded copy, offline) or `live` (HTTP)."""

    mode: str = "snapshot"
    snapshot_dir: str = str(config.SNAPSHOT_DIR)
    archive_dir: str | None = None  # live payloads are kept here as fetched (None: not kept)

    def source(self, cls: type[S]) -> S:
        archive = Path(self.archive_dir) if self.archive_dir else None
        return cls(self.mode, snapshot_root=Path(self.snapshot_dir), archive_root=archive)
