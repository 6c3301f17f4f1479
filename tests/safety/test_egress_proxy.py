"""The egress proxy, attacked from the host side (its Unix socket) and from inside a real
sandboxed desktop. Test servers listen on 127.0.0.2 ("A", allowed by exact IP) and 127.0.0.3
("B", never allowed) on the same port; names reach them only through an injected resolver, so
nothing here touches a public address.

Bypass cases (research/safety.md section 7.B), one row per attempt:

| # | B | where | attempt | expected |
| --- | --- | --- | --- | --- |
| 1 | B2 | host | CONNECT evil.test | 403 allowlist |
| 2 | B4 | host | CONNECT allowed.test on a port not listed | 403 blocked-port |
| 3 | B5 | host | CONNECT wild.test (apex of *.wild.test) | 403 allowlist |
| 4 | B5 | host | CONNECT a.wild.test | 200, reaches A |
| 5 | B5 | host | CONNECT allowed.test.evil.test | 403 allowlist |
| 6 | B5 | host | CONNECT evil-allowed.test | 403 allowlist |
| 7 | B5 | host | CONNECT ALLOWED.TEST. (case, trailing dot) | 200, reaches A |
| 8 | B5 | host | CONNECT xn--llowed-2nf.test (Cyrillic-a lookalike, punycode) | 403 allowlist |
| 9 | B5 | host | CONNECT with raw UTF-8 lookalike bytes | 400 |
| 10 | B6 | host | NUL inside the CONNECT host | 400 |
| 11 | B6 | host | bare CR inside the request line | 400 |
| 12 | B6 | host | space inside the CONNECT target | 400 |
| 13 | B6 | host | allowed.test@evil.test | 400 invalid-host |
| 14 | B6 | host | evil.test#allowed.test | 400 invalid-host |
| 15 | B6 | host | evil.test?allowed.test | 400 invalid-host |
| 16 | B6 | host | %61llowed.test (percent-encoding) | 400 invalid-host |
| 17 | B7 | host | 2130706433 (decimal 127.0.0.1) | 403 ip-literal |
| 18 | B7 | host | 0177.0.0.1 (octal) | 403 ip-literal |
| 19 | B7 | host | 0x7f000001 (hex) | 403 ip-literal |
| 20 | B7 | host | 127.1 (short form) | 403 ip-literal |
| 21 | B7 | host | [::1] | 403 ip-literal |
| 22 | B7 | host | [::ffff:127.0.0.1] | 403 ip-literal |
| 23 | B7 | host | 169.254.169.254 / [fd00:ec2::254] (metadata literals) | 403 ip-literal |
| 24 | B7 | host | 127.0.0.2, the exact allowed IP | 200, reaches A |
| 25 | B8 | host | allowed name resolving to 127.0.0.3 (loopback) | 403 loopback |
| 26 | B8 | host | allowed name resolving to 169.254.169.254 | 403 metadata |
| 27 | B8 | host | allowed name resolving to 10.0.0.1 | 403 private |
| 28 | B8 | host | allowed name resolving to fd00::1 (fc00::/7) | 403 private |
| 29 | B8 | host | allowed name resolving to A and B at once | 403 loopback |
| 30 | B8 | host | DNS rebinding: answers alternate A, B, A, B... | A only, B refused |
| 31 | B9 | host | CONNECT whose Host header names another host | 403 host-mismatch |
| 32 | B9 | host | GET http://allowed.test/ with Host: evil.test | 403 host-mismatch |
| 33 | B6 | host | GET http://allowed.test@evil.test/ (userinfo) | 400 |
| 34 | - | host | GET https://... in absolute form | 400 |
| 35 | - | host | origin-form GET / (not a proxy request) | 400 |
| 36 | - | host | 64 KB of headers | 431 |
| 37 | - | host | Transfer-Encoding and Content-Length together (smuggling) | 400 |
| 38 | - | host | Proxy-Authorization, Connection-named headers | stripped, origin-form |
| 39 | B1 | host | EgressRules() (nothing allowed) | 403 for everything |
| 40 | B11 | host | proxy stopped | connect fails |
| 41 | B11 | host | bad config / --no-sandbox with rules | refuses to start |
| 42 | B2 | inside | curl and Python urllib through the proxy to allowed.test | 200 from A |
| 43 | B2 | inside | curl http:// and https:// (CONNECT) to evil.test | 403, logged |
| 44 | B12 | inside | curl https://api.anthropic.com | 403 |
| 45 | B3 | inside | curl --noproxy, Python socket, bash /dev/tcp to A/B | no route |
| 46 | B1 | inside | DNS: getent hosts, getaddrinfo | fails |
| 47 | B7 | inside | curl http://2130706433/ and http://[::1]/ via the proxy | 403 |
| 48 | B8 | inside | curl rebind.test twice | A once, then 403 |
| 49 | B9 | inside | curl -L: A redirects to evil.test | 302 passed, hop 403 |
| 50 | - | inside | curl localhost:3128 via proxy (no_proxy is empty) | 403 |
| 51 | B13 | inside | 6 KB query string to allowed.test | logged with size |
| 52 | B10 | inside | Chromium: file://, data: refused by policy; allowed page OK | blocked |
| 53 | B1 | inside | desktop without egress: no proxy variables, :3128 refuses | no network |
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from deskhand.guest.apps import app_argv
from deskhand.safety.egress import (
    EgressConfigError,
    EgressDecision,
    EgressProxy,
    EgressRules,
    load_rules,
)
from deskhand.safety.egress.rules import IPAddress
from deskhand.sandbox.desktop import Desktop, DesktopOptions

pytestmark = pytest.mark.timeout(120)

A, B = "127.0.0.2", "127.0.0.3"


@dataclass
class Servers:
    port: int
    hits: list[tuple[str, bytes]] = field(default_factory=list)

    def served(self, name: str) -> list[bytes]:
        return [head for server, head in self.hits if server == name]


@pytest.fixture(scope="module")
async def servers() -> AsyncIterator[Servers]:
    state = Servers(0)

    def handler(name: str):  # type: ignore[no-untyped-def]
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()
                return
            state.hits.append((name, head))
            if b" /redirect" in head.split(b"\r\n")[0]:
                location = f"http://evil.test:{state.port}/landed"
                reply = f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n"
                writer.write(reply.encode() + b"Connection: close\r\n\r\n")
            else:
                body = f"<title>SERVER-{name}</title>\n".encode() + head
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n"
                    b"Connection: close\r\n\r\n" % len(body) + body
                )
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            writer.close()

        return handle

    server_a = await asyncio.start_server(handler("A"), A, 0)
    state.port = server_a.sockets[0].getsockname()[1]
    server_b = await asyncio.start_server(handler("B"), B, state.port)
    async with server_a, server_b:
        yield state


class FakeResolver:
    """Names for the tests; rebind.test answers A and B in turn (a rebinding DNS server)."""

    TABLE: dict[str, list[str]] = {  # noqa: RUF012
        "allowed.test": [A],
        "a.wild.test": [A],
        "evil.test": [B],
        "private.test": [B],
        "meta.test": ["169.254.169.254"],
        "ten.test": ["10.0.0.1"],
        "ula.test": ["fd00::1"],
        "mixed.test": [A, B],
    }

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, name: str) -> Sequence[IPAddress | str]:
        self.calls.append(name)
        if name == "rebind.test":
            return [A] if self.calls.count(name) % 2 else [B]
        if name not in self.TABLE:
            raise socket.gaierror(socket.EAI_NONAME, name)
        return self.TABLE[name]


def rules_for(port: int) -> EgressRules:
    names = ["allowed.test", "*.wild.test", "private.test", "meta.test", "ten.test"]
    names += ["ula.test", "mixed.test", "rebind.test", A]
    return EgressRules.from_domains(names, ports=[port])


@pytest.fixture(scope="module")
async def proxy(
    servers: Servers, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[EgressProxy]:
    path = tmp_path_factory.mktemp("egress") / "egress.sock"
    async with EgressProxy(rules_for(servers.port), path, resolver=FakeResolver()) as running:
        yield running


async def exchange(path: Path, raw: bytes, then: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send `raw` to the proxy; on a 200 CONNECT, send `then` through the tunnel."""
    reader, writer = await asyncio.open_unix_connection(path)
    try:
        writer.write(raw)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {
            k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
        }
        if status == 200 and raw.startswith(b"CONNECT") and then:
            writer.write(then)
            await writer.drain()
        body = await asyncio.wait_for(reader.read(), 10)
        return status, headers, body
    finally:
        writer.close()


