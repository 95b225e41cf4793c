"""Input versions of every asset, so a run rebuilds only what changed.

An asset's version is a hash of its code, its own inputs and its parents' versions:

- code: every Python file of the packages that compute assets (``altflow``, ``assets``), plus
  the asset's own SQL file and table metadata YAML where it has them;
- own inputs: for an ingest asset in snapshot mode, its source's ``manifest.json`` (which holds
  every file's sha256, verified when read); in live mode nothing can be known before fetching,
  so a live ingest has no version and is always rebuilt; for the scenario marts, the scenario
  files;
- parents: the versions of the assets it reads, so a change flows downstream.

The publish step stores the versions of the assets a run built (``meta.asset_versions``); the
next ``altflow run`` leaves out every asset whose version is unchanged (``--force`` keeps all).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from dagster import AssetKey

from altflow import config

ROOT = Path(__file__).resolve().parents[1]
CODE_PACKAGES = ("altflow", "assets", "pipelines")
PUBLISH_KEY = AssetKey(["publish", "warehouse"])
AssetGraph = Any  # dagster's AssetGraph (Definitions.resolve_asset_graph()); not public API


def _hash(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


@cache
def _code_fingerprint() -> str:
    files = sorted(
        path
        for package in CODE_PACKAGES
        for path in (ROOT / package).rglob("*")
        if path.suffix in (".py", ".yml", ".yaml") and "__pycache__" not in path.parts
    )
    return _hash(*(f"{p.relative_to(ROOT)}:{_hash(p.read_bytes())}" for p in files))


def _file_hash(path: Path) -> str:
    return _hash(path.read_bytes()) if path.exists() else "missing"


def _folder_hash(folder: Path) -> str:
    files = sorted(folder.glob("*.y*ml")) if folder.is_dir() else []
    return _hash(*(f"{p.name}:{_hash(p.read_bytes())}" for p in files))


def _own_inputs(graph: AssetGraph, key: AssetKey, mode: str) -> str | None:
    """The asset's inputs from outside the warehouse (None: unknowable before running)."""
    node = graph.get(key)
    tags = node.tags or {}
    metadata = node.metadata or {}
    parts = []
    if "sql_file" in metadata:
        entry = metadata["sql_file"]  # a MetadataValue in the graph, a str where built by hand
        sql_file = ROOT / str(getattr(entry, "value", entry))
        parts += [_file_hash(sql_file), _file_hash(sql_file.with_suffix(".yml"))]
    source = tags.get("source")
    if source:
        if mode == "live" and source != "reference":
            return None
        parts.append(_file_hash(config.SNAPSHOT_DIR / source / "manifest.json"))
    if key.path[:1] == ["marts"] and key.path[-1].startswith("scenario_"):
        parts.append(_folder_hash(Path(config.scenarios_dir())))
    return _hash(*parts)


def asset_versions(
    graph: AssetGraph, keys: Iterable[AssetKey] | None = None, mode: str | None = None
) -> dict[AssetKey, str | None]:
    """The current version of every asset of `graph` (or of `keys` and what they need)."""
    mode = mode or config.source_mode()
    code = _code_fingerprint()
    versions: dict[AssetKey, str | None] = {}

    def version(key: AssetKey) -> str | None:
        if key in versions:
            return versions[key]
        versions[key] = None  # guards against cycles (Dagster forbids them anyway)
        own = _own_inputs(graph, key, mode)
        parents = sorted(graph.get(key).parent_keys, key=lambda k: k.to_user_string())
        parent_versions = [version(p) for p in parents if graph.has(p)]
        if own is None or any(v is None for v in parent_versions):
            result = None
        else:
            result = _hash(code, key.to_user_string(), own, *(v or "" for v in parent_versions))
        versions[key] = result
        return result

    for key in keys if keys is not None else graph.materializable_asset_keys:
        if key != PUBLISH_KEY:
            version(key)
    return versions
