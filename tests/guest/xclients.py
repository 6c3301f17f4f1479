"""Real X programs for the guest tests: a private Xvfb, the event recorder, xterm."""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from Xlib import X
from Xlib import display as xdisplay

WIDTH, HEIGHT = 1280, 800
RECORDER = Path(__file__).resolve().parent.parent / "apps" / "event_recorder.py"
T = TypeVar("T")
Record = dict[str, Any]


def wait_until(check: Callable[[], T | None], what: str, timeout: float = 10.0) -> T:
    """Poll `check` until it returns something other than None (or fail after `timeout`)."""
    deadline = time.monotonic() + timeout
    while (result := check()) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)
    return result


@contextlib.contextmanager
def xvfb(*extra_args: str) -> Iterator[str]:
    """Run a private Xvfb; Xvfb picks a free display number and reports it on -displayfd."""
    read_fd, write_fd = os.pipe()
    argv = ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{WIDTH}x{HEIGHT}x24"]
    # -noreset: otherwise the server resets whenever its last client leaves (e.g. xsetroot).
    argv += ["-nolisten", "tcp", "-noreset", *extra_args]
    proc = subprocess.Popen(argv, pass_fds=(write_fd,), stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        yield f":{_read_display_number(read_fd)}"
    finally:
        os.close(read_fd)
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _read_display_number(fd: int, timeout: float = 10.0) -> int:
    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(fd, 64) if ready else b""
        if not chunk:
            raise RuntimeError("Xvfb did not report a display number (did it fail to start?)")
        data += chunk
    return int(data)


class RecorderApp:
    """A running tests/apps/event_recorder.py and the JSON lines it has written so far."""

    def __init__(self, proc: subprocess.Popen[bytes], out: Path) -> None:
        self.proc = proc
        self.out = out
        self.ready = self.wait_for(lambda records: records[0] if records else None, "ready")

    def records(self, *types: str) -> list[Record]:
        if not self.out.exists():
            return []
        lines = self.out.read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in lines]
        return [r for r in records if not types or r["type"] in types]

    def wait_for(self, check: Callable[[list[Record]], T | None], what: str) -> T:
        def poll() -> T | None:
            if self.proc.poll() is not None:
                raise AssertionError(f"event recorder exited with {self.proc.returncode}")
            return check(self.records())

        return wait_until(poll, what)

    def wait_count(self, count: int, *types: str) -> list[Record]:
        """Wait until at least `count` records of `types` exist; return them."""

        def enough(records: list[Record]) -> list[Record] | None:
            wanted = [r for r in records if r["type"] in types]
            return wanted if len(wanted) >= count else None

        return self.wait_for(enough, f"{count} x {types}")


class Apps:
    """Starts X programs on one display and stops them all at teardown."""

    def __init__(self, display: str, workdir: Path) -> None:
        self.display = display
        self.workdir = workdir
        self.procs: list[subprocess.Popen[bytes]] = []

    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.display, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}

    def spawn(self, argv: list[str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv, env=self.env(), stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def run(self, argv: list[str]) -> None:
        subprocess.run(argv, env=self.env(), check=True)

    def recorder(self, *args: str) -> RecorderApp:
        out = self.workdir / f"recorder-{len(self.procs)}.jsonl"
        argv = [sys.executable, str(RECORDER), "--display", self.display, "--out", str(out)]
        return RecorderApp(self.spawn([*argv, *args]), out)

    def xterm(self, command: str, geometry: str = "80x24+0+0") -> subprocess.Popen[bytes]:
        """An xterm running `sh -c command`, once its window is on screen."""
        proc = self.spawn(["xterm", "-u8", "-geometry", geometry, "-e", "sh", "-c", command])
        wait_until(lambda: self.viewable_window("XTerm"), "the xterm window")
        return proc

    def viewable_window(self, wm_class: str) -> int | None:
        """The id of a viewable window of class `wm_class` (a window manager may frame it)."""
        conn: Any = xdisplay.Display(self.display)
        try:
            windows = list(conn.screen().root.query_tree().children)
            while windows:
                window = windows.pop()
                names = window.get_wm_class() or ()
                if wm_class in names and window.get_attributes().map_state == X.IsViewable:
                    return int(window.id)
                windows += window.query_tree().children
            return None
        finally:
            conn.close()

    def stop_all(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
