"""The code location loads; its asset graph is pinned by a snapshot; README selections work.

The snapshot (tests/snapshots/asset_graph.json) lists every asset's key, group, deps and
checks, in the style of dagster-open-platform's definitions snapshot: a dropped dependency
edge or check fails CI. After an intended change, regenerate it with
``ALTFLOW_UPDATE_SNAPSHOTS=1 pytest tests/test_definitions.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from dagster import AssetKey

from pipelines.definitions import build_definitions
from pipelines.runner import resolve_selection
from pipelines.versions import PUBLISH_KEY
from tests.conftest import PROJECT_ROOT

GROUPS = {"raw", "staging", "marts", "model", "publish", "report"}
SNAPSHOT = PROJECT_ROOT / "tests" / "snapshots" / "asset_graph.json"
SCENARIO_READS = {
    "marts/retirement_assets",
    "marts/pool_growth",
    "marts/market_snapshot",
    "marts/market_history",
}


@pytest.fixture(scope="module")
def defs():  # noqa: ANN201
    return build_definitions()


def graph_snapshot(defs) -> dict[str, dict[str, object]]:  # noqa: ANN001
    graph = defs.resolve_asset_graph()
    checks: dict[str, list[str]] = {}
    for checks_def in defs.asset_checks or []:
        for key in checks_def.check_keys:
            checks.setdefault(key.asset_key.to_user_string(), []).append(key.name)
    for assets_def in defs.assets or []:
        for key in getattr(assets_def, "check_keys", ()):
            checks.setdefault(key.asset_key.to_user_string(), []).append(key.name)
    out = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        name = key.to_user_string()
        out[name] = {
            "group": node.group_name,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "checks": sorted(set(checks.get(name, []))),
        }
    return out


def test_asset_graph_matches_the_snapshot(defs) -> None:  # noqa: ANN001
    current = graph_snapshot(defs)
    if os.environ.get("ALTFLOW_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    pinned = json.loads(SNAPSHOT.read_text())
    assert sorted(current) == sorted(pinned), "assets added or removed"
    for name, node in pinned.items():
        assert current[name] == node, f"{name} changed: {current[name]} != pinned {node}"


def test_scenario_marts_depend_on_every_table_the_engine_reads(defs) -> None:  # noqa: ANN001
    graph = defs.resolve_asset_graph()
    impact = graph.get(AssetKey(["marts", "scenario_impact"]))
    assert {k.to_user_string() for k in impact.parent_keys} >= SCENARIO_READS


def test_publish_runs_after_every_warehouse_asset_and_before_the_report(defs) -> None:  # noqa: ANN001
    graph = defs.resolve_asset_graph()
    publish = graph.get(PUBLISH_KEY)
    warehouse = {
        k for k in graph.get_all_asset_keys() if k.path[0] in ("raw", "staging", "marts")
    }
    assert warehouse <= set(publish.parent_keys)
    assert PUBLISH_KEY in graph.get(AssetKey(["report", "altflow_html"])).parent_keys


def test_every_asset_has_group_description_owner_and_kinds(defs) -> None:  # noqa: ANN001
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.group_name in GROUPS, key
        assert node.description and len(node.description) > 20, key
        assert any(tag.startswith("dagster/kind/") for tag in node.tags), key
        assert node.owners, key


def test_ingest_assets_carry_their_source_tag(defs) -> None:  # noqa: ANN001
    graph = defs.resolve_asset_graph()
    raw = [graph.get(k) for k in graph.get_all_asset_keys() if k.path[0] == "raw"]
    assert raw
    assert all(node.tags.get("source") for node in raw)
    assert {"fred", "ici", "lbma", "coingecko", "reference"} <= {n.tags["source"] for n in raw}


def readme_selections() -> list[str]:
    text = (PROJECT_ROOT / "README.md").read_text()
    found = re.findall(r"--select '([^']+)'", text)
    found += re.findall(r"`((?:tag|group|key):[^`\s]+|\+key:[^`\s]+)`", text)
    return sorted(set(found))


def test_readme_shows_selections() -> None:
    assert len(readme_selections()) >= 4


@pytest.mark.parametrize("selection", readme_selections())
def test_every_readme_selection_resolves(defs, selection: str) -> None:  # noqa: ANN001
    keys = resolve_selection(defs, selection)
    assert keys, selection


def test_a_selection_inside_a_multi_asset_takes_all_of_it(defs) -> None:  # noqa: ANN001
    keys = {k.to_user_string() for k in resolve_selection(defs, "key:raw/coingecko_global")}
    assert "raw/coingecko_global" in keys
    for assets_def in defs.assets or []:
        names = {k.to_user_string() for k in assets_def.keys}
        if names & keys and not assets_def.can_subset:
            assert names <= keys


def test_a_bad_selection_is_one_line(defs) -> None:  # noqa: ANN001
    with pytest.raises(ValueError) as error:
        resolve_selection(defs, "key:[[")
    assert "\n" not in str(error.value)


def test_dagster_validates_the_workspace() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
