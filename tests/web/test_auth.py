"""Without the token nothing answers: every page, file, API call and WebSocket of `deskhand serve`
refuses; with it, cross-site requests, foreign Host headers and foreign Origins still do."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from emulator.server import Emulator

from .server import Served, start_server, stop_server

PATHS = [
    "/",
    "/static/app.js",
    "/static/app.css",
    "/static/vendor/novnc/core/rfb.js",
    "/api/options",
    "/api/runs",
    "/api/runs/20260101-000000-abcdef/events",
    "/api/runs/20260101-000000-abcdef/report",
    "/api/runs/20260101-000000-abcdef/screenshots/0001-1.png",
    "/nothing-here",
]
POSTS = [
    "/api/runs",
    "/api/runs/x/stop",
    "/api/runs/x/takeover",
    "/api/runs/x/handback",
    "/api/runs/x/approvals/y",
]


@pytest.fixture(scope="module")
def served(emulator_server: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    running = start_server(emulator_server, Path(tmp_path_factory.mktemp("serve-auth")))
    try:
        yield running
    finally:
        stop_server(running)


def request(
    served: Served,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: str | None = None,
) -> http.client.HTTPResponse:
    parts = urlsplit(served.base)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    response.read()
    return response


def cookie(served: Served) -> str:
    port = urlsplit(served.base).port
    return f"deskhand_{port}={served.token}"


def test_without_the_token_every_endpoint_refuses(served: Served) -> None:
    for path in PATHS:
        assert request(served, "GET", path).status == 401, path
    for path in POSTS:
        answer = request(served, "POST", path, {"Content-Type": "application/json"}, "{}")
        assert answer.status == 401, path
    wrong = request(served, "GET", "/?token=" + "x" * len(served.token))
    assert wrong.status == 401
    forged = request(served, "GET", "/api/runs", {"Cookie": cookie(served)[:-2] + "xx"})
    assert forged.status == 401


def test_the_token_becomes_a_strict_http_only_cookie(served: Served) -> None:
    first = request(served, "GET", "/?token=" + served.token)
    assert first.status == 303 and first.getheader("Location") == "/"
    set_cookie = first.getheader("Set-Cookie") or ""
    assert set_cookie.startswith(cookie(served))
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    page = request(served, "GET", "/", {"Cookie": cookie(served)})
    assert page.status == 200
    csp = page.getheader("Content-Security-Policy") or ""
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    assert "frame-ancestors 'none'" in csp
    assert page.getheader("Access-Control-Allow-Origin") is None
    assert request(served, "GET", "/api/runs", {"Cookie": cookie(served)}).status == 200


def test_cross_site_and_foreign_host_requests_refuse(served: Served) -> None:
    with_cookie = {"Cookie": cookie(served), "Content-Type": "application/json"}
    body = '{"task": "x"}'
    # No CSRF header, or a foreign Origin: refused before anything runs.
    assert request(served, "POST", "/api/runs", with_cookie, body).status == 403
    evil = {**with_cookie, "Origin": "http://evil.example", "X-Deskhand": "1"}
    assert request(served, "POST", "/api/runs", evil, body).status == 403
    no_origin = {**with_cookie, "X-Deskhand": "1"}
    assert request(served, "POST", "/api/runs", no_origin, body).status == 403
    # DNS rebinding: a foreign Host header never reaches the app.
    rebound = {"Cookie": cookie(served), "Host": "evil.example"}
    assert request(served, "GET", "/api/runs", rebound).status == 421
    # The right origin and header pass authentication (and then the app validates the body).
    ok = {**with_cookie, "Origin": served.base, "X-Deskhand": "1"}
    assert request(served, "POST", "/api/runs", ok, '{"task": ""}').status == 422
    assert request(served, "OPTIONS", "/api/runs", {"Origin": "http://evil.example"}).status == 401


async def test_websockets_refuse_without_the_cookie_or_from_another_origin(
    served: Served,
) -> None:
    ws = served.base.replace("http://", "ws://")
    for path in ("/ws", "/ws/runs/20260101-000000-abcdef/vnc"):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(ws + path, origin=served.base):  # type: ignore[arg-type]
                pass
        assert refused.value.response.status_code in (401, 403), path
        with pytest.raises(InvalidStatus):
            async with connect(
                ws + path,
                origin="http://evil.example",  # type: ignore[arg-type]
                additional_headers={"Cookie": cookie(served)},
            ):
                pass
    async with connect(
        ws + "/ws",
        origin=served.base,  # type: ignore[arg-type]
        additional_headers={"Cookie": cookie(served)},
    ) as socket:
        assert '"hello"' in str(await socket.recv())