def connect_request(target: str, headers: str = "") -> bytes:
    return f"CONNECT {target} HTTP/1.1\r\n{headers}\r\n".encode("utf-8", "surrogateescape")


async def next_decision(proxy: EgressProxy, count: int, host: str) -> EgressDecision:
    """The first decision about `host` after the first `count` (an allowed tunnel is logged
    when it closes, so earlier tests' tunnels may still be arriving)."""
    deadline = time.monotonic() + 5
    while True:
        found = [d for d in proxy.decisions[count:] if d.host == host]
        if found:
            return found[0]
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)


THROUGH = b"GET /through HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"

P = "{port}"
CONNECT_CASES = [
    # (case id, target, extra headers, status, X-Proxy-Error, server reached)
    ("1-evil", f"evil.test:{P}", "", 403, "blocked-by-allowlist", None),
    ("2-port", "allowed.test:1", "", 403, "blocked-port", None),
    ("3-apex", f"wild.test:{P}", "", 403, "blocked-by-allowlist", None),
    ("4-wildcard", f"a.wild.test:{P}", "", 200, None, "A"),
    ("5-suffix", f"allowed.test.evil.test:{P}", "", 403, "blocked-by-allowlist", None),
    ("6-prefix", f"evil-allowed.test:{P}", "", 403, "blocked-by-allowlist", None),
    ("7-case-dot", f"ALLOWED.TEST.:{P}", "", 200, None, "A"),
    ("8-punycode", f"xn--llowed-2nf.test:{P}", "", 403, "blocked-by-allowlist", None),
    ("9-utf8", f"\u0430llowed.test:{P}", "", 400, None, None),
    ("10-nul", f"allowed.test\x00.evil.test:{P}", "", 400, None, None),
    ("11-cr", f"allowed.test\r.evil.test:{P}", "", 400, None, None),
    ("12-space", f"allowed.test :{P}", "", 400, None, None),
    ("13-userinfo", f"allowed.test@evil.test:{P}", "", 400, "invalid-host", None),
    ("14-fragment", f"evil.test#allowed.test:{P}", "", 400, "invalid-host", None),
    ("15-query", f"evil.test?allowed.test:{P}", "", 400, "invalid-host", None),
    ("16-percent", f"%61llowed.test:{P}", "", 400, "invalid-host", None),
    ("17-decimal", f"2130706433:{P}", "", 403, "blocked-ip-literal", None),
    ("18-octal", f"0177.0.0.1:{P}", "", 403, "blocked-ip-literal", None),
    ("19-hex", f"0x7f000001:{P}", "", 403, "blocked-ip-literal", None),
    ("20-short", f"127.1:{P}", "", 403, "blocked-ip-literal", None),
    ("21-v6-loopback", f"[::1]:{P}", "", 403, "blocked-ip-literal", None),
    ("22-v4-mapped", f"[::ffff:127.0.0.1]:{P}", "", 403, "blocked-ip-literal", None),
    ("23-metadata", f"169.254.169.254:{P}", "", 403, "blocked-ip-literal", None),
    ("23-metadata-v6", f"[fd00:ec2::254]:{P}", "", 403, "blocked-ip-literal", None),
    ("24-exact-ip", f"{A}:{P}", "", 200, None, "A"),
    ("25-loopback", f"private.test:{P}", "", 403, "blocked-loopback-address", None),
    ("26-metadata", f"meta.test:{P}", "", 403, "blocked-metadata-address", None),
    ("27-private", f"ten.test:{P}", "", 403, "blocked-private-address", None),
    ("28-ula", f"ula.test:{P}", "", 403, "blocked-private-address", None),
    ("29-mixed", f"mixed.test:{P}", "", 403, "blocked-loopback-address", None),
    ("31-host-header", f"allowed.test:{P}", "Host: evil.test\r\n", 403, "host-mismatch", None),
    ("31-host-ok", f"allowed.test:{P}", f"Host: allowed.test:{P}\r\n", 200, None, "A"),
]


