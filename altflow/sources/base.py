"""One abstraction for every source: live fetch over HTTP, or read from the embedded snapshot.

A source asks for a *dataset* (a FRED series id, an LBMA price file, ...). In live mode the
dataset is fetched with :class:`~altflow.sources.http.HttpClient` from
``ALTFLOW_<SRC>_BASE_URL`` (default: the real service) plus the source's own path; in snapshot
mode it is read from ``snapshot/<source>/`` as listed in that folder's ``manifest.json``.
Either way the caller gets a :class:`Payload` of the same bytes in the service's format, so
the parsers never know which mode ran. Live mode never falls back to the snapshot.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from altflow import config
from altflow.config import HttpSettings
from altflow.sources.errors import SourceError
from altflow.sources.http import HttpClient


@dataclass(frozen=True)
class Payload:
    """The bytes of one dataset as the service serves them, with where and when they came from."""

    source: str
    dataset: str
    url: str
    content: bytes
    retrieved_at: datetime
    mode: str
    as_of: date | None = None
    sha256: str = field(default="")
    # Where the bytes were taken: live, the URL actually fetched; snapshot, the public copy
    # the manifest names (never the live endpoint the snapshot stands in for).
    retrieved_from: str = ""
    provenance: str = ""  # the manifest's text; live: "fetched live from <url>"

    def __post_init__(self) -> None:
        if not self.sha256:
            object.__setattr__(self, "sha256", hashlib.sha256(self.content).hexdigest())
        if not self.retrieved_from and self.mode == "live":
            object.__setattr__(self, "retrieved_from", self.url)
        if not self.provenance and self.mode == "live":
            object.__setattr__(self, "provenance", f"fetched live from {self.url}")

    def with_as_of(self, as_of: date | None) -> Payload:
        """Live payloads learn their as-of date from the data; snapshot ones keep the manifest's."""
        return self if self.as_of is not None else replace(self, as_of=as_of)

    def fail(self, reason: str) -> SourceError:
        return SourceError(self.source, self.dataset, reason, url=self.url)

    def text(self, expected: str) -> str:
        """The body as text, refusing empty bodies and HTML pages where `expected` was due."""
        body = self.content.decode("utf-8-sig", errors="replace")
        head = body.lstrip()[:512].lower()
        if not head:
            raise self.fail(f"empty response where {expected} was expected ({self.url})")
        if head.startswith(("<!doctype html", "<html", "<head", "<body")) or "<html" in head:
            raise self.fail(
                f"got an HTML page where {expected} was expected (error or bot-challenge page?)"
                f" ({self.url})"
            )
        return body

    def json(self) -> Any:
        """The body parsed as JSON, with a one-line error for truncated or non-JSON bodies."""
        body = self.text("JSON")
        try:
            return json.loads(body)
        except json.JSONDecodeError as exc:
            raise self.fail(
                f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno};"
                f" truncated response?) ({self.url})"
            ) from None


LOG = logging.getLogger("altflow.sources")


@dataclass(frozen=True)
class DatasetResult:
    """One dataset's payload and the raw rows it gave, per raw table.

    ``key`` names the columns and values that identify this dataset's rows inside a table it
    shares with other datasets (FRED: ``{"series_id": "CPIAUCSL"}``); empty when the dataset
    owns its tables. When a later fetch of the dataset fails, exactly these rows are kept.
    """

    payload: Payload
    frames: Mapping[str, pl.DataFrame]
    key: Mapping[str, object] = field(default_factory=dict)
    # rows the payload gave when it adds no rows of its own but values to other datasets'
    # rows (ICI's release dates file): what raw.fetch_log records for it
    row_count: int | None = None

    @property
    def rows(self) -> int:
        if self.row_count is not None:
            return self.row_count
        return sum(frame.height for frame in self.frames.values())


@dataclass(frozen=True)
class DatasetFailure:
    """A dataset that could not be fetched, or whose payload was refused."""

    source: str
    dataset: str
    url: str
    reason: str
    tables: tuple[str, ...]
    key: Mapping[str, object] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return f"{self.source} {self.dataset}: {self.reason}"


