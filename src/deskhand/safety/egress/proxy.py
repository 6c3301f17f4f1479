"""The egress proxy: an HTTP proxy on the host that lets the sandbox reach allowed hosts only.

It listens on a Unix socket in the desktop's sockets folder (mode 0600), which the sandbox sees
at /run/deskhand/egress.sock; inside, the guest relays 127.0.0.1:3128 to it. The sandbox has
no other network: a program that ignores the proxy settings has no route anywhere.

For each request (CONNECT for HTTPS, absolute-form ``GET http://host/...`` for plain HTTP):

1. parse strictly (400 for anything malformed or ambiguous, 431 for oversized headers);
2. normalise the host and check host and port against the rules (403 otherwise);
3. resolve the name once and check every address (loopback, private, metadata... are refused
   unless listed exactly);
4. connect to exactly an address that was checked: a second lookup never happens, so DNS
   rebinding cannot swap the address between check and use.

Redirects are never followed here: the client follows them, and every hop comes back through
the proxy. Each decision is reported as an `EgressDecision` (to a callback and an in-memory
list). There is no fallback: when the proxy stops, every connection fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from deskhand.safety.egress.rules import (
    EgressRules,
    Host,
    HostError,
    IPAddress,
    normalize_host,
)

log = logging.getLogger("deskhand.egress")

Resolver = Callable[[str], Awaitable[Sequence[IPAddress | str]]]
DecisionCallback = Callable[["EgressDecision"], None]

MAX_HEADER_BYTES = 32 * 1024
MAX_HEADERS = 100
CHUNK = 64 * 1024
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_METHOD = re.compile(r"[A-Z]{1,20}")
_PORT = re.compile(r"[0-9]{1,5}")
_CTL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Headers that belong to one connection (RFC 9110 7.6.1) or to the proxy itself.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "upgrade",
    }
)


@dataclass(frozen=True)
class EgressDecision:
    """One request the proxy allowed or refused; allowed ones carry the bytes moved."""

    time: float
    method: str
    host: str
    port: int | None
    address: str | None
    allowed: bool
    reason: str
    bytes_up: int = 0
    bytes_down: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Refused(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


class _Idle(Exception):
    pass


_PHRASES = {
    400: "Bad Request",
    403: "Forbidden",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
    502: "Bad Gateway",
    504: "Gateway Timeout",
}


async def system_resolver(name: str) -> list[IPAddress]:
    """The host's resolver (getaddrinfo), asked once per request."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for family, _, _, _, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if ip not in addresses:
                addresses.append(ip)
    return addresses


def static_resolver(table: Mapping[str, Sequence[str]]) -> Resolver:
    """A resolver answering from a table (tests, or pinned names); unknown names fail."""

    async def resolve(name: str) -> list[IPAddress]:
        if name not in table:
            raise socket.gaierror(socket.EAI_NONAME, f"{name} is not in the table")
        return [ipaddress.ip_address(value) for value in table[name]]

    return resolve


@dataclass
class _Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name]


@dataclass
class _Flow:
    """What one connection has done so far (for the decision record)."""

    method: str = "-"
    host: str = ""
    port: int | None = None
    address: str | None = None
    up: int = 0
    down: int = 0
    last_activity: float = 0.0