@pytest.mark.parametrize(
    ("target", "headers", "status", "error", "reached"),
    [case[1:] for case in CONNECT_CASES],
    ids=[case[0] for case in CONNECT_CASES],
)
async def test_connect_cases(
    proxy: EgressProxy,
    servers: Servers,
    target: str,
    headers: str,
    status: int,
    error: str | None,
    reached: str | None,
) -> None:
    before = len(servers.hits)
    port = str(servers.port)
    request = connect_request(target.replace(P, port), headers.replace(P, port))
    got, reply_headers, body = await exchange(proxy.socket_path, request, THROUGH)
    assert got == status, body
    if error is not None:
        assert reply_headers["x-proxy-error"] == error
    new = servers.hits[before:]
    if reached is None:
        assert not new  # refused requests never reach any server
        assert not proxy.decisions[-1].allowed
    else:
        assert [name for name, _ in new] == [reached]
        assert f"SERVER-{reached}".encode() in body


async def test_rebinding_connects_to_the_checked_address_only(
    proxy: EgressProxy, servers: Servers
) -> None:
    """Case 30: every request resolves once; an answer of B is refused, never connected."""
    outcomes = []
    for _ in range(4):
        count = len(proxy.decisions)
        status, _, _ = await exchange(
            proxy.socket_path, connect_request(f"rebind.test:{servers.port}"), THROUGH
        )
        decision = await next_decision(proxy, count, "rebind.test")
        outcomes.append((status, decision.address, decision.reason))
    assert outcomes == [
        (200, A, "allowed"),
        (403, B, "blocked-loopback-address"),
        (200, A, "allowed"),
        (403, B, "blocked-loopback-address"),
    ]
    assert not servers.served("B")


