"""`deskhand desktop`'s VNC door and `deskhand doctor`, as a person would use them."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from deskhand.sandbox.desktop import Desktop, DesktopOptions

RFB_VNC_AUTHENTICATION = 2


async def test_vnc_is_on_loopback_only_and_asks_for_a_password(desktop: Desktop) -> None:
    vnc = await desktop.expose_vnc()
    assert vnc.host == "127.0.0.1"
    assert len(vnc.password) == 8
    reader, writer = await asyncio.open_connection(vnc.host, vnc.port)
    try:
        banner = await asyncio.wait_for(reader.readexactly(12), 10)
        assert banner.startswith(b"RFB 003.")
        writer.write(b"RFB 003.008\n")
        await writer.drain()
        count = (await asyncio.wait_for(reader.readexactly(1), 10))[0]
        security_types = set(await reader.readexactly(count))
    finally:
        writer.close()
    # Only VNC authentication is offered: no "None" (1) type that would skip the password.
    assert security_types == {RFB_VNC_AUTHENTICATION}
    # The VNC server itself listens only inside the sandbox's own network namespace.
    listening = await desktop.computer.run(["sh", "-c", "cat /proc/net/tcp /proc/net/tcp6"])
    local_addresses = {line.split()[1] for line in listening.stdout.splitlines()[1:] if line}
    assert all(
        addr.startswith(("0100007F:", "00000000000000000000000001000000:"))
        for addr in local_addresses
        if ":" in addr
    ), local_addresses


def test_doctor_reports_every_check_and_passes_here() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "deskhand.cli", "doctor"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "160"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for check in (
        "program Xvfb",
        "bubblewrap and user namespaces",
        "desktop start",
        "guest round trip",
        "input calibration",
        "capture speed",
    ):
        assert check in result.stderr
    assert "FAIL" not in result.stderr
    assert "xshmgetimage" in result.stderr


def test_doctor_names_the_fix_when_a_program_is_missing() -> None:
    env = {**os.environ, "COLUMNS": "200", "PATH": os.path.dirname(sys.executable)}
    result = subprocess.run(
        [sys.executable, "-m", "deskhand.cli", "doctor"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 1
    assert "apt-get install xvfb" in result.stderr
    assert "apt-get install bubblewrap" in result.stderr


async def test_vnc_relay_refuses_a_socket_planted_by_the_sandbox() -> None:
    """A symlink planted in the sockets folder must not turn the VNC port into a door to one of
    the host's own Unix sockets."""
    folder = Path(tempfile.mkdtemp(prefix="dh-host-"))
    reached: list[bool] = []

    async def host_service(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reached.append(True)
        writer.close()

    host_server = await asyncio.start_unix_server(host_service, folder / "host.sock")
    async with host_server, await Desktop.start(DesktopOptions(width=800, height=600)) as desk:
        vnc = await desk.expose_vnc()
        planted = await desk.computer.run(
            ["ln", "-sfn", str(folder / "host.sock"), "/run/deskhand/vnc.sock"]
        )
        assert planted.returncode == 0, planted.stderr
        reader, writer = await asyncio.open_connection(vnc.host, vnc.port)
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed, nothing relayed
        writer.close()
    shutil.rmtree(folder)
    assert reached == []
