"""A VNC server for watching (or, when asked, driving) the desktop, reachable only through a
Unix socket the host controls.

x11vnc listens on loopback inside the sandbox's own network namespace (so nothing outside can
reach it); the guest relays a Unix socket in the shared socket folder to it. x11vnc's own
-unixsock mode needs a patched libvncserver, hence the relay.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from deskhand.guest import processes
from deskhand.guest.session import DesktopSession
from deskhand.relay import relay_to


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class VncServer:
    process: asyncio.subprocess.Process
    relay: asyncio.Server
    socket_path: Path
    password: str

    @classmethod
    async def start(cls, session: DesktopSession, socket_path: Path, view_only: bool) -> VncServer:
        password = secrets.token_urlsafe(6)[:8]  # VNC authentication uses at most 8 characters
        runtime = Path(session.env["XDG_RUNTIME_DIR"])
        password_file = runtime / f"vnc-{secrets.token_hex(4)}"
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
        port = _free_loopback_port()
        argv = [
            "x11vnc",
            "-display",
            session.display_name,
            "-localhost",
            "-rfbport",
            str(port),
            "-passwdfile",
            f"rm:{password_file}",
            "-forever",
            "-shared",
            "-quiet",
            "-nossl",
            "-noipv6",
            "-xkb",
        ]
        if view_only:
            argv.append("-viewonly")
        process = await processes.spawn(argv, env=session.env)
        await _wait_for_port(port, process)

        async def open_vnc() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            return await asyncio.open_connection("127.0.0.1", port)

        socket_path.unlink(missing_ok=True)
        relay = await asyncio.start_unix_server(relay_to(open_vnc), socket_path)
        socket_path.chmod(0o600)
        return cls(process, relay, socket_path, password)

    def stop(self) -> None:
        self.relay.close()
        if self.process.returncode is None:
            self.process.terminate()


async def _wait_for_port(port: int, process: asyncio.subprocess.Process) -> None:
    """x11vnc takes a moment to listen; wait for the port (bounded), failing if it exits."""
    for _ in range(200):
        if process.returncode is not None:
            raise RuntimeError(f"x11vnc exited with status {process.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.025)
            continue
        writer.close()
        return
    raise RuntimeError("x11vnc did not start listening within 5 s")
