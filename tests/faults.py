"""Shared fault fixtures: a raw local HTTP server that misbehaves the way real services do.

pytest-httpserver (werkzeug) answers well-formed HTTP; the faults that matter most for live
fetches happen below that: a connection reset in the middle of the body, a chunked body that
stops, a ``Content-Length`` never reached, a reply that comes too late. :class:`FaultServer`
speaks HTTP/1.1 over a plain socket and replies, per path, with scripted byte streams.

Usage (any source, ICI too)::

    with FaultServer() as server:
        server.route("/graph/fredgraph.csv", reset_mid_body(body), ok(body, "text/csv"))
        monkeypatch.setenv("ALTFLOW_FRED_BASE_URL", server.url)
        ...

Each route's replies are served in order; the last one repeats. A route is a path, or a
path with its exact query string (``/graph/fredgraph.csv?id=CPIAUCSL``), which wins.
Helpers build the replies: :func:`ok`, :func:`status` (5xx, 429 with Retry-After),
:func:`reset_mid_body`, :func:`chunked_cut`, :func:`short_body`, :func:`slow`,
:func:`html_challenge`; :func:`cut_at_line` / :func:`cut_json_array` make bodies cut at a
line or record boundary (complete lines, missing tail); :func:`fredgraph_csv`,
:func:`lbma_json` and :func:`coingecko_chart` make real-format bodies of realistic length.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import TracebackType


@dataclass(frozen=True)
class Reply:
    """Bytes to send, then how to end: close cleanly, or reset (RST) the connection."""

    data: bytes
    reset: bool = False
    delay: float = 0.0  # seconds before anything is sent (a read timeout)


def _head(code: int, reason: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {code} {reason}", *(f"{k}: {v}" for k, v in headers.items()),
             "Connection: close", "", ""]
    return "\r\n".join(lines).encode()


def ok(body: bytes | str, content_type: str = "application/json") -> Reply:
    data = body.encode() if isinstance(body, str) else body
    return Reply(_head(200, "OK", {"Content-Type": content_type,
                                   "Content-Length": str(len(data))}) + data)


def status(code: int, body: bytes | str = b"", retry_after: str | None = None,
           reason: str = "Error") -> Reply:
    data = body.encode() if isinstance(body, str) else body
    headers = {"Content-Type": "text/plain", "Content-Length": str(len(data))}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return Reply(_head(code, reason, headers) + data)


def reset_mid_body(body: bytes | str, fraction: float = 0.5) -> Reply:
    """Headers promising the whole body, part of it, then a TCP reset (ECONNRESET)."""
    data = body.encode() if isinstance(body, str) else body
    cut = max(1, int(len(data) * fraction))
    head = _head(200, "OK", {"Content-Type": "application/octet-stream",
                             "Content-Length": str(len(data))})
    return Reply(head + data[:cut], reset=True)


def short_body(body: bytes | str, fraction: float = 0.5) -> Reply:
    """Content-Length of the whole body, part of it, then a clean close (IncompleteRead)."""
    data = body.encode() if isinstance(body, str) else body
    head = _head(200, "OK", {"Content-Type": "application/octet-stream",
                             "Content-Length": str(len(data))})
    return Reply(head + data[: max(1, int(len(data) * fraction))])


def chunked_cut(body: bytes | str, fraction: float = 0.5) -> Reply:
    """A chunked body that stops before its terminating chunk (ChunkedEncodingError)."""
    data = body.encode() if isinstance(body, str) else body
    part = data[: max(1, int(len(data) * fraction))]
    head = _head(200, "OK", {"Content-Type": "application/octet-stream",
                             "Transfer-Encoding": "chunked"})
    return Reply(head + f"{len(part):x}\r\n".encode() + part + b"\r\n")


def slow(reply: Reply, delay: float) -> Reply:
    return Reply(reply.data, reply.reset, delay)


HTML_CHALLENGE = (
    "<!DOCTYPE html><html><head><title>Just a moment...</title></head>"
    "<body>Checking your browser before accessing the site.</body></html>"
)


def html_challenge() -> Reply:
    return ok(HTML_CHALLENGE, "text/html; charset=UTF-8")


def cut_at_line(body: bytes, keep_lines: int) -> bytes:
    """The first `keep_lines` lines, each complete: a cut at a line boundary."""
    return b"".join(body.splitlines(keepends=True)[:keep_lines])


def cut_json_array(records: list, keep: int) -> bytes:
    """A JSON array written one record a line and cut after `keep` complete records."""
    lines = "[\n" + ",\n".join(json.dumps(r) for r in records[:keep]) + ",\n"
    return lines.encode()


@dataclass
class FaultServer:
    """A local HTTP/1.1 server replying from scripts, one connection per request."""

    routes: dict[str, list[Reply]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._sock.getsockname()
        return f"http://{host}:{port}"

    def route(self, path: str, *replies: Reply) -> FaultServer:
        self.routes[path] = list(replies)
        return self

    def hits(self, path: str) -> int:
        return sum(1 for line in self.log if line.split("?")[0] == path)

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._sock.close()

    def _next(self, target: str) -> Reply:
        """The route for the full target (path?query) if scripted, else for its path."""
        with self._lock:
            replies = self.routes.get(target) or self.routes.get(target.split("?")[0])
            if not replies:
                return status(404, "no such path", reason="Not Found")
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        try:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                request += chunk
            target = request.split(b"\r\n", 1)[0].split(b" ")[1].decode()
            with self._lock:
                self.log.append(target)
            reply = self._next(target)
            if reply.delay:
                time.sleep(reply.delay)
            conn.sendall(reply.data)
            if reply.reset:  # SO_LINGER 0: close sends RST instead of FIN
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        finally:
            conn.close()


# --- bodies in the real services' formats, of realistic length --------------------------


def _months_back(end: date, n: int) -> list[date]:
    out, y, m = [], end.year, end.month
    for _ in range(n):
        out.append(date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def fredgraph_csv(series_id: str, end: date, periods: int, frequency: str = "monthly",
                  start: float = 100.0, step: float = 0.25, crlf: bool = False) -> bytes:
    """fredgraph.csv as FRED serves it: ``observation_date,<ID>``, one line per period.

    Dates are period starts (FRED's convention), ``end`` the last one; monthly, quarterly
    (every third month) or daily. Values are synthetic: start + i * step, 3 decimals.
    """
    if frequency == "daily":
        dates = [end - timedelta(days=i) for i in range(periods)][::-1]
    elif frequency == "quarterly":
        dates = _months_back(end, periods * 3)[2::3][-periods:]
    else:
        dates = _months_back(end, periods)
    newline = "\r\n" if crlf else "\n"
    lines = [f"observation_date,{series_id}"]
    lines += [f"{d.isoformat()},{start + i * step:.3f}" for i, d in enumerate(dates)]
    return (newline.join(lines) + newline).encode()


def lbma_json(end: date, days: int, usd: float = 2000.0) -> bytes:
    """An LBMA price file: one ``{"is_cms_locked": 0, "d", "v": [usd, gbp, eur]}`` per
    London business day (weekdays here) over the `days` calendar days ending `end`."""
    records = []
    for i in range(days, -1, -1):
        day = end - timedelta(days=i)
        if day.weekday() < 5:
            price = usd + (days - i) * 0.5
            records.append({"is_cms_locked": 0, "d": day.isoformat(),
                            "v": [round(price, 2), round(price * 0.79, 2),
                                  round(price * 0.92, 2)]})
    return json.dumps(records, separators=(",", ":")).encode()


def coingecko_chart(end: datetime, days: float, every: timedelta, price: float = 60000.0,
                    now_point: bool = True) -> bytes:
    """/coins/{id}/market_chart: ``prices``, ``market_caps``, ``total_volumes`` as [[ms, v]],
    one point every `every` (a day, an hour, 5 minutes) back from `end` (UTC), plus the
    value "now" a little after `end` as CoinGecko appends it."""
    start = end - timedelta(days=days)
    stamps = []
    at = start
    while at <= end:
        stamps.append(at)
        at += every
    if now_point:
        stamps.append(end + every / 3)

    def ms(t: datetime) -> int:
        return int(t.replace(tzinfo=UTC).timestamp() * 1000)
    prices = [[ms(t), price + i] for i, t in enumerate(stamps)]
    caps = [[ms(t), (price + i) * 19.9e6] for i, t in enumerate(stamps)]
    volumes = [[ms(t), 3.1e10 + i] for i, t in enumerate(stamps)]
    return json.dumps({"prices": prices, "market_caps": caps,
                       "total_volumes": volumes}).encode()
