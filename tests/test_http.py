"""The shared HTTP client against a local server: retries, Retry-After, timeouts, errors."""

from __future__ import annotations

import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from altflow.config import HttpSettings
from altflow.sources.errors import SourceError
from altflow.sources.http import USER_AGENT, HttpClient


def client(retries: int = 3, timeout: float = 2.0, sleeps: list[float] | None = None) -> HttpClient:
    record = sleeps if sleeps is not None else []
    return HttpClient(
        "test",
        HttpSettings(timeout=timeout, connect_timeout=timeout, retries=retries, backoff=0.01),
        sleep=record.append,
    )


def test_5xx_is_retried_then_succeeds(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/x").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/x").respond_with_data("ok", status=200)
    sleeps: list[float] = []
    response = client(sleeps=sleeps).get(httpserver.url_for("/x"), "ds")
    assert response.text == "ok"
    assert len(sleeps) == 1 and sleeps[0] < 1


def test_429_waits_for_retry_after(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/x").respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "17"})
    )
    httpserver.expect_ordered_request("/x").respond_with_data("ok")
    sleeps: list[float] = []
    assert client(sleeps=sleeps).get(httpserver.url_for("/x"), "ds").text == "ok"
    assert sleeps == [17.0]


def test_gives_up_after_retries_with_one_line_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/x").respond_with_data("down", status=502)
    with pytest.raises(SourceError) as err:
        client(retries=2).get(httpserver.url_for("/x"), "ds")
    message = str(err.value)
    assert message.startswith("test ds: HTTP 502")
    assert "gave up after 3 attempts" in message and "\n" not in message
    assert len(httpserver.log) == 3


def test_404_is_not_retried(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/x").respond_with_data("nope", status=404)
    with pytest.raises(SourceError, match=r"test ds: HTTP 404 .* for http://"):
        client().get(httpserver.url_for("/x"), "ds")
    assert len(httpserver.log) == 1


def test_timeout_is_retried_and_reported(httpserver: HTTPServer) -> None:
    def slow(_request):  # noqa: ANN001, ANN202
        time.sleep(0.5)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    with pytest.raises(SourceError, match="timed out after 0.2 s"):
        client(retries=1, timeout=0.2).get(httpserver.url_for("/slow"), "ds")


def test_sends_descriptive_user_agent(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/ua", headers={"User-Agent": USER_AGENT}).respond_with_data("ok")
    assert client().get(httpserver.url_for("/ua"), "ds").text == "ok"
    assert USER_AGENT.startswith("altflow/")


def test_client_errors_carry_their_status(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/gone").respond_with_data("gone", status=410)
    with pytest.raises(SourceError) as err:
        client().get(httpserver.url_for("/gone"), "ds")
    assert err.value.status == 410


def test_retry_after_as_an_http_date_is_honoured(httpserver: HTTPServer) -> None:
    import email.utils

    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    httpserver.expect_ordered_request("/x").respond_with_response(
        Response("busy", status=503, headers={"Retry-After": when})
    )
    httpserver.expect_ordered_request("/x").respond_with_data("ok")
    sleeps: list[float] = []
    assert client(sleeps=sleeps).get(httpserver.url_for("/x"), "ds").text == "ok"
    assert len(sleeps) == 1 and 27 <= sleeps[0] <= 31


def test_each_retry_is_logged_on_the_altflow_sources_logger(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    httpserver.expect_ordered_request("/x").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/x").respond_with_data("busy", status=500)
    httpserver.expect_ordered_request("/x").respond_with_data("ok")
    with caplog.at_level(logging.WARNING, logger="altflow.sources"):
        assert client(retries=3).get(httpserver.url_for("/x"), "ds").text == "ok"
    lines = [r.getMessage() for r in caplog.records if r.name == "altflow.sources"]
    assert [line.split(" in ")[0] for line in lines] == [
        "test ds: retrying (attempt 2/4)", "test ds: retrying (attempt 3/4)"
    ]
    assert lines[0].endswith(": HTTP 503") and lines[1].endswith(": HTTP 500")
    assert not [r for r in caplog.records if r.name.startswith("urllib3")]


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_host_that_cannot_be_reached_is_not_tried_again(httpserver: HTTPServer) -> None:
    """Offline, each dataset spent its whole retry budget (5 attempts, ~20 s) on the same
    unreachable host: a live run took minutes to say so. Now the second dataset fails at once,
    naming the first failure; another host is still tried."""
    sleeps: list[float] = []
    c = client(retries=2, sleeps=sleeps)
    dead = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(SourceError, match=r"test a: connection failed .*gave up after 3"):
        c.get(f"{dead}/a", "a")
    assert len(sleeps) == 2
    with pytest.raises(SourceError) as err:
        c.get(f"{dead}/b", "b")
    assert str(err.value).startswith(f"test b: not tried: {dead.removeprefix('http://')} could"
                                     " not be reached for an earlier dataset (connection failed")
    assert len(sleeps) == 2  # no attempt, no wait
    httpserver.expect_request("/ok").respond_with_data("ok")
    assert c.get(httpserver.url_for("/ok"), "ok").text == "ok"


def test_a_host_that_answers_badly_is_still_tried(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/a").respond_with_data("down", status=502)
    httpserver.expect_ordered_request("/a").respond_with_data("down", status=502)
    httpserver.expect_ordered_request("/b").respond_with_data("ok")
    c = client(retries=1)
    with pytest.raises(SourceError, match="HTTP 502"):
        c.get(httpserver.url_for("/a"), "a")
    assert c.get(httpserver.url_for("/b"), "b").text == "ok"
