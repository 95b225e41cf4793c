"""HTTP fetching with requests: timeouts, retries with backoff, Retry-After, polite spacing.

Every live fetch in altflow goes through :class:`HttpClient`, so the retry policy and the
error messages are the same for every source.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import requests

from altflow import __version__
from altflow.config import HttpSettings
from altflow.sources.errors import SourceError

USER_AGENT = f"altflow/{__version__} (retirement-flow research pipeline; python-requests)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 120.0


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Parse a Retry-After header: delta-seconds or an HTTP date. None if absent or unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class HttpClient:
    """A requests Session for one source, retrying transient faults (5xx, 429, timeouts)."""

    def __init__(
        self,
        source: str,
        settings: HttpSettings | None = None,
        *,
        min_interval: float = 0.0,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.source = source
        self.settings = settings or HttpSettings.from_env()
        self.min_interval = min_interval
        self._sleep = sleep
        self._last_request = 0.0
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, **(headers or {})})

    def _space_requests(self) -> None:
        wait = self._last_request + self.min_interval - time.monotonic()
        if wait > 0:
            self._sleep(wait)
        self._last_request = time.monotonic()

    def _delay(self, attempt: int, response: requests.Response | None) -> float:
        if response is not None:
            hinted = retry_after_seconds(response.headers.get("Retry-After"))
            if hinted is not None:
                return min(hinted, MAX_RETRY_AFTER_S)
        return self.settings.backoff * (2**attempt) * (1 + random.random() / 4)

    def get(
        self,
        url: str,
        dataset: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """GET url; return the 2xx response or raise SourceError naming source and dataset."""
        attempts = self.settings.retries + 1
        timeout = (self.settings.connect_timeout, self.settings.timeout)
        last_problem = ""
        for attempt in range(attempts):
            self._space_requests()
            response = None
            try:
                response = self.session.get(url, params=params, headers=headers, timeout=timeout)
            except requests.Timeout:
                last_problem = f"timed out after {self.settings.timeout:g} s ({url})"
            except requests.ConnectionError as exc:
                last_problem = f"connection failed ({url}): {type(exc).__name__}"
            else:
                if response.status_code < 400:
                    return response
                last_problem = f"HTTP {response.status_code} {response.reason or ''} for {url}"
                if response.status_code not in RETRY_STATUSES:
                    raise SourceError(
                        self.source, dataset, last_problem, status=response.status_code
                    )
            if attempt + 1 < attempts:
                self._sleep(self._delay(attempt, response))
        raise SourceError(
            self.source, dataset, f"{last_problem.strip()} (gave up after {attempts} attempts)"
        )
