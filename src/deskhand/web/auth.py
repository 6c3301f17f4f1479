"""Who may talk to `deskhand serve`: only the browser that opened the printed URL.

* The URL carries a random token (256 bits). The first visit trades it for an HttpOnly,
  SameSite=Strict cookie (named after the port: cookies do not separate ports) and redirects to
  a URL without it, so the token leaves the address bar and the history.
* Every HTTP request and every WebSocket needs that cookie; otherwise 401 (HTTP) or 403 (the
  WebSocket is refused before it opens).
* The Host header must name the server itself (no DNS rebinding), and requests that change
  something (POST...) and every WebSocket must come from the page's own origin (Origin header),
  and state-changing requests must also carry the `X-Deskhand: 1` header, which a cross-site
  form cannot send. There is no CORS at all, so no other origin can read an answer.
* Every answer carries a strict content-security policy (scripts only from the app's own
  files), no framing, no referrer, no sniffing.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_HEADER = b"x-deskhand"


def new_token() -> str:
    return secrets.token_urlsafe(32)


class TokenAuth:
    """ASGI middleware in front of the whole app (HTTP and WebSocket)."""

    def __init__(self, app: ASGIApp, token: str, hosts: set[str], port: int) -> None:
        self.app = app
        self.token = token
        self.hosts = hosts  # acceptable Host header values, e.g. {"127.0.0.1:8765"}
        self.port = port
        self.cookie = f"deskhand_{port}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        host = headers.get(b"host", b"").decode("latin-1")
        if host not in self.hosts:
            await self._refuse(scope, send, 421, "unknown host")
            return
        origin = headers.get(b"origin")
        same_origin = origin is not None and origin.decode("latin-1") in {
            f"http://{h}" for h in self.hosts
        }
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == "/":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = query.get("token", [""])[0]
            if given:
                if self._valid(given):
                    await self._set_cookie(send)
                else:
                    await self._refuse(scope, send, 401, "wrong token")
                return
        if not self._valid(self._cookie_of(headers)):
            await self._refuse(
                scope,
                send,
                401,
                "Open the URL that `deskhand serve` printed (it carries the access token).",
            )
            return
        if scope["type"] == "websocket":
            if not same_origin:
                await self._refuse(scope, send, 403, "cross-origin WebSocket")
                return
        elif scope["method"] not in SAFE_METHODS and (
            not same_origin or headers.get(CSRF_HEADER) != b"1"
        ):
            await self._refuse(scope, send, 403, "cross-site request refused")
            return
        await self.app(scope, receive, _with_headers(send))

    def _valid(self, given: str) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    def _cookie_of(self, headers: dict[bytes, bytes]) -> str:
        raw = headers.get(b"cookie")
        if not raw:
            return ""
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(raw.decode("latin-1"))
        except Exception:
            return ""
        morsel = jar.get(self.cookie)
        return morsel.value if morsel else ""

    async def _set_cookie(self, send: Send) -> None:
        cookie = f"{self.cookie}={self.token}; Path=/; HttpOnly; SameSite=Strict"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    (b"location", b"/"),
                    (b"set-cookie", cookie.encode()),
                    (b"cache-control", b"no-store"),
                    *SECURITY_HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    async def _refuse(self, scope: Scope, send: Send, status: int, why: str) -> None:
        if scope["type"] == "websocket":
            # Closing before accepting makes the server answer the handshake with 403.
            await send({"type": "websocket.close", "code": 1008, "reason": why[:100]})
            return
        body = f"{status}: {why}\n".encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                    *SECURITY_HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _with_headers(send: Send) -> Send:
    """Add the security headers to every HTTP answer that does not set its own CSP."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            names = {name.lower() for name, _ in headers}
            headers += [(k, v) for k, v in SECURITY_HEADERS if k not in names]
            if b"cache-control" not in names:
                headers.append((b"cache-control", b"no-store"))
            message = {**message, "headers": headers}
        await send(message)

    return wrapped
