"""What runs inside the sandbox (a fooled model's shell) cannot reach into the host.

The sandbox user maps to the user running deskhand, often root, so these tests play the
attacker from inside and check each door the review found.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from deskhand.computer import GuestConnectionLost
from deskhand.guest import processes
from deskhand.sandbox.desktop import Desktop, DesktopError, DesktopOptions, base_dir


@pytest.fixture
async def desk() -> AsyncIterator[Desktop]:
    """A desktop of its own: these tests break it."""
    async with await Desktop.start(DesktopOptions(width=800, height=600)) as desktop:
        yield desktop


async def inside(desk: Desktop, script: str) -> str:
    result = await desk.computer.run(["sh", "-c", script], timeout=30)
    return result.stdout + result.stderr


async def test_launcher_environment_is_not_the_hosts(desktop: Desktop) -> None:
    environ = await inside(desktop, "tr '\\0' '\\n' < /proc/1/environ")
    assert "DESKHAND_TEST_CANARY" not in environ
    assert environ.split() == ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"]


async def test_files_only_the_host_may_read_are_empty_inside(desktop: Desktop) -> None:
    private = [
        path
        for path in Path("/etc").rglob("*")
        if path.is_file()
        and not path.is_symlink()
        and not path.lstat().st_mode & stat.S_IROTH
        and path.stat().st_size > 0
    ]
    assert private, "expected /etc/shadow at least"
    listing = " ".join(f"'{path}'" for path in private)
    out = await inside(desktop, f'for f in {listing}; do wc -c < "$f" 2>/dev/null || echo 0; done')
    assert set(out.split()) == {"0"}, dict(zip(private, out.split(), strict=False))


async def test_the_guest_cannot_be_traced_or_read_by_the_sandbox(desktop: Desktop) -> None:
    out = await inside(
        desktop,
        "pid=$(pgrep -f -- '^[^ ]*python[^ ]* -m deskhand[.]guest'); test -n \"$pid\" || exit 9; "
        "head -c1 /proc/$pid/environ >/dev/null 2>&1 && echo readable || echo refused",
    )
    assert out.strip() == "refused"


async def test_a_stopped_guest_is_reported_lost_not_waited_for_forever(desk: Desktop) -> None:
    guest = next(
        pid
        for pid in processes.descendants(desk.process.pid)
        if b"deskhand.guest" in Path(f"/proc/{pid}/cmdline").read_bytes()
    )
    os.kill(guest, signal.SIGSTOP)
    try:
        start = time.monotonic()
        with pytest.raises(GuestConnectionLost, match="did not answer"):
            await desk.computer.connection.call("screen.size", b"", 1.0)
        assert time.monotonic() - start < 3
    finally:
        os.kill(guest, signal.SIGCONT)


def test_a_base_folder_squatted_by_another_user_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to create a folder owned by someone else")
    runtime = Path(tempfile.mkdtemp(prefix="dh-"))  # short, or base_dir falls back to /tmp
    (runtime / "deskhand").mkdir()
    os.chown(runtime / "deskhand", 65534, 65534)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    try:
        with pytest.raises(DesktopError, match="not a directory owned by you"):
            base_dir()
    finally:
        shutil.rmtree(runtime)


def test_lock_files_are_never_opened_through_a_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    root = base_dir()
    displays = root / "displays"
    displays.mkdir(exist_ok=True)
    planted = displays / "999.lock"
    planted.unlink(missing_ok=True)
    planted.symlink_to(victim)
    try:
        code = (
            "from deskhand.sandbox.desktop import DisplayLease, DISPLAY_RANGE\n"
            "import deskhand.sandbox.desktop as d\n"
            "d.DISPLAY_RANGE = range(999, 1000)\n"
            f"d.DisplayLease.acquire(__import__('pathlib').Path('{displays}'))\n"
        )
        result = __import__("subprocess").run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=False
        )
        assert result.returncode != 0 and "Too many levels of symbolic links" in result.stderr
        assert victim.read_text() == "precious"
    finally:
        planted.unlink()
