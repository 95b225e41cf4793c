"""HTTP fetching with requests: timeouts, retries with backoff, Retry-After, polite spacing.

Every live fetch in altflow goes through :class:`HttpClient`, so the retry policy and the
error messages are the same for every source. One retry budget per request
(``ALTFLOW_HTTP_RETRIES`` retries, so retries + 1 attempts) covers every transient fault:

* connection refused or reset, a timeout before the response, HTTP 429 and 5xx: retried by
  urllib3's :class:`~urllib3.util.Retry` mounted on the session (the maintained retry
  logic), honouring ``Retry-After`` up to :data:`MAX_RETRY_AFTER_S`;
* a body that breaks while it is read (connection reset mid-body, a chunked body cut short,
  a ``Content-Length`` not reached, a timeout mid-body, a corrupt gzip stream): urllib3 has
  already handed the response to requests by then, so it cannot retry these; one small loop
  here retries them from the same budget.

Every wait is logged at WARNING on the ``altflow.sources`` logger ("fred CPIAUCSL: retrying
(attempt 2/5) in 1.0 s: HTTP 503"), so the CLI can show progress; after the last attempt
one :class:`SourceError` line names source, dataset and reason.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, ProtocolError, ReadTimeoutError
from urllib3.util.retry import Retry

from altflow import __version__
from altflow.config import HttpSettings
from altflow.sources.errors import SourceError

USER_AGENT = f"altflow/{__version__} (retirement-flow research pipeline; python-requests)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 120.0
LOG = logging.getLogger("altflow.sources")
# urllib3 logs each retry at WARNING with a repr of its Retry object; altflow logs its own
# one-line "retrying" message instead, so keep urllib3's pool quiet below ERROR.
logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)

# Errors raised by requests while it reads the body (after urllib3 returned the response).
BODY_ERRORS = (
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    requests.exceptions.ConnectionError,
)


def _innermost(exc: BaseException) -> BaseException:
    """The transport error under requests' and urllib3's wrappers."""
    inner = exc
    for _ in range(6):  # unwrap MaxRetryError / requests wrappers
        if isinstance(inner, MaxRetryError) and inner.reason is not None:
            inner = inner.reason
        elif isinstance(inner, requests.RequestException | ProtocolError) and any(
            isinstance(a, BaseException) for a in inner.args
        ):
            inner = next(a for a in inner.args if isinstance(a, BaseException))
        else:
            break
    return inner


def _describe(exc: BaseException, timeout: float, url: str) -> str:
    """One phrase for a transport failure, whatever layer wrapped it."""
    inner = _innermost(exc)
    if isinstance(exc, requests.Timeout) or isinstance(inner, ReadTimeoutError | TimeoutError):
        return f"timed out after {timeout:g} s ({url})"
    if "timed out" in str(inner).lower():
        return f"timed out after {timeout:g} s ({url})"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError) or isinstance(
        inner, ConnectionResetError
    ) or "incompleteread" in type(inner).__name__.lower() or "broken" in str(inner).lower():
        return f"connection broken while reading the body ({url}): {type(inner).__name__}"
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return f"corrupt compressed body ({url})"
    return f"connection failed ({url}): {type(inner).__name__}"


class _LoggedRetry(Retry):
    """urllib3's Retry, sleeping through the client's sleep and logging each wait."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client: HttpClient | None = None
        self.dataset = ""
        self.target = ""  # the full URL requested (urllib3's history has only the path)
        self.offset = 0  # attempts used before this urlopen (body-error retries)

    def new(self, **kw: Any) -> _LoggedRetry:
        retry = super().new(**kw)
        retry.client, retry.dataset, retry.offset = self.client, self.dataset, self.offset
        retry.target = self.target
        return retry

    def sleep(self, response: Any = None) -> None:
        client = self.client
        if client is None:  # not bound to a client: plain urllib3 behaviour
            super().sleep(response)
            return
        hinted = self.get_retry_after(response) if response is not None else None
        failed = self.offset + len(self.history)
        last = self.history[-1] if self.history else None
        if last is not None and last.status:
            why = f"HTTP {last.status}"
        elif last is not None and last.error is not None:
            why = _describe(last.error, client.settings.timeout, self.target or last.url or "")
        else:
            why = "transient fault"
        client.wait(self.dataset, failed, hinted, why)


