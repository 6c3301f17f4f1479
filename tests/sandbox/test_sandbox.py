"""The bubblewrap sandbox really isolates the desktop, and nothing outlives it."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from deskhand.guest import processes
from deskhand.guest.apps import app_argv
from deskhand.sandbox.backends import BubblewrapBackend, SandboxUnavailable
from deskhand.sandbox.desktop import Desktop, DesktopOptions

PY = sys.executable


async def sandbox_python(desktop: Desktop, code: str) -> str:
    """Run Python code inside the sandbox and return its stdout (stderr on failure)."""
    result = await desktop.computer.run([PY, "-c", code], timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_guest_is_healthy_and_has_the_requested_screen(desktop: Desktop) -> None:
    health = await desktop.computer.health()
    assert health["ok"], health
    assert await desktop.computer.size() == (1280, 800)
    frame = await desktop.computer.screenshot()
    assert (frame.width, frame.height) == (1280, 800)


async def test_runs_as_unprivileged_user_with_no_capabilities(desktop: Desktop) -> None:
    out = await sandbox_python(
        desktop,
        "import os;print(os.getuid(), os.getgid());"
        "print([l for l in open('/proc/self/status') if l.startswith('CapEff')][0].strip())",
    )
    ids, caps = out.splitlines()
    assert ids == "1000 1000"
    assert caps.split()[1] == "0000000000000000"


async def test_has_no_network_at_all(desktop: Desktop) -> None:
    # A server on the host's loopback must be unreachable: the sandbox has its own loopback.
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        out = await sandbox_python(
            desktop,
            "import socket\n"
            "def probe(addr):\n"
            "    try:\n"
            "        socket.create_connection(addr, timeout=2).close(); return 'open'\n"
            "    except OSError as e: return type(e).__name__\n"
            f"print(probe(('127.0.0.1', {port})))\n"
            "print(probe(('1.1.1.1', 53)))\n"
            "print(sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]))",
        )
    loopback, public, interfaces = out.splitlines()
    assert loopback == "ConnectionRefusedError"
    assert public in {"OSError", "TimeoutError"}  # network unreachable, no route
    assert interfaces == "['lo']"


async def test_host_home_environment_and_x_socket_are_invisible(desktop: Desktop) -> None:
    host_x = sorted(p.name for p in Path("/tmp/.X11-unix").glob("X*"))
    out = await sandbox_python(
        desktop,
        "import os, json;"
        "print(json.dumps({'env': sorted(os.environ), 'root': os.path.exists('/root'),"
        "'home': os.path.expanduser('~'), 'x': sorted(os.listdir('/tmp/.X11-unix')),"
        "'shadow': open('/etc/shadow').read(), 'host_home_files': os.listdir('/home')}))",
    )
    seen = json.loads(out)
    assert "DESKHAND_TEST_CANARY" not in seen["env"]
    assert not any(key.startswith(("ANTHROPIC", "AWS", "SSH_")) for key in seen["env"])
    assert seen["root"] is False
    assert seen["home"] == "/home/user"
    assert seen["host_home_files"] == ["user"]
    assert seen["x"] == [f"X{desktop.display[1:]}"]
    assert not set(host_x) & set(seen["x"]) or not host_x
    assert seen["shadow"] == ""


async def test_system_is_read_only_and_home_and_tmp_are_private(desktop: Desktop) -> None:
    out = await sandbox_python(
        desktop,
        "import os\n"
        "for path in ('/usr/deskhand-probe', '/etc/deskhand-probe', '/work-probe'):\n"
        "    try:\n"
        "        open(path, 'w'); print('writable', path)\n"
        "    except OSError as e: print('refused', e.errno)\n"
        "open('/tmp/probe', 'w').write('t'); open(os.path.expanduser('~/probe'), 'w').write('h')\n"
        "print('ok')",
    )
    lines = out.splitlines()
    assert all(line.startswith("refused") for line in lines[:3]), lines
    assert lines[-1] == "ok"
    assert (desktop.home / "probe").read_text() == "h"  # the host sees the private home
    assert not Path("/tmp/probe").exists()  # but the sandbox's /tmp is its own


async def test_new_session_without_controlling_terminal(desktop: Desktop) -> None:
    out = await sandbox_python(
        desktop,
        "import os\ntry:\n    os.open('/dev/tty', os.O_RDWR); print('tty')\n"
        "except OSError as e: print(e.errno)\nprint(os.getsid(0) == os.getpid() or os.getsid(0))",
    )
    assert out.splitlines()[0] == "6"  # ENXIO: no terminal to push keystrokes into (TIOCSTI)


async def test_pid_namespace_shows_only_the_desktop(desktop: Desktop) -> None:
    out = await sandbox_python(
        desktop, "import os;print(len([p for p in os.listdir('/proc') if p.isdigit()]))"
    )
    assert int(out) < 40
    host_pids = len([p for p in os.listdir("/proc") if p.isdigit()])
    assert host_pids > int(out)


async def test_two_desktops_side_by_side_then_nothing_left() -> None:
    first = await Desktop.start(DesktopOptions(width=800, height=600))
    second = await Desktop.start(DesktopOptions(width=1024, height=768))
    try:
        assert first.display != second.display
        assert first.paths.root != second.paths.root
        assert await first.computer.size() == (800, 600)
        assert await second.computer.size() == (1024, 768)
        pids = [*processes.descendants(first.process.pid), first.process.pid]
        assert len(pids) >= 4  # bwrap, guest, Xvfb, openbox, tint2...
    finally:
        await first.stop()
        await second.stop()
    assert not first.paths.root.exists()
    assert await asyncio.to_thread(_all_gone, pids)


def test_refuses_clearly_without_bubblewrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        BubblewrapBackend().check()


HOLDER = """
import asyncio, json, sys
from deskhand.computer import GuestError
from deskhand.guest import processes
from deskhand.guest.apps import app_argv
from deskhand.sandbox.desktop import Desktop, DesktopOptions
async def main():
    desk = await Desktop.start(DesktopOptions(width=640, height=480, sandbox={sandbox}))
    pids = [desk.process.pid, *processes.descendants(desk.process.pid)]
    print(json.dumps({{"pids": pids, "root": str(desk.paths.root)}}), flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def _holder(sandbox: bool) -> tuple[subprocess.Popen[str], dict[str, object]]:
    proc = subprocess.Popen(
        [PY, "-c", HOLDER.format(sandbox=sandbox)],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=processes.die_with_parent,  # an interrupted test run leaves no desktop
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, "the holder process did not start a desktop"
    return proc, json.loads(line)


def _all_gone(pids: list[int], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
        if not alive:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("sandbox", [True, False], ids=["bubblewrap", "no-sandbox"])
def test_everything_dies_when_the_parent_is_killed(sandbox: bool) -> None:
    proc, info = _holder(sandbox)
    pids = info["pids"]
    assert isinstance(pids, list) and len(pids) >= 4
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _all_gone(pids), "desktop processes survived a crash of their parent"


def test_cli_sigterm_stops_the_desktop_and_removes_its_files() -> None:
    tmp_path = Path(tempfile.mkdtemp(prefix="dh-"))  # short: it holds Unix sockets
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [PY, "-m", "deskhand.cli", "desktop", "--screen", "800x600"],
        preexec_fn=processes.die_with_parent,  # an interrupted test run leaves no desktop
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    output = ""
    deadline = time.monotonic() + 60
    while "Ctrl-C" not in output and time.monotonic() < deadline:
        output += proc.stderr.readline()
    assert "is up" in output and "127.0.0.1" in output, output
    desktops = list((tmp_path / "deskhand" / "desktops").iterdir())
    assert len(desktops) == 1
    bwrap = [pid for pid in processes.descendants(proc.pid)]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 130
    assert _all_gone(bwrap)
    assert not desktops[0].exists()
    shutil.rmtree(tmp_path)


async def test_run_timeout_kills_the_whole_tree_and_returns(desktop: Desktop) -> None:
    # The background sleep inherits the pipes: killing only `sh` would wait for it forever.
    start = time.monotonic()
    result = await desktop.computer.run(["sh", "-c", "sleep 100 & sleep 100"], timeout=1)
    assert result.timed_out
    assert time.monotonic() - start < 4
    leftover = await desktop.computer.run(["sh", "-c", "ps -eo args | grep -c '^sleep 100'"])
    assert leftover.stdout.strip() == "0"


async def test_the_frame_file_cannot_be_replaced_from_inside() -> None:
    """Only the frame file is bound in: the sandbox cannot swap it for a symlink or a FIFO; it
    can truncate it, which crashes nothing (see test_framebuf.py for the host's own checks)."""
    async with await Desktop.start(DesktopOptions(width=1280, height=800)) as desk:
        await desk.computer.screenshot()
        for attack in (
            "ln -sf /etc/hostname /run/deskhand-frames/screen",
            "rm -f /run/deskhand-frames/screen",
            "mkfifo /run/deskhand-frames/screen.new && mv -f /run/deskhand-frames/screen.new "
            "/run/deskhand-frames/screen",
        ):
            result = await desk.computer.run(["sh", "-c", attack])
            assert result.returncode != 0, attack
            assert "busy" in result.stderr or "exists" in result.stderr, result.stderr
        frame = await desk.computer.screenshot()
        assert frame.pixels.shape == (800, 1280, 4)
        truncated = await desk.computer.run(["sh", "-c", ": > /run/deskhand-frames/screen"])
        assert truncated.returncode == 0, truncated.stderr
        # The guest writes with pwrite, so a truncated file is simply rewritten: no SIGBUS.
        frame = await desk.computer.screenshot()
        assert frame.pixels.shape == (800, 1280, 4)
        assert (await desk.computer.health())["ok"]


async def test_chromium_keeps_its_own_sandbox_inside_ours(desktop: Desktop) -> None:
    """Chromium's renderers run in namespaces of their own, nested in the desktop's: a
    compromised renderer cannot see the home folder or the rest of the desktop."""
    await desktop.computer.launch(app_argv("browser", "about:blank"))
    probe = (
        "r=$(pgrep -f -- '-[-]type=renderer' | head -1); test -n \"$r\" || exit 3; "
        "for ns in user pid net; do "
        '[ "$(readlink /proc/$r/ns/$ns)" != "$(readlink /proc/self/ns/$ns)" ] || exit 4; '
        "done; echo isolated"
    )
    deadline = time.monotonic() + 30
    result = await desktop.computer.run(["sh", "-c", probe])
    while result.returncode == 3 and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        result = await desktop.computer.run(["sh", "-c", probe])
    await desktop.computer.run(["pkill", "-f", "chromium"])
    assert result.stdout.strip() == "isolated", (result.returncode, result.stderr)