@dataclass
class Batch:
    """What every source returns: its raw tables, payloads with row counts, and failures.

    ``schemas`` lists every raw table the source writes (in order) with its columns, so a
    table is well-typed even when no dataset could fill it. ``static`` holds tables built from
    altflow's own code (registries), written every run. ``notes`` are warnings (datasets the
    embedded snapshot lacks); ``metadata`` is shown on the Dagster materialization.
    """

    source: str
    mode: str
    schemas: dict[str, Mapping[str, Any]]
    results: list[DatasetResult] = field(default_factory=list)
    failures: list[DatasetFailure] = field(default_factory=list)
    static: dict[str, pl.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def payloads(self) -> list[Payload]:
        return [r.payload for r in self.results]

    @property
    def rows(self) -> list[int]:
        """Rows per payload, aligned with :attr:`payloads` (what raw.fetch_log records)."""
        return [r.rows for r in self.results]

    def table(self, name: str) -> pl.DataFrame:
        """The rows of every fetched dataset for one raw table (static tables as they are)."""
        if name in self.static:
            return self.static[name]
        schema = dict(self.schemas[name])
        frames = [r.frames[name] for r in self.results if name in r.frames]
        if not frames:
            return pl.DataFrame(schema=schema)
        return pl.concat([f.select(list(schema)).cast(schema) for f in frames])

    @property
    def tables(self) -> dict[str, pl.DataFrame]:
        """Every table the batch writes: the datasets' tables, then the static ones."""
        return {name: self.table(name) for name in [*self.schemas, *self.static]}

    def raise_failures(self) -> None:
        """Raise the failures as one SourceError line (snapshot mode: failures are fatal)."""
        if self.failures:
            first = self.failures[0]
            more = "; ".join(f.message for f in self.failures[1:])
            reason = first.reason + (f"; also {more}" if more else "")
            raise SourceError(first.source, first.dataset, reason, url=first.url)


def today() -> date:
    """The UTC date live payloads are judged against (module-level, so tests can pin it)."""
    return datetime.now(UTC).date()


def check_recent(
    payload: Payload, last: date, as_of: date | None, max_age_days: int, what: str
) -> None:
    """Refuse a live history whose latest point is far older than the fetch (a cut body).

    A body cut at a line or record boundary can still parse; only its history stops early.
    `what` names the cadence ("monthly series", "daily price file") for the message.
    """
    if as_of is not None and (as_of - last).days > max_age_days:
        raise payload.fail(
            f"history ends {last.isoformat()}, {(as_of - last).days} days before"
            f" {as_of.isoformat()} for a {what} (at most {max_age_days} expected);"
            " truncated response?"
        )


def _parse_date(value: str | None) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


@dataclass(frozen=True)
class SnapshotEntry:
    """One file of the embedded snapshot, as its manifest describes it."""

    source: str
    dataset: str
    path: Path
    url: str
    as_of: date | None
    retrieved_at: datetime | None
    sha256: str
    provenance: str
    retrieved_from: str = ""


_URL = re.compile(r"https?://[^\s,;()\"']+")
_GITHUB_COPY = re.compile(
    r"\b([A-Za-z0-9][\w.-]*/[\w.-]+)\s+(?:file\s+)?([\w./-]+\.(?:csv|json|xlsx?|txt))"
    r"[^@]{0,40}?(?:@|commit)\s*([0-9a-f]{7,40})"
)


def origin_from_provenance(provenance: str, endpoint: str, fallback: str) -> str:
    """A best guess at where snapshot bytes came from, for manifests without retrieved_from.

    The first URL in the provenance text that is not the live endpoint, else a GitHub copy
    named as ``owner/repo path @ commit``, else `fallback` (the embedded file itself).
    """
    for url in _URL.findall(provenance):
        url = url.rstrip(".")
        if url.split("?")[0] != endpoint.split("?")[0]:
            return url
    match = _GITHUB_COPY.search(provenance)
    if match:
        repo, path, commit = match.groups()
        return f"https://github.com/{repo}/blob/{commit}/{path}"
    return fallback


@cache
def _manifest(folder: Path) -> dict[str, SnapshotEntry]:
    manifest_path = folder / "manifest.json"
    try:
        data = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as exc:
        raise SourceError(folder.name, "manifest", f"{manifest_path}: {exc}") from None
    entries = {}
    for item in data.get("files", []):
        provenance = item.get("provenance", "")
        relative = f"snapshot/{folder.name}/{item['path']}"
        entries[item["dataset"]] = SnapshotEntry(
            source=data.get("source", folder.name),
            dataset=item["dataset"],
            path=folder / item["path"],
            url=item["url"],
            as_of=_parse_date(item.get("as_of")),
            # H4: retrieved_at is when the public copy was stored; null where unknown
            retrieved_at=datetime.fromisoformat(item["retrieved_at"].replace("Z", "+00:00"))
            if item.get("retrieved_at") else None,
            sha256=item["sha256"],
            provenance=provenance,
            retrieved_from=item.get("retrieved_from")
            or origin_from_provenance(provenance, item["url"], f"embedded copy {relative}"),
        )
    return entries


def snapshot_entries(source: str, root: Path | None = None) -> dict[str, SnapshotEntry]:
    """The manifest of ``snapshot/<source>/`` keyed by dataset (empty if there is none)."""
    return _manifest((root or config.SNAPSHOT_DIR) / source)


def read_snapshot(source: str, dataset: str, root: Path | None = None) -> Payload:
    """Read one dataset from the embedded snapshot, checking its sha256 against the manifest."""
    entry = snapshot_entries(source, root).get(dataset)
    if entry is None:
        raise SourceError(source, dataset, "not in the embedded snapshot (no manifest entry)")
    try:
        content = entry.path.read_bytes()
    except FileNotFoundError:
        raise SourceError(source, dataset, f"snapshot file missing: {entry.path}") from None
    payload = Payload(
        source=source,
        dataset=dataset,
        url=entry.url,
        content=content,
        retrieved_at=entry.retrieved_at,
        mode="snapshot",
        as_of=entry.as_of,
        retrieved_from=entry.retrieved_from,
        provenance=entry.provenance,
    )
    if payload.sha256 != entry.sha256:
        raise SourceError(
            source, dataset, f"snapshot file {entry.path} does not match its manifest sha256"
        )
    return payload


def archive_payload(payload: Payload, root: Path) -> Path:
    """Keep the bytes of a live fetch as fetched, before any parsing, for reproducibility.

    ``<root>/<source>/<dataset>/<UTC timestamp>.bin`` plus a ``.json`` beside it with the URL,
    retrieval time and sha256, so a run can be replayed or a parser failure inspected.
    """
    stamp = payload.retrieved_at.strftime("%Y%m%dT%H%M%S%fZ")
    folder = root / payload.source / payload.dataset.replace("/", "_")
    folder.mkdir(parents=True, exist_ok=True)
    body = folder / f"{stamp}.bin"
    body.write_bytes(payload.content)
    meta = {
        "source": payload.source,
        "dataset": payload.dataset,
        "url": payload.url,
        "retrieved_from": payload.retrieved_from,
        "retrieved_at": payload.retrieved_at.isoformat(),
        "sha256": payload.sha256,
        "bytes": len(payload.content),
    }
    (folder / f"{stamp}.json").write_text(json.dumps(meta, indent=1) + "\n")
    return body


class Source:
    """A data source: subclasses set ``id`` and ``default_base_url`` and build their requests."""

    id: str = ""
    default_base_url: str = ""
    min_interval: float = 0.0  # polite spacing between live requests, seconds
    curated: bool = False  # no live API: always read the curated file in the snapshot

    def __init__(
        self,
        mode: str | None = None,
        *,
        snapshot_root: Path | None = None,
        archive_root: Path | None = None,
        http: HttpSettings | None = None,
        client: HttpClient | None = None,
    ) -> None:
        self.archive_root = archive_root
        self.requested_mode = mode or config.source_mode()
        if self.requested_mode not in config.SOURCE_MODES:
            raise config.ConfigError(
                f"source mode {self.requested_mode!r}: expected snapshot or live"
            )
        self.mode = "snapshot" if self.curated else self.requested_mode
        self.snapshot_root = snapshot_root
        self._http = http
        self._client = client

    @property
    def base_url(self) -> str:
        return config.base_url(self.id, self.default_base_url)

    @property
    def client(self) -> HttpClient:
        if self._client is None:
            self._client = HttpClient(
                self.id, self._http, min_interval=self.min_interval, headers=self.headers()
            )
        return self._client

    def headers(self) -> dict[str, str]:
        """Extra request headers (an API key, say); none by default."""
        return {}

    def split_available(self, datasets: list[str]) -> tuple[list[str], list[str]]:
        """(fetchable, missing): live mode can ask for anything; the snapshot has what it has.

        Callers report the missing ones (a gap in the embedded copy), never hide them.
        """
        return [d for d in datasets if self.available(d)], [
            d for d in datasets if not self.available(d)
        ]

    def available(self, dataset: str) -> bool:
        """Whether `dataset` can be had: always live, per the manifest in snapshot mode."""
        return self.mode == "live" or dataset in snapshot_entries(self.id, self.snapshot_root)

    def endpoint(self, path: str) -> str:
        """The live URL of a path (what a failure is recorded against)."""
        return self.base_url + path

    def new_batch(self, schemas: Mapping[str, Mapping[str, Any]]) -> Batch:
        return Batch(self.id, self.mode, dict(schemas))

    def batch(self) -> Batch:
        """Fetch and parse every dataset of this source; subclasses implement it."""
        raise NotImplementedError(f"source {self.id!r} does not implement batch()")

    def attempt(
        self,
        batch: Batch,
        dataset: str,
        tables: tuple[str, ...],
        url: str,
        work: Callable[[], DatasetResult],
        key: Mapping[str, object] | None = None,
    ) -> DatasetResult | None:
        """Run one dataset's fetch and parse; a failure is recorded and the others go on.

        A :class:`SourceError` (network, HTTP, a refused payload) becomes a
        :class:`DatasetFailure`. In live mode any other exception raised while parsing a
        payload counts as a refused payload too (its type and message, one line); in snapshot
        mode it propagates, because the embedded copy is altflow's own and must parse.
        """
        try:
            result = work()
        except SourceError as exc:
            reason, where = exc.reason, exc.url or url
        except config.ConfigError:
            raise  # a setting altflow cannot use fails the run, whatever the mode
        except Exception as exc:  # noqa: BLE001 - live payloads: isolate, never crash the run
            if self.requested_mode != "live":
                raise
            reason, where = f"payload refused: {type(exc).__name__}: {exc}", url
        else:
            batch.results.append(result)
            return result
        failure = DatasetFailure(self.id, dataset, where, " ".join(reason.split()), tables,
                                 dict(key or {}))
        LOG.warning("%s", failure.message)
        batch.failures.append(failure)
        return None

    def fetch(
        self, dataset: str, path: str, params: Mapping[str, str] | None = None
    ) -> Payload:
        """The dataset's payload: fetched live from base_url + path, or read from the snapshot."""
        if self.mode == "snapshot":
            return read_snapshot(self.id, dataset, self.snapshot_root)
        url = self.base_url + path
        response = self.client.get(url, dataset, params=params)
        payload = Payload(
            source=self.id,
            dataset=dataset,
            url=response.url,
            content=response.content,
            retrieved_at=datetime.now(UTC),
            mode="live",
        )
        if self.archive_root is not None:
            archive_payload(payload, self.archive_root)
        return payload
