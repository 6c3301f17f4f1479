"""Child processes of the guest, and making sure none outlive it.

Inside bubblewrap the PID namespace already guarantees that (its init dies with the guest). With
--no-sandbox there is no namespace, so the guest makes itself a child subreaper (apps that
double-fork, like those started from the panel, are re-parented to it) and kills every descendant
on exit; each direct child also gets a parent-death signal in case the guest itself is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import re
import signal
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(None, use_errno=True)


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
    return await asyncio.create_subprocess_exec(
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
    """TERM every descendant, give them `grace_seconds`, then KILL what is left and reap it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = descendants()
        kill_all(pids, sig)
        deadline = time.monotonic() + (grace_seconds if sig == signal.SIGTERM else 5.0)
        while pids and time.monotonic() < deadline:
            _reap()
            pids = descendants()
            if pids:
                time.sleep(0.02)
        if not pids:
            return


def _reap() -> None:
    """Collect exited children (re-parented orphans included) so they leave the process table."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
