"""The publish step: a run's results become the published warehouse, all at once.

Every asset of a run writes into the run's private working copy. ``publish/warehouse``
depends on every warehouse asset, so Dagster runs it last, and only if no upstream step failed
and no blocking check failed (a failed blocking check skips everything downstream of it,
publish included). It then renames the working copy over the published file in one atomic
step and records what it published (``meta.publish_log``) and the input versions of the
assets this run built (``meta.asset_versions``, which lets the next run skip what is
unchanged). A run that never reaches this step publishes nothing.
"""


from collections.abc import Sequence
from functools import cache

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    AssetsDefinition,
    DagsterEventType,
    DagsterInstance,
    Definitions,
    MaterializeResult,
    MetadataValue,
    RunFailureSensorContext,
    asset,
    run_failure_sensor,
)

from altflow.warehouse import WorkingCopy
from pipelines.resources import WarehouseResource
from pipelines.versions import PUBLISH_KEY, asset_versions


def _materialized(instance: DagsterInstance, run_id: str) -> set[AssetKey]:
    """The assets a run materialized (so far), publish included, from its own event log."""
    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
    ).records
    return {r.event_log_entry.dagster_event.asset_key for r in records}


def built_in_run(instance: DagsterInstance, run_id: str) -> list[AssetKey]:
    """The warehouse assets a run materialized (so far)."""
    keys = _materialized(instance, run_id) - {PUBLISH_KEY}
    return sorted(keys, key=lambda k: k.to_user_string())


def published_by(instance: DagsterInstance, run_id: str) -> bool:
    return PUBLISH_KEY in _materialized(instance, run_id)


def mark_unpublished(instance: DagsterInstance, run_id: str) -> int:
    """Say in the event log that a refused run's materializations never reached the warehouse.

    Tags the run ``altflow/published=false`` and records an observation on each asset it
    materialized, so the UI shows beside that materialization that it was not published.
    """
    instance.add_run_tags(run_id, {"altflow/published": "false"})
    keys = built_in_run(instance, run_id)
    for key in keys:
        instance.report_runless_asset_event(
            AssetObservation(
                asset_key=key,
                metadata={"altflow/published": False, "altflow/refused_run": run_id},
                description=f"materialized by run {run_id}, which was refused: not published",
            )
        )
    return len(keys)


@run_failure_sensor(
    name="unpublished_runs",
    description="Marks the materializations of a failed run as not published (the run's "
    "working copy never replaced the warehouse).",
)
def unpublished_runs(context: RunFailureSensorContext) -> None:
    run_id = context.dagster_run.run_id
    if not published_by(context.instance, run_id):
        mark_unpublished(context.instance, run_id)


def publish_asset(upstream: Sequence[AssetsDefinition]) -> AssetsDefinition:
    """The publish step over `upstream`, the assets whose results it publishes."""

    @cache
    def graph():  # noqa: ANN202 (dagster's AssetGraph is not public)
        specs = [spec for assets_def in upstream for spec in assets_def.specs]
        return Definitions(assets=specs).resolve_asset_graph()

    @asset(
        key=PUBLISH_KEY,
        deps=[key for assets_def in upstream for key in assets_def.keys],
        group_name="publish",
        kinds={"duckdb"},
        owners=["team:altflow"],
        description="Publishes the run: renames the run's working copy over the warehouse "
        "file in one atomic step, after every asset of the run was built and every blocking "
        "check passed. Runs that fail or are killed before this step publish nothing.",
    )
    def warehouse(context: AssetExecutionContext, warehouse: WarehouseResource):
        copy = warehouse.get()
        if not isinstance(copy, WorkingCopy):
            raise RuntimeError("publish/warehouse runs only inside a run")
        built = built_in_run(context.instance, context.run_id)
        if not built:
            context.log.info("nothing was built in this run: nothing to publish")
            return MaterializeResult(metadata={"assets_published": 0})
        current = asset_versions(graph(), built)
        stored = {k.to_user_string(): current.get(k) for k in built}  # None: never skip
        result = copy.publish([k.to_user_string() for k in built], stored)
        context.log.info(f"published {len(built)} assets of run {result.run_id} to {result.path}")
        return MaterializeResult(
            metadata={
                "published_at": MetadataValue.timestamp(result.published_at),
                "assets_published": len(built),
                "assets": MetadataValue.md("\n".join(f"- `{a}`" for a in result.assets) or "none"),
                "warehouse": MetadataValue.path(str(result.path)),
            }
        )

    return warehouse

