"""The code location: every asset, check, resource, job and schedule, assembled in one place.

Loaded by ``workspace.yaml`` (``dagster dev``) and by the ``altflow`` CLI.
"""

from __future__ import annotations

from pathlib import Path

from dagster import (
    AssetSelection,
    Definitions,
    RunConfig,
    define_asset_job,
    in_process_executor,
    load_asset_checks_from_package_module,
    load_assets_from_package_module,
)

import assets.ingest
from altflow import config
from assets.checks import quality_checks
from assets.model import scenario_assets
from assets.publish import publish_asset, unpublished_runs
from assets.report import report_asset
from assets.ui_metadata import decorate  # H6
from assets.warehouse import sql_model_assets
from pipelines.automation import automation  # H6
from pipelines.resources import SourcesResource, WarehouseResource


def all_assets() -> list:
    """Ingest (every module of assets.ingest), SQL models, scenarios, publish, report.

    The publish step depends on every warehouse asset, so it runs last; the report is drawn
    from the published state, after it.
    """
    ingest = list(load_assets_from_package_module(assets.ingest))
    ingest_keys = [key for a in ingest for key in a.keys]
    built = [*ingest, *sql_model_assets(ingest_keys)]
    built.extend(scenario_assets(".".join(key.path) for a in built for key in a.keys))  # H6
    tables = [".".join(key.path) for a in built for key in a.keys]
    publish = publish_asset(built)
    return decorate([*built, publish, report_asset(tables)])  # H6: owners, layer groups


def build_definitions(
    warehouse: str | Path | None = None, source_mode: str | None = None
) -> Definitions:
    """Definitions over the given warehouse and source mode (default: the environment)."""
    warehouse_path = Path(warehouse or config.warehouse_path())
    asset_defs = all_assets()
    tables = [".".join(key.path) for a in asset_defs for key in a.keys]
    everything = define_asset_job(
        "refresh_all", AssetSelection.all(), description="Every asset, from the configured source."
    )
    live_refresh = define_asset_job(
        "refresh_live",
        AssetSelection.all(),
        description="Every asset, fetching each source live over HTTP.",
        config=RunConfig(
            resources={
                "sources": SourcesResource(
                    mode="live", archive_dir=str(warehouse_path.parent / "archive")
                )
            }
        ),
    )
    core = Definitions(
        executor=in_process_executor,
        assets=asset_defs,
        asset_checks=[
            *quality_checks(tables),
            *load_asset_checks_from_package_module(assets.ingest),
        ],
        jobs=[everything, live_refresh],
        sensors=[unpublished_runs],
        resources={
            "warehouse": WarehouseResource(path=str(warehouse_path)),
            "sources": SourcesResource(
                mode=source_mode or config.source_mode(),
                archive_dir=str(warehouse_path.parent / "archive"),
            ),
        },
    )
    return Definitions.merge(core, automation(warehouse_path))  # H6: schedules, sensors


defs = build_definitions()
