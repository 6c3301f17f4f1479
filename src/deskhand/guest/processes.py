"""Child processes of the guest: starting them, reaping orphans, and making sure none outlive it.

Inside bubblewrap the PID namespace already guarantees that (its init dies with the guest). With
--no-sandbox there is no namespace, so the guest makes itself a child subreaper (apps that
double-fork, like those started from the panel, are re-parented to it) and kills every descendant
on exit; each direct child also gets a parent-death signal in case the guest itself is killed.

Reaping. As a subreaper (in both modes) the guest inherits every orphan of the desktop: programs
that double-fork or `setsid -f`, apps started from the panel or the WM menu, Chromium's helpers,
what a killed shell left. `reap_orphans_forever` collects them as they exit (on SIGCHLD, with a
periodic pass as a backstop), so they do not stay zombies until the desktop stops. It must not
collect the guest's own children: asyncio waits for each of those itself (a thread blocked in
waitpid(pid), or a pidfd), and a child reaped behind its back is reported as "Unknown child
process pid ..., will report returncode 255", its real exit status lost. So every child the
guest starts goes through `own()`, which registers it, and the reaper skips registered children
until their owner has collected them.

Why that is race-free. A reaping pass holds `_lock` throughout and does nothing while a child is
being started (`_starting` > 0); `own()` counts a start under the same lock before the fork and
registers the child under it before the count drops. So at any moment a pass runs, each child
started through `own()` is either not forked yet or registered; no exit, however quick, is seen
before its registration. A registered child stays skipped until its `returncode` is set, which
asyncio (and subprocess) do only after their own waitpid collected it: from then on its PID is
no longer the guest's child, or belongs to a new orphan that may be reaped. Passes run on the
event loop (and, at shutdown, in `kill_descendants`' thread): the lock covers both.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import re
import signal
import threading
import time
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(None, use_errno=True)
# Reaping passes: one on every SIGCHLD, and at least this often (children that a pass skipped,
# or did not see: /proc's children lists can miss some while processes come and go).
REAP_PERIOD = 0.5
# How soon a pass skipped because a child was being started is tried again.
REAP_RETRY = 0.02


def _prctl(option: int, value: int) -> None:
    if _libc.prctl(option, value, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def make_undumpable() -> None:
    """Processes of the same user (the model's shell) cannot ptrace the guest or read its
    memory: the token and the protocol stay the host's alone."""
    _prctl(_PR_SET_DUMPABLE, 0)


def become_subreaper() -> None:
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Ask the kernel to send `sig` to this process when its parent exits."""
    _prctl(_PR_SET_PDEATHSIG, sig)


def _child_setup() -> None:
    die_with_parent()


async def spawn(
    argv: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path | None = None,
    stdout: int | None = asyncio.subprocess.DEVNULL,
    stderr: int | None = asyncio.subprocess.DEVNULL,
    stdin: int | None = asyncio.subprocess.DEVNULL,
    pass_fds: Sequence[int] = (),
    new_session: bool = True,
) -> asyncio.subprocess.Process:
    """Start argv directly (no shell) as a child that dies if the guest dies."""
    return await own(
        asyncio.create_subprocess_exec(
            *argv,
            env=env,
            cwd=cwd,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            pass_fds=tuple(pass_fds),
            start_new_session=new_session,
            preexec_fn=_child_setup,
        )
    )


class Child(Protocol):
    """A started child whose owner waits for it (asyncio's Process, subprocess.Popen)."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...


ChildT = TypeVar("ChildT", bound=Child)

_lock = threading.Lock()
_starting = 0  # children being started through own(), not registered yet
_owned: dict[int, Child] = {}  # PID -> a child the guest started and still waits for


async def own(start: Coroutine[Any, Any, ChildT]) -> ChildT:
    """Run `start`, a coroutine (not yet running) that forks one child and returns it, and keep
    the reaper away from that child: its owner collects it and its exit status.

    Every child the guest starts goes through here (see the module's notes on reaping)."""
    global _starting
    with _lock:
        _starting += 1
    try:
        child = await start
        with _lock:
            _owned[child.pid] = child
        return child
    finally:
        with _lock:
            _starting -= 1


def reap_orphans() -> bool:
    """Collect every exited child of the guest that it did not start itself (orphans that were
    re-parented to it). False when it could not look, as a child was being started."""
    with _lock:
        if _starting:
            return False
        for pid, child in list(_owned.items()):
            if child.returncode is not None:  # collected by its owner
                del _owned[pid]
        for pid in children(os.getpid()):
            if pid not in _owned:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)  # (0, 0) for one that still runs
        return True


async def reap_orphans_forever() -> None:
    """Reap orphans as they exit, until cancelled (the guest runs this for its lifetime)."""
    loop = asyncio.get_running_loop()
    exited = asyncio.Event()
    loop.add_signal_handler(signal.SIGCHLD, exited.set)
    try:
        while True:
            exited.clear()
            wait = REAP_PERIOD if reap_orphans() else REAP_RETRY
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(exited.wait(), wait)
    finally:
        loop.remove_signal_handler(signal.SIGCHLD)


@dataclass(frozen=True)
class ProcessInfo:
    """What /proc/PID/stat says about one process."""

    pid: int
    ppid: int
    pgid: int
    sid: int
    state: str
    start: int  # clock ticks after boot


_STAT_TAIL = re.compile(r"\) (\S) (-?\d+) (-?\d+) (-?\d+)(?: \S+){15} (\d+)")


def read_stat(pid: int | str) -> ProcessInfo | None:
    """The process's stat line, or None if it is gone (or unreadable)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: the fields follow the last ')'.
    match = _STAT_TAIL.match(text, text.rindex(")"))
    if match is None:
        return None
    state, ppid, pgid, sid, start = match.groups()
    return ProcessInfo(int(pid), int(ppid), int(pgid), int(sid), state, int(start))


def proc_entries(folder: str) -> list[str]:
    """Names in a /proc folder (plain strings: the shell's watchdog calls this often)."""
    try:
        with os.scandir(folder) as entries:
            return [entry.name for entry in entries]
    except OSError:
        return []


def children(pid: int) -> set[int]:
    """Direct children of `pid`, from every one of its threads (an orphan is re-parented to one
    thread of its subreaper)."""
    found: set[int] = set()
    for tid in proc_entries(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):
            found.update(map(int, Path(f"/proc/{pid}/task/{tid}/children").read_text().split()))
    return found


def scan() -> list[ProcessInfo]:
    """Every process visible here."""
    return [info for name in proc_entries("/proc") if name.isdigit() and (info := read_stat(name))]


def tree(procs: list[ProcessInfo], root: int) -> list[int]:
    """PIDs of every process below `root` in `procs`, deepest first."""
    children: dict[int, list[int]] = {}
    for info in procs:
        children.setdefault(info.ppid, []).append(info.pid)
    found: list[int] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in seen:  # a PID reused during the scan must not loop the walk
                seen.add(child)
                found.append(child)
                stack.append(child)
    return found[::-1]


def descendants(root: int | None = None) -> list[int]:
    """PIDs of every process below `root` (default: this process), deepest first."""
    return tree(scan(), os.getpid() if root is None else root)


def kill_all(pids: Iterable[int], sig: int) -> None:
    """Send `sig` to each PID, skipping the ones that are already gone."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def kill_descendants(grace_seconds: float = 1.0) -> None:
    """TERM every descendant, give them `grace_seconds`, then KILL what is left and reap the
    orphans (the guest's own children are collected by their owners meanwhile)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = descendants()
        kill_all(pids, sig)
        deadline = time.monotonic() + (grace_seconds if sig == signal.SIGTERM else 5.0)
        while pids and time.monotonic() < deadline:
            reap_orphans()
            pids = descendants()
            if pids:
                time.sleep(0.02)
        if not pids:
            return
