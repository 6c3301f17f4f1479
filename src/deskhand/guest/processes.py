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
import signal
import time
from collections.abc import Sequence
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


def descendants(root: int | None = None) -> list[int]:
    """PIDs of every process below `root` (default: this process), deepest first."""
    root = os.getpid() if root is None else root
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: fields follow the last ')'.
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found[::-1]


def kill_descendants(grace_seconds: float = 1.0) -> None:
    """TERM every descendant, give them `grace_seconds`, then KILL what is left and reap it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = descendants()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
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