PLAIN_CASES = [
    ("32-host-mismatch", "GET http://allowed.test:{port}/ HTTP/1.1\r\nHost: evil.test\r\n", 403),
    ("33-userinfo", "GET http://allowed.test@evil.test:{port}/ HTTP/1.1\r\nHost: x\r\n", 400),
    ("34-https-absolute", "GET https://allowed.test:{port}/ HTTP/1.1\r\nHost: x\r\n", 400),
    ("35-origin-form", "GET / HTTP/1.1\r\nHost: allowed.test\r\n", 400),
    (
        "37-smuggling",
        "POST http://allowed.test:{port}/ HTTP/1.1\r\nHost: allowed.test:{port}\r\n"
        "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
        400,
    ),
    ("no-host-header", "GET http://allowed.test:{port}/ HTTP/1.1\r\n", 400),
    ("two-hosts", "GET http://allowed.test:{port}/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n", 400),
    ("obs-fold", "GET http://allowed.test:{port}/ HTTP/1.1\r\nHost: a\r\n b\r\n", 400),
]


@pytest.mark.parametrize(
    ("head", "status"), [c[1:] for c in PLAIN_CASES], ids=[c[0] for c in PLAIN_CASES]
)
async def test_plain_http_refusals(
    proxy: EgressProxy, servers: Servers, head: str, status: int
) -> None:
    before = len(servers.hits)
    raw = (head.replace("{port}", str(servers.port)) + "\r\n").encode()
    got, _, _ = await exchange(proxy.socket_path, raw)
    assert got == status
    assert len(servers.hits) == before


async def test_header_limit(proxy: EgressProxy) -> None:
    """Case 36."""
    raw = b"GET http://allowed.test/ HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 65536 + b"\r\n\r\n"
    status, headers, _ = await exchange(proxy.socket_path, raw)
    assert (status, headers["x-proxy-error"]) == (431, "header-too-large")


async def test_plain_http_is_rewritten_to_origin_form(proxy: EgressProxy, servers: Servers) -> None:
    """Case 38: origin-form upstream, proxy and hop-by-hop headers gone, body forwarded."""
    raw = (
        f"POST http://allowed.test:{servers.port}/path?q=1 HTTP/1.1\r\n"
        f"Host: allowed.test:{servers.port}\r\nProxy-Authorization: Basic c2VjcmV0\r\n"
        "Connection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 5\r\nX-Kept: yes\r\n"
        "Content-Length: 5\r\n\r\nhello"
    ).encode()
    count = len(proxy.decisions)
    status, _, body = await exchange(proxy.socket_path, raw)
    assert status == 200
    decision = await next_decision(proxy, count, "allowed.test")
    head = servers.served("A")[-1].decode()
    assert head.startswith("POST /path?q=1 HTTP/1.1\r\n")
    assert "X-Kept: yes" in head and "Connection: close" in head
    for gone in ("Proxy-Authorization", "X-Secret", "Keep-Alive", "keep-alive"):
        assert gone not in head
    assert decision.allowed and decision.bytes_up >= len(head) + 5
    assert decision.bytes_down > len(body) - 1