class EgressProxy:
    """An allowlisting HTTP proxy on a Unix socket. `start()`, then `stop()` (or `async with`)."""

    def __init__(
        self,
        rules: EgressRules,
        socket_path: Path,
        *,
        resolver: Resolver | None = None,
        on_decision: DecisionCallback | None = None,
        connect_timeout: float = 10.0,
        idle_timeout: float = 120.0,
        header_timeout: float = 30.0,
        max_header_bytes: int = MAX_HEADER_BYTES,
    ) -> None:
        self.rules = rules
        self.socket_path = socket_path
        self.resolver: Resolver = resolver or system_resolver
        self.on_decision = on_decision
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self.header_timeout = header_timeout
        self.max_header_bytes = max_header_bytes
        self.decisions: list[EgressDecision] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self.socket_path.unlink(missing_ok=True)
        self._server = await asyncio.start_unix_server(
            self._handle, self.socket_path, limit=self.max_header_bytes
        )
        self.socket_path.chmod(0o600)

    async def stop(self) -> None:
        """Stop accepting, cut every open connection, remove the socket."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._server = None
        self.socket_path.unlink(missing_ok=True)

    async def __aenter__(self) -> EgressProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- one connection ---------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        flow = _Flow()
        try:
            await self._serve(reader, writer, flow)
        except _Refused as refusal:
            self._record(flow, False, refusal.error)
            with contextlib.suppress(Exception):
                await _reply(writer, refusal.status, refusal.error, refusal.message)
        except asyncio.CancelledError:
            if flow.address is not None:
                self._record(flow, True, "closed-by-proxy")
            raise
        except Exception:
            log.exception("egress proxy: unexpected error")
            self._record(flow, False, "internal-error")
        finally:
            writer.close()
            self._tasks.discard(task)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, flow: _Flow
    ) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.header_timeout)
        except (asyncio.LimitOverrunError, ValueError):
            raise _Refused(431, "header-too-large", "request headers too large") from None
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                return  # connected and closed: nothing to decide
            raise _Refused(400, "bad-request", "incomplete request") from None
        except TimeoutError:
            raise _Refused(408, "header-timeout", "no complete request in time") from None
        request = _parse_head(head)
        flow.method = request.method
        if request.method == "CONNECT":
            await self._tunnel(request, reader, writer, flow)
        elif request.target[:7].lower() == "http://":
            await self._forward(request, reader, writer, flow)
        elif request.target[:8].lower() == "https://":
            raise _Refused(400, "bad-request", "use CONNECT for https:// URLs")
        else:
            raise _Refused(400, "bad-request", "not a proxy request (absolute URL or CONNECT)")

    async def _admit(self, host: Host, port: int, flow: _Flow) -> list[IPAddress]:
        """Check host and port, resolve once, check every address; the addresses to use."""
        flow.host, flow.port = host.name, port
        verdict = self.rules.check(host, port)
        if not verdict.allowed:
            raise _Refused(403, verdict.reason, f"{host.name}:{port} is not allowed")
        if host.ip is not None:
            addresses: list[IPAddress] = [host.ip]
        else:
            try:
                answer = await asyncio.wait_for(self.resolver(host.name), self.connect_timeout)
                addresses = [ipaddress.ip_address(a) for a in answer]
            except (OSError, ValueError, TimeoutError):
                raise _Refused(502, "dns-failure", f"cannot resolve {host.name}") from None
            if not addresses:
                raise _Refused(502, "dns-failure", f"{host.name} has no addresses")
        for ip in addresses:
            check = self.rules.check_address(ip)
            if not check.allowed:
                flow.address = str(ip)
                raise _Refused(403, check.reason, f"{host.name} resolves to a forbidden address")
        return addresses

    async def _connect(
        self, addresses: list[IPAddress], port: int, flow: _Flow
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Connect to one of the checked addresses (numeric: no second lookup)."""
        loop = asyncio.get_running_loop()
        for ip in addresses:
            family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            flow.address = str(ip)
            try:
                await asyncio.wait_for(
                    loop.sock_connect(sock, (str(ip), port)), self.connect_timeout
                )
            except (OSError, TimeoutError):
                sock.close()
                continue
            return await asyncio.open_connection(sock=sock, limit=self.max_header_bytes)
        raise _Refused(502, "connect-failed", f"cannot connect to {flow.host}:{port}")

    async def _tunnel(
        self,
        request: _Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        flow: _Flow,
    ) -> None:
        host, port = _parse_authority(request.target, None)
        _check_host_header(request, host, port, flow)
        addresses = await self._admit(host, port, flow)
        upstream = await self._connect(addresses, port, flow)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        try:
            await self._splice((reader, writer), upstream, flow)
        finally:
            upstream[1].close()
        self._record(flow, True, "allowed")

    async def _forward(
        self,
        request: _Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        flow: _Flow,
    ) -> None:
        """One plain-HTTP request: origin-form upstream, `Connection: close`, then the answer."""
        host, port, path = _parse_http_url(request.target)
        _check_host_header(request, host, port, flow)
        body = _body_framing(request)
        addresses = await self._admit(host, port, flow)
        upstream_reader, upstream_writer = await self._connect(addresses, port, flow)
        try:
            head = _rewrite_head(request, host, port, path)
            upstream_writer.write(head)
            flow.up += len(head)
            flow.last_activity = time.monotonic()
            await self._exchange(reader, writer, upstream_reader, upstream_writer, body, flow)
        finally:
            upstream_writer.close()
        self._record(flow, True, "allowed")

    # -- moving bytes -----------------------------------------------------------------------

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        flow: _Flow,
        upward: bool,
        limit: int | None = None,
    ) -> None:
        """Copy until end of file (then half-close) or `limit` bytes; idle = no traffic in
        either direction for idle_timeout."""
        remaining = limit
        while remaining is None or remaining > 0:
            size = CHUNK if remaining is None else min(CHUNK, remaining)
            try:
                chunk = await asyncio.wait_for(reader.read(size), self.idle_timeout)
            except TimeoutError:
                if time.monotonic() - flow.last_activity >= self.idle_timeout:
                    raise _Idle from None
                continue
            if not chunk:
                if limit is not None:
                    raise ConnectionError("request body ended early")
                if writer.can_write_eof():
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                return
            flow.last_activity = time.monotonic()
            if upward:
                flow.up += len(chunk)
            else:
                flow.down += len(chunk)
            if remaining is not None:
                remaining -= len(chunk)
            writer.write(chunk)
            await writer.drain()

    async def _splice(
        self,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        flow: _Flow,
    ) -> None:
        flow.last_activity = time.monotonic()
        await self._both(
            self._pump(client[0], upstream[1], flow, upward=True),
            self._pump(upstream[0], client[1], flow, upward=False),
        )

    async def _exchange(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream_reader: asyncio.StreamReader,
        upstream_writer: asyncio.StreamWriter,
        body: tuple[str, int],
        flow: _Flow,
    ) -> None:
        async def send_body() -> None:
            kind, length = body
            if kind == "length":
                await self._pump(reader, upstream_writer, flow, upward=True, limit=length)
            elif kind == "chunked":
                await self._send_chunked(reader, upstream_writer, flow)
            await upstream_writer.drain()
            # One request per connection: anything more the client sends ends it.
            await reader.read(1)

        receive = self._pump(upstream_reader, writer, flow, upward=False)
        await self._both(send_body(), receive, first=True)

    async def _send_chunked(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, flow: _Flow
    ) -> None:
        while True:
            line = await reader.readuntil(b"\r\n")
            size_text = line[:-2].split(b";", 1)[0].strip()
            if not size_text or not re.fullmatch(rb"[0-9a-fA-F]{1,8}", size_text):
                raise ConnectionError("bad chunk size")
            size = int(size_text, 16)
            writer.write(line)
            flow.up += len(line)
            if size == 0:
                while True:  # trailers, up to the empty line
                    trailer = await reader.readuntil(b"\r\n")
                    writer.write(trailer)
                    flow.up += len(trailer)
                    if trailer == b"\r\n":
                        return
            await self._pump(reader, writer, flow, upward=True, limit=size + 2)

    async def _both(
        self, first_coro: Awaitable[None], second_coro: Awaitable[None], first: bool = False
    ) -> None:
        """Run two copy loops; stop at the first error (or when either ends, if `first`)."""
        tasks = [asyncio.ensure_future(first_coro), asyncio.ensure_future(second_coro)]
        try:
            mode = asyncio.FIRST_COMPLETED if first else asyncio.FIRST_EXCEPTION
            await asyncio.wait(tasks, return_when=mode)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def _record(self, flow: _Flow, allowed: bool, reason: str) -> None:
        decision = EgressDecision(
            time.time(),
            flow.method,
            flow.host,
            flow.port,
            flow.address,
            allowed,
            reason,
            flow.up,
            flow.down,
        )
        self.decisions.append(decision)
        log.info("egress %s %s:%s -> %s", reason, decision.host, decision.port, decision.address)
        if self.on_decision is not None:
            try:
                self.on_decision(decision)
            except Exception:
                log.exception("egress decision callback failed")


