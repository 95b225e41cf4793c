"""The code location loads, and every asset is described, grouped, kinded and tagged."""

from __future__ import annotations

import subprocess
import sys

from pipelines.definitions import build_definitions
from tests.conftest import PROJECT_ROOT

GROUPS = {"ingest", "warehouse", "model", "report"}


def test_every_asset_has_group_description_and_kinds() -> None:
    graph = build_definitions().resolve_asset_graph()
    keys = list(graph.get_all_asset_keys())
    assert keys
    for key in keys:
        node = graph.get(key)
        assert node.group_name in GROUPS, key
        assert node.description and len(node.description) > 20, key
        assert any(tag.startswith("dagster/kind/") for tag in node.tags), key


def test_ingest_assets_carry_their_source_tag() -> None:
    graph = build_definitions().resolve_asset_graph()
    nodes = [graph.get(k) for k in graph.get_all_asset_keys()]
    ingest = [node for node in nodes if node.group_name == "ingest"]
    assert ingest
    assert all(node.tags.get("source") for node in ingest)
    assert "fred" in {node.tags["source"] for node in ingest}


def test_sql_models_depend_on_what_they_read() -> None:
    graph = build_definitions().resolve_asset_graph()
    from dagster import AssetKey

    staging = graph.get(AssetKey(["staging", "fred_observations"]))
    assert AssetKey(["raw", "fred_observations"]) in staging.parent_keys
    sources = graph.get(AssetKey(["marts", "sources"]))
    assert AssetKey(["raw", "fred_observations"]) in sources.parent_keys


def test_dagster_validates_the_workspace() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