async def test_nothing_allowed_by_default_and_a_stopped_proxy_refuses(
    servers: Servers, tmp_path: Path
) -> None:
    """Cases 39 and 40."""
    path = tmp_path / "p.sock"
    empty = EgressProxy(EgressRules(), path, resolver=FakeResolver())
    await empty.start()
    assert path.stat().st_mode & 0o777 == 0o600
    for target in (f"allowed.test:{servers.port}", f"{A}:{servers.port}", "localhost:443"):
        status, _, _ = await exchange(path, connect_request(target))
        assert status == 403
    await empty.stop()
    with pytest.raises(OSError):
        await asyncio.open_unix_connection(path)


async def test_bad_config_and_no_sandbox_refuse_to_start(tmp_path: Path) -> None:
    """Case 41: fail closed."""
    bad = tmp_path / "egress.toml"
    bad.write_text('allow = ["*"]\n')
    with pytest.raises(EgressConfigError):
        load_rules(bad)
    with pytest.raises(ValueError, match="sandbox"):
        DesktopOptions(sandbox=False, egress=EgressRules())


# -- from inside a real sandboxed desktop ---------------------------------------------------


@pytest.fixture(scope="module")
async def egress_desktop(servers: Servers) -> AsyncIterator[Desktop]:
    options = DesktopOptions(
        width=800, height=600, egress=rules_for(servers.port), egress_resolver=FakeResolver()
    )
    desk = await Desktop.start(options)
    try:
        yield desk
    finally:
        await desk.stop()


async def sh(desktop: Desktop, script: str, timeout: float = 20) -> tuple[int, str]:
    result = await desktop.computer.run(["bash", "-c", script], timeout=timeout)
    assert result.returncode is not None
    return result.returncode, result.stdout + result.stderr


async def test_inside_allowed_host_through_the_proxy(
    egress_desktop: Desktop, servers: Servers
) -> None:
    """Case 42: curl and Python find the proxy in the environment."""
    url = f"http://allowed.test:{servers.port}/inside"
    code, out = await sh(egress_desktop, f"curl -sS {url}")
    assert code == 0 and "SERVER-A" in out, out
    code, out = await sh(
        egress_desktop,
        f"python3 -c \"import urllib.request;print(urllib.request.urlopen('{url}').read())\"",
    )
    assert code == 0 and "SERVER-A" in out, out


async def test_inside_other_hosts_are_refused(egress_desktop: Desktop, servers: Servers) -> None:
    """Cases 43, 44, 47, 50."""
    port = servers.port
    before = len(servers.hits)
    attempts = {
        f"http://evil.test:{port}/": "403",
        f"https://evil.test:{port}/": "403",  # CONNECT refused
        "https://api.anthropic.com/v1/messages": "403",
        f"http://2130706433:{port}/": "403",
        f"http://[::1]:{port}/": "403",
        f"http://localhost:{port}/": "403",
        "http://localhost:3128/": "403",
    }
    for url, expected in attempts.items():
        _, out = await sh(egress_desktop, f"curl -s -o /dev/null -w '%{{http_code}}' '{url}'")
        code = out.strip()[-3:]
        assert code in {expected, "000"}, (url, out)  # 000: curl reports a refused CONNECT
    assert len(servers.hits) == before
    refused = {(d.host, d.reason) for d in egress_desktop.egress_log if not d.allowed}
    assert ("evil.test", "blocked-by-allowlist") in refused
    assert ("api.anthropic.com", "blocked-by-allowlist") in refused
    assert ("127.0.0.1", "blocked-ip-literal") in refused
    assert ("::1", "blocked-ip-literal") in refused


