"""The sandbox's side of egress: the relay on 127.0.0.1:3128, the proxy variables, and the
Chromium managed policy.

The sandbox's network namespace has only its own loopback. The guest daemon listens on
127.0.0.1:3128 there and splices each connection to the host proxy's Unix socket (bound in at
/run/deskhand/egress.sock). Programs that honour ``http_proxy``/``https_proxy`` reach allowed
hosts; anything else has no route.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

from deskhand.relay import relay_to

EGRESS_SOCKET_NAME = "egress.sock"
RELAY_HOST = "127.0.0.1"
RELAY_PORT = 3128
PROXY_URL = f"http://{RELAY_HOST}:{RELAY_PORT}"
# Without <-loopback>, Chromium talks to localhost directly; with it, even localhost goes
# through the proxy (which refuses it unless 127.0.0.1 is allowed).
PROXY_BYPASS = "<-loopback>"
CHROMIUM_PROXY_FLAGS = (f"--proxy-server={PROXY_URL}", f"--proxy-bypass-list={PROXY_BYPASS}")

# Navigations Chromium refuses while an allowlist is active: local files, scripts and inline
# documents as URLs, the browser's own pages and tools. Web pages on allowed hosts still load
# their own images, scripts and frames.
BLOCKED_URLS = (
    "file://*",
    "data:*",
    "blob:*",
    "filesystem:*",
    "javascript://*",
    "javascript:*",
    "view-source:*",
    "chrome://*",
    "chrome-untrusted://*",
    "chrome-extension://*",
    "chrome-search://*",
    "devtools://*",
    "ftp://*",
    "ws://*",
    "wss://*",
)
ALLOWED_URLS = ("chrome://newtab", "chrome://new-tab-page", "about:blank")

# The folders Chromium (Debian's package) reads its managed policy and launcher flags from.
CHROMIUM_ETC = Path("/etc/chromium")
CHROMIUM_ETC_D = Path("/etc/chromium.d")
POLICY_FILE = "deskhand-egress.json"


def proxy_environment(proxy_url: str = PROXY_URL) -> dict[str, str]:
    """The variables that point ordinary programs (curl, pip, git, Python) at the relay.
    `no_proxy` is empty on purpose: nothing, not even localhost, bypasses the proxy."""
    return {
        "http_proxy": proxy_url,
        "https_proxy": proxy_url,
        "HTTP_PROXY": proxy_url,
        "HTTPS_PROXY": proxy_url,
        "no_proxy": "",
        "NO_PROXY": "",
    }


def chromium_policy(proxy_url: str = PROXY_URL) -> dict[str, Any]:
    """Chromium's managed policy while egress is on: the proxy whatever the command line says,
    no way around it (DNS-over-HTTPS, QUIC, devtools), and the dangerous URL schemes blocked."""
    return {
        "ProxySettings": {
            "ProxyMode": "fixed_servers",
            "ProxyServer": proxy_url,
            "ProxyBypassList": PROXY_BYPASS,
        },
        "URLBlocklist": list(BLOCKED_URLS),
        "URLAllowlist": list(ALLOWED_URLS),
        "DnsOverHttpsMode": "off",
        "BuiltInDnsClientEnabled": False,
        "QuicAllowed": False,
        "DeveloperToolsAvailability": 2,
        "BrowserSignin": 0,
        "SyncDisabled": True,
        "PasswordManagerEnabled": False,
    }


def write_chromium_overlay(folder: Path) -> dict[Path, Path]:
    """Write replacements for /etc/chromium (plus policies/managed) and /etc/chromium.d (plus
    the proxy flags for Debian's launcher script); return {sandbox path: host folder} to bind
    read-only. Host folders that do not exist are left alone (no Chromium installed)."""
    binds: dict[Path, Path] = {}
    if CHROMIUM_ETC.is_dir():
        etc = folder / "chromium"
        managed = etc / "policies" / "managed"
        managed.mkdir(parents=True, exist_ok=True)
        _copy_files(CHROMIUM_ETC, etc)
        (managed / POLICY_FILE).write_text(json.dumps(chromium_policy(), indent=2) + "\n")
        binds[CHROMIUM_ETC] = etc
    if CHROMIUM_ETC_D.is_dir():
        etc_d = folder / "chromium.d"
        etc_d.mkdir(parents=True, exist_ok=True)
        _copy_files(CHROMIUM_ETC_D, etc_d)
        flags = " ".join(CHROMIUM_PROXY_FLAGS)
        (etc_d / "zz-deskhand-egress").write_text(
            f'export CHROMIUM_FLAGS="$CHROMIUM_FLAGS {flags}"\n'
        )
        binds[CHROMIUM_ETC_D] = etc_d
    return binds


def _copy_files(source: Path, target: Path) -> None:
    """The host's own files (world-readable, regular, not symlinks), so Chromium keeps its
    distribution defaults."""
    for path in source.iterdir():
        if path.is_file() and not path.is_symlink() and path.stat().st_mode & 0o004:
            shutil.copyfile(path, target / path.name)


async def start_relay(
    unix_socket: Path, host: str = RELAY_HOST, port: int = RELAY_PORT
) -> asyncio.Server:
    """Listen on host:port (inside the sandbox) and splice each client to the proxy socket.
    When the host proxy is gone, clients are disconnected: there is no other way out."""

    async def open_proxy() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_unix_connection(unix_socket)

    return await asyncio.start_server(relay_to(open_proxy), host, port)
