"""Schedules and sensors: each source refreshed on its publisher's cadence, scenarios on change.

- ``daily_market_data`` (06:00 UTC every day): LBMA precious-metal prices, CoinGecko crypto
  markets and FRED (CBBTCUSD, CPI) live, then every asset downstream of them.
- ``quarterly_retirement_data``: ICI publishes "US Retirement Market" quarterly data around
  the third week of March, June, September and December, the Fed's Financial Accounts (Z.1,
  read through FRED) in the second week of those months; the schedule runs on the 28th of
  those months, and again on the 10th of the next month to catch a late release.
- ``scenario_files_sensor``: keeps one dynamic partition per scenario file of
  ALTFLOW_SCENARIOS (added and removed as files appear and go) and requests a run of a
  scenario whose file is new or changed; a removed file triggers a run of
  ``marts.scenario_files``, which drops that scenario's rows.
- ``scenario_inputs_sensor``: when a run has published newer pool or market marts than the
  scenario marts were built from (e.g. a UI run of the market marts alone), it requests
  ``scenario_refresh`` for every scenario. Why a sensor and not declarative automation
  (``AutomationCondition.eager``): automation launches partitioned and unpartitioned assets
  as separate runs, and under write-audit-publish a run publishes only what it contains, so
  the scenario rebuild, the publish step and the report must be one run.

Scheduled jobs use live sources, retry failed steps (:data:`FETCH_RETRY`, exponential backoff,
for a source that is briefly down) and carry the :data:`WRITER_TAG`, which the instance's run
queue limits to one run at a time (pipelines/instance.py writes ``concurrency.runs``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from dagster import (
    AssetKey,
    AssetSelection,
    Backoff,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    Jitter,
    RetryPolicy,
    RunConfig,
    RunRequest,
    ScheduleDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    sensor,
)

from altflow import config
from altflow.scenarios.batch import MART_TABLES
from altflow.scenarios.spec import scenario_files
from assets.model import MODEL_READS, PARTITIONS_NAME, SCENARIO_PARTITIONS, partition_key
from pipelines.resources import SourcesResource
from pipelines.versions import PUBLISH_KEY

MARKET_SOURCES = ("lbma", "coingecko", "fred")
RETIREMENT_SOURCES = ("ici", "fred")  # the Fed's Z.1 series are read through FRED
WRITER_TAG = {"altflow/writer": "warehouse"}
FETCH_RETRY = RetryPolicy(
    max_retries=3, delay=60, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)
DAILY_CRON = "0 6 * * *"
QUARTERLY_CRONS = ("0 7 28 3,6,9,12 *", "0 7 10 1,4,7,10 *")
SCENARIO_KEYS = tuple(AssetKey(["marts", name]) for name in MART_TABLES)
FILES_KEY = AssetKey(["marts", "scenario_files"])
REPORT_KEY = AssetKey(["report", "altflow_html"])
# A removed file: the file list drops its rows; publish and the report make that visible.
UNPARTITIONED_AFTER_REMOVAL = (FILES_KEY, PUBLISH_KEY, REPORT_KEY)
SENSOR_INTERVAL_S = 30


def _by_source(sources: Sequence[str]) -> AssetSelection:
    selection = AssetSelection.tag("source", sources[0])
    for source in sources[1:]:
        selection = selection | AssetSelection.tag("source", source)
    return selection.downstream()


def _live(warehouse: Path) -> RunConfig:
    archive = str(warehouse.parent / "archive")
    return RunConfig(resources={"sources": SourcesResource(mode="live", archive_dir=archive)})


def live_run_config(warehouse: Path) -> dict:
    """What a scheduled run is started with: every source fetched live over HTTP."""
    archive = str(warehouse.parent / "archive")
    return {"resources": {"sources": {"config": {"mode": "live", "archive_dir": archive}}}}


def jobs(warehouse: Path) -> dict:
    """The jobs the schedules and the sensor start (by name)."""
    return {
        "market_data_live": define_asset_job(
            "market_data_live",
            _by_source(MARKET_SOURCES),
            description="LBMA, CoinGecko and FRED fetched live, and everything downstream.",
            config=_live(warehouse),
            tags=WRITER_TAG,
            op_retry_policy=FETCH_RETRY,
        ),
        "retirement_data_live": define_asset_job(
            "retirement_data_live",
            _by_source(RETIREMENT_SOURCES),
            description="ICI and FRED (Z.1) fetched live, and everything downstream.",
            config=_live(warehouse),
            tags=WRITER_TAG,
            op_retry_policy=FETCH_RETRY,
        ),
        "scenario_refresh": define_asset_job(
            "scenario_refresh",
            AssetSelection.assets(*SCENARIO_KEYS, FILES_KEY).downstream(),
            description="The scenario marts (one partition, or all), the file list and "
            "what reads them; market and pool data as already in the warehouse.",
            tags=WRITER_TAG,
        ),
    }


def schedules(job_defs: dict, warehouse: Path) -> list[ScheduleDefinition]:
    live = live_run_config(warehouse)
    return [
        ScheduleDefinition(
            name="daily_market_data",
            job=job_defs["market_data_live"],
            cron_schedule=DAILY_CRON,
            execution_timezone="UTC",
            run_config=live,
            tags=WRITER_TAG,
            description="Daily 06:00 UTC: LBMA, CoinGecko and FRED live, then downstream marts.",
            default_status=DefaultScheduleStatus.RUNNING,
        ),
        ScheduleDefinition(
            name="quarterly_retirement_data",
            job=job_defs["retirement_data_live"],
            cron_schedule=list(QUARTERLY_CRONS),
            execution_timezone="UTC",
            run_config=live,
            tags=WRITER_TAG,
            description="After ICI's and the Fed's (Z.1) quarterly releases: the 28th of Mar, "
            "Jun, Sep and Dec, and the 10th of the month after for a late release.",
            default_status=DefaultScheduleStatus.RUNNING,
        ),
    ]


def file_digests(folder: Path) -> dict[str, str]:
    """Partition key -> sha256 of the scenario file's bytes (what 'changed' means)."""
    digests: dict[str, str] = {}
    for path in scenario_files(folder):
        try:
            digests[partition_key(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            continue  # removed between listing and reading: gone on the next tick
    return digests


def scenario_sensor(job_name: str = "scenario_refresh"):  # noqa: ANN201 - a SensorDefinition
    @sensor(
        name="scenario_files_sensor",
        job_name=job_name,
        minimum_interval_seconds=SENSOR_INTERVAL_S,
        default_status=DefaultSensorStatus.RUNNING,
        description="One partition per scenario file of ALTFLOW_SCENARIOS; reruns a "
        "scenario whose file is new or changed; drops a removed file's rows.",
    )
    def scenario_files_sensor(context: SensorEvaluationContext):  # noqa: ANN202
        folder = Path(config.scenarios_dir())
        now = file_digests(folder)
        before: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        have = set(context.instance.get_dynamic_partitions(PARTITIONS_NAME))
        added = sorted(set(now) - have)
        removed = sorted(have - set(now))
        if context.cursor:
            changed = sorted(k for k, digest in now.items() if before.get(k) != digest)
        else:  # first tick: partitions a run already registered are current, new ones are not
            changed = added
        requests = [
            RunRequest(
                run_key=f"scenario:{key}:{now[key][:16]}",
                partition_key=key,
                tags={**WRITER_TAG, "altflow/trigger": "scenario file"},
            )
            for key in changed
        ]
        if removed:
            stamp = hashlib.sha256(json.dumps(sorted(now.items())).encode()).hexdigest()[:16]
            requests.append(
                RunRequest(
                    run_key=f"scenarios-removed:{stamp}",
                    asset_selection=list(UNPARTITIONED_AFTER_REMOVAL),
                    tags={**WRITER_TAG, "altflow/trigger": "scenario file removed"},
                )
            )
        partition_requests = []
        if added:
            partition_requests.append(SCENARIO_PARTITIONS.build_add_request(added))
        if removed:
            partition_requests.append(SCENARIO_PARTITIONS.build_delete_request(removed))
        if not requests and not partition_requests:
            if not context.cursor:
                return SensorResult(cursor=json.dumps(now, sort_keys=True))
            return SkipReason(f"no scenario file changed in {folder}")
        return SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=partition_requests,
            cursor=json.dumps(now, sort_keys=True),
        )

    return scenario_files_sensor


def _latest_storage_id(context: SensorEvaluationContext, key: AssetKey) -> int:
    records = context.instance.fetch_materializations(key, limit=1, ascending=False).records
    return records[0].storage_id if records else 0


def inputs_sensor(job_name: str = "scenario_refresh"):  # noqa: ANN201 - a SensorDefinition
    @sensor(
        name="scenario_inputs_sensor",
        job_name=job_name,
        minimum_interval_seconds=SENSOR_INTERVAL_S,
        default_status=DefaultSensorStatus.RUNNING,
        description="Rebuilds every scenario when a pool or market mart the engine reads was "
        "materialized after the scenario marts.",
    )
    def scenario_inputs_sensor(context: SensorEvaluationContext):  # noqa: ANN202
        inputs = {key: _latest_storage_id(context, AssetKey(key.split("."))) for key in
                  MODEL_READS}
        built = min(_latest_storage_id(context, key) for key in SCENARIO_KEYS)
        newer = sorted(k for k, storage_id in inputs.items() if storage_id > built)
        if not newer:
            return SkipReason("the scenario marts are newer than every input")
        return RunRequest(
            run_key=f"scenario-inputs:{max(inputs.values())}",
            tags={**WRITER_TAG, "altflow/trigger": "inputs updated: " + ", ".join(newer)},
        )

    return scenario_inputs_sensor


def automation(warehouse: str | Path | None = None) -> Definitions:
    """Jobs, schedules and sensors, to merge into the code location's Definitions."""
    path = Path(warehouse or config.warehouse_path())
    job_defs = jobs(path)
    return Definitions(
        jobs=list(job_defs.values()),
        schedules=schedules(job_defs, path),
        sensors=[scenario_sensor(), inputs_sensor()],
    )