async def test_inside_programs_that_ignore_the_proxy_have_no_route(
    egress_desktop: Desktop, servers: Servers
) -> None:
    """Cases 45 and 46: direct connections and DNS fail; only the proxy leads out."""
    port = servers.port
    before = len(servers.hits)
    code, out = await sh(egress_desktop, f"curl -sS --noproxy '*' -m 3 http://{A}:{port}/")
    assert code != 0, out
    code, out = await sh(egress_desktop, f"exec 3<>/dev/tcp/{B}/{port} && echo open")
    assert "open" not in out
    probe = (
        "import socket\n"
        "for addr in [('127.0.0.2', PORT), ('10.0.0.1', 80), ('1.1.1.1', 443)]:\n"
        "    try:\n"
        "        socket.create_connection(addr, timeout=2); print('open')\n"
        "    except OSError as e: print(type(e).__name__)\n"
        "try:\n"
        "    socket.getaddrinfo('example.com', 443); print('resolved')\n"
        "except OSError as e: print('dns', type(e).__name__)\n"
    ).replace("PORT", str(port))
    result = await egress_desktop.computer.run(["python3", "-c", probe], timeout=20)
    lines = result.stdout.split()
    assert "open" not in lines and "resolved" not in lines, result.stdout
    code, out = await sh(egress_desktop, "getent hosts allowed.test example.com")
    assert code != 0 and not out.strip()
    assert len(servers.hits) == before


async def test_inside_rebinding_and_redirects(egress_desktop: Desktop, servers: Servers) -> None:
    """Cases 48 and 49: the proxy never follows redirects, each hop is checked."""
    port = servers.port
    b_before = len(servers.served("B"))
    codes = []
    for _ in range(2):
        _, out = await sh(
            egress_desktop, f"curl -s -o /dev/null -w '%{{http_code}}' http://rebind.test:{port}/"
        )
        codes.append(out.strip())
    assert sorted(codes) == ["200", "403"]
    _, out = await sh(
        egress_desktop,
        f"curl -sL -o /dev/null -w '%{{http_code}} %{{num_redirects}}' "
        f"http://allowed.test:{port}/redirect",
    )
    assert out.strip() == "403 1"
    assert len(servers.served("B")) == b_before
    last = egress_desktop.egress_log[-2:]
    assert [(d.host, d.allowed) for d in last] == [("allowed.test", True), ("evil.test", False)]


async def test_inside_long_query_is_logged_with_its_size(
    egress_desktop: Desktop, servers: Servers
) -> None:
    """Case 51: exfiltration through an allowed host cannot be stopped by a host allowlist,
    but it is on the record with its size."""
    payload = "x" * 6000
    code, _ = await sh(
        egress_desktop, f"curl -s -o /dev/null http://allowed.test:{servers.port}/?d={payload}"
    )
    assert code == 0
    decision = egress_desktop.egress_log[-1]
    assert decision.allowed and decision.bytes_up > 6000


async def window_titles(desktop: Desktop) -> str:
    result = await desktop.computer.run(
        ["xdotool", "search", "--class", "chromium", "getwindowname", "%@"]
    )
    return result.stdout


async def test_inside_chromium_uses_the_proxy_and_refuses_local_urls(
    egress_desktop: Desktop, servers: Servers
) -> None:
    """Case 52: the allowed page loads through the proxy (the policy forces it); file:// and
    data: navigations are blocked by the managed policy."""
    (egress_desktop.home / "page.html").write_text("<title>LOCAL-FILE-LOADED</title>")
    try:
        await egress_desktop.computer.launch(
            app_argv("browser", f"http://allowed.test:{servers.port}/browser")
        )
        deadline = time.monotonic() + 30
        while "SERVER-A" not in await window_titles(egress_desktop):
            assert time.monotonic() < deadline, await window_titles(egress_desktop)
            await asyncio.sleep(0.3)
        for url in ("file:///home/user/page.html", "data:text/html,<title>DATA-LOADED</title>"):
            await egress_desktop.computer.launch(app_argv("browser", url))
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                titles = await window_titles(egress_desktop)
                assert "LOCAL-FILE-LOADED" not in titles and "DATA-LOADED -" not in titles
                await asyncio.sleep(0.3)
            assert url[:20] in titles  # Chromium shows the blocked URL, not the page
    finally:
        await egress_desktop.computer.run(["pkill", "-f", "chromium"])


async def test_without_egress_there_is_no_proxy_and_no_network(desktop: Desktop) -> None:
    """Case 53 (B1): the shared desktop has no rules: no variables, nothing on :3128."""
    result = await desktop.computer.run(["env"])
    assert "proxy" not in result.stdout.lower()
    code = await desktop.computer.run(
        ["curl", "-sS", "-m", "3", "-x", "http://127.0.0.1:3128", "http://allowed.test/"]
    )
    assert code.returncode != 0
