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
    AssetsDefinition,
    DagsterEventType,
    Definitions,
    MaterializeResult,
    MetadataValue,
    asset,
)

from altflow.warehouse import WorkingCopy
from pipelines.resources import WarehouseResource
from pipelines.versions import PUBLISH_KEY, asset_versions


def _built_in_run(context: AssetExecutionContext) -> list[AssetKey]:
    """The assets this run materialized so far, from the run's own event log."""
    records = context.instance.get_records_for_run(
        context.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
    ).records
    keys = {r.event_log_entry.dagster_event.asset_key for r in records}
    keys.discard(PUBLISH_KEY)
    return sorted(keys, key=lambda k: k.to_user_string())


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
        built = _built_in_run(context)
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

