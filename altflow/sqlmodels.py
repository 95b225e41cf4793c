"""The SQL layer: every ``sql/staging/*.sql`` and ``sql/marts/*.sql`` file is one model.

A model is a SELECT; altflow builds it as ``CREATE OR REPLACE TABLE <schema>.<file stem>``.
Upstream dependencies are parsed from the ``schema.table`` names the SQL reads, and the
leading ``--`` comment lines are the model's description.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from altflow import config

LAYERS = ("staging", "marts")
_REFERENCE = re.compile(r"\b(raw|staging|marts)\.([a-z_][a-z0-9_]*)\b", re.IGNORECASE)
_LINE_COMMENT = re.compile(r"--[^\n]*")
_STRING = re.compile(r"'(?:[^']|'')*'")


@dataclass(frozen=True)
class SqlModel:
    schema: str
    name: str
    path: Path
    sql: str
    deps: tuple[str, ...]
    description: str

    @property
    def table(self) -> str:
        return f"{self.schema}.{self.name}"


def parse_deps(sql: str, table: str) -> tuple[str, ...]:
    """The ``schema.table`` names a query reads, ignoring comments and string literals."""
    code = _STRING.sub("''", _LINE_COMMENT.sub("", sql))
    found = {f"{s.lower()}.{t.lower()}" for s, t in _REFERENCE.findall(code)}
    found.discard(table)
    return tuple(sorted(found))


def _description(sql: str, fallback: str) -> str:
    lines = []
    for line in sql.splitlines():
        stripped = line.strip()
        if not stripped.startswith("--"):
            break
        lines.append(stripped.lstrip("-").strip())
    return " ".join(lines).strip() or fallback


def discover(sql_dir: Path | None = None) -> list[SqlModel]:
    """Every model under sql/staging and sql/marts, in a stable order."""
    root = sql_dir or config.SQL_DIR
    models = []
    for layer in LAYERS:
        for path in sorted((root / layer).glob("*.sql")):
            sql = path.read_text()
            table = f"{layer}.{path.stem}"
            models.append(
                SqlModel(
                    schema=layer,
                    name=path.stem,
                    path=path,
                    sql=sql,
                    deps=parse_deps(sql, table),
                    description=_description(sql, f"{table}, built from {path.name}"),
                )
            )
    return models