class HttpClient:
    """A requests Session for one source, retrying transient faults (5xx, 429, timeouts, resets)."""

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
        self._adapters: dict[int, HTTPAdapter] = {}
        # host -> why no connection could be made to it (after a request's every attempt)
        self._unreachable: dict[str, str] = {}
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, **(headers or {})})

    @property
    def attempts(self) -> int:
        return self.settings.retries + 1

    def _retry(self, dataset: str, used: int, url: str) -> _LoggedRetry:
        left = self.attempts - 1 - used
        retry = _LoggedRetry(
            total=left,
            connect=left,
            read=left,
            status=left,
            other=0,
            allowed_methods=frozenset({"GET"}),
            status_forcelist=RETRY_STATUSES,
            respect_retry_after_header=True,
            retry_after_max=MAX_RETRY_AFTER_S,
            raise_on_status=False,
        )
        retry.client, retry.dataset, retry.offset, retry.target = self, dataset, used, url
        return retry

    def _mount(self, dataset: str, used: int, url: str) -> None:
        """Mount the adapter whose Retry has the budget left, labelled for this request.

        One adapter per remaining budget (normally just the full one), so connections are
        pooled across a source's requests; the client is used by one step at a time.
        """
        left = self.attempts - 1 - used
        adapter = self._adapters.get(left)
        if adapter is None:
            adapter = self._adapters[left] = HTTPAdapter(max_retries=self._retry(dataset, used,
                                                                                 url))
        retry = adapter.max_retries
        retry.client, retry.dataset, retry.offset, retry.target = self, dataset, used, url
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def _space_requests(self) -> None:
        wait = self._last_request + self.min_interval - time.monotonic()
        if wait > 0:
            self._sleep(wait)
        self._last_request = time.monotonic()

    def backoff(self, failed: int) -> float:
        """Exponential backoff with a little jitter: ~backoff, 2x, 4x ... seconds."""
        return self.settings.backoff * (2 ** max(0, failed - 1)) * (1 + random.random() / 4)

    def wait(self, dataset: str, failed: int, hinted: float | None, why: str) -> None:
        """Sleep before attempt `failed` + 1 (Retry-After wins, capped) and say so."""
        delay = min(hinted, MAX_RETRY_AFTER_S) if hinted is not None else self.backoff(failed)
        delay = max(delay, self.min_interval)
        LOG.warning(
            "%s %s: retrying (attempt %d/%d) in %.1f s: %s",
            self.source, dataset, failed + 1, self.attempts, delay, why,
        )
        self._sleep(delay)
        self._last_request = time.monotonic()

    def get(
        self,
        url: str,
        dataset: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """GET url; return the 2xx response or raise SourceError naming source and dataset.

        A host that could not be connected to at all (name not resolved, connection refused
        or timed out, on every attempt of an earlier request) is not tried again by this
        client: offline, a source's other datasets fail at once instead of each spending
        its retries (minutes for a run). A host that answers badly is still tried.
        """
        host = urlsplit(url).netloc
        if host in self._unreachable:
            raise SourceError(
                self.source, dataset,
                f"not tried: {host} could not be reached for an earlier dataset"
                f" ({self._unreachable[host]})", url=url,
            )
        timeout = (self.settings.connect_timeout, self.settings.timeout)
        used = 0  # attempts spent so far
        while True:
            self._mount(dataset, used, url)
            self._space_requests()
            response: requests.Response | None = None
            try:
                response = self.session.get(
                    url, params=params, headers=headers, timeout=timeout, stream=True
                )
                history = response.raw.retries.history if response.raw.retries else ()
                used += len(history) + 1
                response.content  # noqa: B018 - read the body now, inside the retry loop
            except BODY_ERRORS as exc:
                if response is None:  # urllib3 gave up before any response: budget spent
                    problem = _describe(exc, self.settings.timeout, url)
                    if isinstance(_innermost(exc), ConnectTimeoutError):  # also DNS, refused
                        self._unreachable[host] = problem
                    raise self._give_up(dataset, problem, url) from None
                problem = _describe(exc, self.settings.timeout, response.url)
                response.close()
                if used >= self.attempts:
                    raise self._give_up(dataset, problem, response.url) from None
                self.wait(dataset, used, None, problem)
                continue
            except requests.Timeout as exc:
                raise self._give_up(
                    dataset, _describe(exc, self.settings.timeout, url), url
                ) from None
            except requests.RequestException as exc:
                raise SourceError(
                    self.source, dataset, f"request failed ({url}): {type(exc).__name__}", url=url
                ) from None
            if response.status_code < 400:
                return response
            problem = f"HTTP {response.status_code} {response.reason or ''} for {response.url}"
            if response.status_code in RETRY_STATUSES:
                raise self._give_up(dataset, problem, response.url, response.status_code)
            raise SourceError(
                self.source, dataset, problem, status=response.status_code, url=response.url
            )

    def _give_up(
        self, dataset: str, problem: str, url: str, status: int | None = None
    ) -> SourceError:
        return SourceError(
            self.source,
            dataset,
            f"{problem.strip()} (gave up after {self.attempts} attempts)",
            status=status,
            url=url,
        )