# -- parsing ----------------------------------------------------------------------------------


def _parse_head(head: bytes) -> _Request:
    text = head[:-4].decode("latin-1")
    lines = text.split("\r\n")
    if any(_CTL.search(line) for line in lines):
        raise _Refused(400, "bad-request", "control characters in the request head")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise _Refused(400, "bad-request", "malformed request line")
    method, target, version = parts
    if not _METHOD.fullmatch(method) or version not in ("HTTP/1.1", "HTTP/1.0"):
        raise _Refused(400, "bad-request", "malformed request line")
    if not target.isascii() or not target:
        raise _Refused(400, "bad-request", "request target must be ASCII")
    if len(lines) - 1 > MAX_HEADERS:
        raise _Refused(431, "header-too-large", "too many headers")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise _Refused(400, "bad-request", "malformed header line")
        headers.append((name, value.strip(" \t")))
    return _Request(method, target, version, headers)


def _parse_authority(text: str, default_port: int | None) -> tuple[Host, int]:
    """``host:port`` (``[v6]:port``) with the port required unless a default is given."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise _Refused(400, "bad-request", "unbalanced brackets in the host")
        host_text, rest = text[: end + 1], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise _Refused(400, "bad-request", "malformed authority")
        port_text: str | None = rest[1:] if rest else None
    elif text.count(":") > 1:
        raise _Refused(400, "bad-request", "IPv6 addresses must be in brackets")
    elif ":" in text:
        host_text, _, port_text = text.partition(":")
    else:
        host_text, port_text = text, None
    if port_text is None:
        if default_port is None:
            raise _Refused(400, "bad-request", "CONNECT needs host:port")
        port = default_port
    else:
        if not _PORT.fullmatch(port_text) or not 1 <= int(port_text) <= 65535:
            raise _Refused(400, "bad-request", "invalid port")
        port = int(port_text)
    try:
        host = normalize_host(host_text)
    except HostError as exc:
        raise _Refused(400, "invalid-host", str(exc)[:200]) from None
    return host, port


def _parse_http_url(target: str) -> tuple[Host, int, str]:
    rest = target[7:]
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, path = rest[:cut], rest[cut:]
    if "@" in authority:
        raise _Refused(400, "invalid-host", "user names in proxy URLs are not allowed")
    if "#" in path:
        raise _Refused(400, "bad-request", "fragments do not belong in a request")
    if not path.startswith("/"):
        path = "/" + path
    host, port = _parse_authority(authority, 80)
    return host, port, path


def _check_host_header(request: _Request, host: Host, port: int, flow: _Flow) -> None:
    """A Host header must name the same host (and port) as the target: no fronting tricks."""
    values = request.header_values("host")
    flow.host, flow.port = host.name, port
    if not values:
        if request.method != "CONNECT" and request.version == "HTTP/1.1":
            raise _Refused(400, "bad-request", "HTTP/1.1 requests need a Host header")
        return
    if len(values) > 1:
        raise _Refused(400, "bad-request", "more than one Host header")
    default = 80 if request.method != "CONNECT" else port
    try:
        named, named_port = _parse_authority(values[0], default)
    except _Refused:
        raise _Refused(403, "host-mismatch", "the Host header is not a valid host") from None
    if named != host or named_port != port:
        raise _Refused(403, "host-mismatch", "the Host header names another host than the URL")


def _body_framing(request: _Request) -> tuple[str, int]:
    encodings = request.header_values("transfer-encoding")
    lengths = request.header_values("content-length")
    if encodings and lengths:
        raise _Refused(400, "bad-request", "both Transfer-Encoding and Content-Length")
    if encodings:
        if len(encodings) != 1 or encodings[0].lower() != "chunked":
            raise _Refused(501, "bad-request", "only chunked transfer encoding is supported")
        return "chunked", 0
    if lengths:
        if len(set(lengths)) != 1 or not re.fullmatch(r"[0-9]{1,15}", lengths[0]):
            raise _Refused(400, "bad-request", "invalid Content-Length")
        return "length", int(lengths[0])
    return "none", 0


def _rewrite_head(request: _Request, host: Host, port: int, path: str) -> bytes:
    named = {
        token.strip().lower()
        for value in request.header_values("connection")
        for token in value.split(",")
    }
    lines = [f"{request.method} {path} HTTP/1.1"]
    shown = f"[{host.name}]" if host.ip is not None and host.ip.version == 6 else host.name
    lines.append(f"Host: {shown}" if port == 80 else f"Host: {shown}:{port}")
    for name, value in request.headers:
        key = name.lower()
        if key in HOP_BY_HOP or key in named or key.startswith("proxy-") or key == "host":
            continue
        lines.append(f"{name}: {value}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _reply(writer: asyncio.StreamWriter, status: int, error: str, message: str) -> None:
    body = (message.encode("ascii", "backslashreplace") + b"\n").replace(b"\r", b"")
    head = (
        f"HTTP/1.1 {status} {_PHRASES.get(status, 'Error')}\r\n"
        f"X-Proxy-Error: {error}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    writer.write(head.encode("ascii") + body)
    await asyncio.wait_for(writer.drain(), 5)


__all__ = [
    "DecisionCallback",
    "EgressDecision",
    "EgressProxy",
    "Resolver",
    "static_resolver",
    "system_resolver",
]
