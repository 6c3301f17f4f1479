"""One desktop that runs task after task: start once, then reset fast between tasks.

A reset does not restart anything of the desktop itself. It
1. ends the task's programs inside the desktop (everything the guest started except Xvfb, the
   window manager, the panel, a VNC server and the bash tool's shells; the shells are restarted,
   which kills what they started),
2. makes the home folder equal again to a snapshot taken right after the desktop started
   (`homesync`: only what changed is written),
3. clears the local site's request log, and applies the task's setup (files, commands, apps,
   a page in Chromium, a window to wait for).

`TaskEnvironment.reset` returns the seconds each part took.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deskhand.computer import GuestError, SettleParams
from deskhand.evals import homesync
from deskhand.evals.checkers import CheckContext, CheckResult
from deskhand.evals.runnable import RunnableTask
from deskhand.evals.site import SiteServer
from deskhand.evals.tasks import Launch, Task
from deskhand.safety.egress.inside import CHROMIUM_PROXY_FLAGS
from deskhand.safety.egress.proxy import EgressDecision, static_resolver
from deskhand.safety.egress.rules import EgressRules
from deskhand.sandbox.desktop import Desktop, DesktopError, DesktopOptions

SITE_HOST = "site.test"
SHELL_SESSION = "default"  # the bash tool's session name
WINDOW_TIMEOUT = 20.0
COMMAND_TIMEOUT = 60.0

# Runs inside the desktop (the venv's Python is bound in at the same path). Its parent is the
# guest daemon, a child subreaper: every program of the desktop descends from it.
END_APPS = r"""
import os, signal, time
KEEP = {"Xvfb", "openbox", "tint2", "x11vnc"}
SHELL = b"bash\0--norc\0--noprofile\0--noediting\0-i\0"
me, guest = os.getpid(), os.getppid()
def info(pid):
    # (name, parent, state) from one read of /proc/PID/stat: the process may be gone (and, as
    # the guest reaps what exits, its entry too) between any two reads.
    try:
        text = open(f"/proc/{pid}/stat").read()
    except OSError:
        return None
    comm = text[text.index("(") + 1 : text.rindex(")")]
    state, ppid = text[text.rindex(")") + 2 :].split()[:2]
    return comm, int(ppid), state
def cmdline(pid):
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        return b""
procs = {int(p): i for p in os.listdir("/proc") if p.isdigit() and (i := info(p))}
children = {}
for pid, (_, ppid, _) in procs.items():
    children.setdefault(ppid, []).append(pid)
targets, tops, todo = [], [], [(pid, True) for pid in children.get(guest, [])]
while todo:
    pid, top = todo.pop()
    comm, ppid, _ = procs[pid]
    if pid == me:
        continue
    if ppid == guest and (comm in KEEP or cmdline(pid) == SHELL):
        if comm in KEEP:  # apps started from the panel or the menu
            todo.extend((child, True) for child in children.get(pid, []))
        continue
    targets.append(pid)
    if top:
        tops.append(pid)
    todo.extend((child, False) for child in children.get(pid, []))
def alive(pid):
    i = info(pid)
    return i is not None and i[2] != "Z"
# The apps first, so each can end its own children in order (the guest reaps whatever exits).
# Then whatever is left.
for sig, wait in ((signal.SIGTERM, 1.0), (signal.SIGKILL, 1.0)):
    for pid in tops if sig == signal.SIGTERM else targets:
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    end = time.monotonic() + wait
    while time.monotonic() < end and any(alive(p) for p in targets):
        time.sleep(0.02)
    targets = [p for p in targets if alive(p)]
    if not targets:
        break
print(len(procs))
"""


ERE_SPECIAL = frozenset(".[](){}*+?|^$\\")


def ere_escape(text: str) -> str:
    """`text` as a POSIX extended regular expression matching it literally (xdotool's syntax;
    Python's re.escape adds escapes such as `\\-` and `\\ ` that POSIX leaves undefined)."""
    return "".join("\\" + ch if ch in ERE_SPECIAL else ch for ch in text)


# $1: seconds; the rest: xdotool search arguments. Exit 0 once a visible window matches.
WAIT_WINDOW = (
    "end=$(( $(date +%s%N) + ${1%.*}000000000 )); shift; "
    'until xdotool search --onlyvisible "$@" >/dev/null 2>&1; do '
    '[ "$(date +%s%N)" -ge "$end" ] && exit 1; sleep 0.05; done'
)


class InfrastructureError(RuntimeError):
    """The desktop or its guest failed (not the agent): the task may be retried elsewhere."""


class SetupError(RuntimeError):
    """A task's setup failed on a healthy desktop (a defect of the task or the apps)."""


@dataclass
class ResetTimes:
    end_apps: float = 0.0
    home: float = 0.0
    setup: float = 0.0

    @property
    def total(self) -> float:
        return self.end_apps + self.home + self.setup


@dataclass
class EnvironmentOptions:
    width: int = 1280
    height: int = 800
    sandbox: bool = True
    site_root: Path | None = None


@dataclass
class TaskEnvironment:
    """One desktop plus the local site, reused across tasks."""

    options: EnvironmentOptions = field(default_factory=EnvironmentOptions)
    desktop: Desktop | None = None
    site: SiteServer | None = None
    # Who hears the egress proxy's decisions (the model agent points this at its run's events).
    egress_listener: Callable[[EgressDecision], None] | None = None
    template: Path | None = None
    task: RunnableTask | None = None
    reset_times: list[ResetTimes] = field(default_factory=list)

    async def start(self) -> TaskEnvironment:
        self.site = SiteServer(self.options.site_root).start()
        try:
            self.desktop = await Desktop.start(
                DesktopOptions(
                    width=self.options.width,
                    height=self.options.height,
                    sandbox=self.options.sandbox,
                    egress=self.egress_rules() if self.options.sandbox else None,
                    egress_resolver=static_resolver({SITE_HOST: ["127.0.0.1"]}),
                    on_egress=self._on_egress,
                )
            )
            await self.panel_ready()
            self.template = Path(tempfile.mkdtemp(prefix="deskhand-home-template-"))
            await asyncio.to_thread(homesync.snapshot, self.desktop.home, self.template)
        except BaseException:
            await self.stop()
            raise
        return self

    async def stop(self) -> None:
        if self.desktop is not None:
            with contextlib.suppress(Exception):
                await self.desktop.stop()
            self.desktop = None
        if self.site is not None:
            self.site.stop()
            self.site = None
        if self.template is not None:
            shutil.rmtree(self.template, ignore_errors=True)
            self.template = None

    async def restart(self) -> None:
        """A new desktop (after an infrastructure failure)."""
        await self.stop()
        await self.start()

    async def __aenter__(self) -> TaskEnvironment:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.shield(self.stop())

    def egress_rules(self) -> EgressRules:
        """What the desktop may reach: the local site, nothing else."""
        assert self.site is not None
        return EgressRules.from_domains([SITE_HOST, "127.0.0.1"], ports=[self.site.port])

    async def panel_ready(self, seconds: float = 10.0) -> None:
        """Wait until the panel has reserved its strip (_NET_WORKAREA shorter than the screen):
        until then, about 2 s after start, openbox places new windows 15 px lower than it will
        afterwards, and a task's first clicks would miss by as much."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            done = await self.live.computer.run(["xprop", "-root", "_NET_WORKAREA"], timeout=5)
            numbers = done.stdout.partition("=")[2].replace(",", " ").split()
            if len(numbers) >= 4 and numbers[3].isdigit() and int(numbers[3]) < self.options.height:
                return
            await asyncio.sleep(0.1)

    def _on_egress(self, decision: EgressDecision) -> None:
        if self.egress_listener is not None:
            self.egress_listener(decision)

    # -- state ---------------------------------------------------------------------------------

    @property
    def live(self) -> Desktop:
        if self.desktop is None:
            raise InfrastructureError("the environment has no desktop (not started)")
        return self.desktop

    @property
    def site_url(self) -> str:
        """The site as the desktop reaches it: http://site.test:PORT."""
        assert self.site is not None
        return self.site.url_for(SITE_HOST)

    async def healthy(self) -> bool:
        desktop = self.desktop
        if desktop is None or desktop.process.returncode is not None:
            return False
        try:
            health = await asyncio.wait_for(desktop.computer.health(), 5.0)
        except (GuestError, TimeoutError, OSError):
            return False
        return bool(health.get("ok"))

    # -- reset -----------------------------------------------------------------------------------

    async def reset(self, task: RunnableTask) -> ResetTimes:
        """Bring the desktop back to its pristine state and set `task` up on it."""
        times = ResetTimes()
        try:
            start = time.perf_counter()
            await self.end_apps()
            times.end_apps = time.perf_counter() - start
            start = time.perf_counter()
            await self.restore_home()
            times.home = time.perf_counter() - start
            start = time.perf_counter()
            if self.site is not None:
                self.site.clear()
            self.task = task
            await task.prepare(self)
            times.setup = time.perf_counter() - start
        except (GuestError, DesktopError, ConnectionError) as exc:
            raise InfrastructureError(f"the desktop failed during reset: {exc}") from exc
        self.reset_times.append(times)
        return times

    async def end_apps(self) -> None:
        desktop = self.live
        await desktop.computer.connection.call("shell.restart", session=SHELL_SESSION)
        result = await desktop.computer.run([sys.executable, "-I", "-c", END_APPS], timeout=15)
        if result.returncode != 0:
            raise InfrastructureError(f"could not end the task's programs: {result.stderr[-300:]}")

    async def restore_home(self) -> None:
        assert self.template is not None
        await asyncio.to_thread(homesync.sync_tree, self.template, self.live.home)

    def _launch_argv(self, launch: Launch) -> list[str]:
        argv = launch.command()
        if launch.app == "browser" and self.options.sandbox:
            argv = [*argv, *CHROMIUM_PROXY_FLAGS]
        return [part.replace("{site}", self.site_url) for part in argv]

    async def apply_setup(self, task: Task) -> None:
        desktop, setup = self.live, task.setup
        for item in setup.files:
            await asyncio.to_thread(
                homesync.write_file, desktop.home, item.path, item.data(), item.mode
            )
        for command in setup.commands:
            text = command.replace("{site}", self.site_url)
            result = await desktop.computer.run(["bash", "-lc", text], timeout=COMMAND_TIMEOUT)
            if result.returncode != 0:
                raise SetupError(
                    f"{task.id}: setup command {text!r} failed ({result.returncode}): "
                    f"{(result.stderr or result.stdout)[-300:]}"
                )
        for launch in setup.launch:
            await self.launch(self._launch_argv(launch))
        if setup.page is not None:
            url = f"{self.site_url}/{setup.page}"
            await self.launch([*self._launch_argv(Launch(app="browser")), url])
        if setup.wait_for_window is not None:
            await self._wait_window(["--name", ere_escape(setup.wait_for_window)], task)
        elif setup.page is not None:  # at least the browser's window
            await self._wait_window(["--class", "chromium"], task)
        await desktop.computer.settle(SettleParams(quiet_ms=150, max_ms=3000))

    async def launch(self, argv: list[str]) -> int:
        """Start a program on the desktop; returns its PID. The guest reaps the helpers it
        double-forks (Chromium's zygote) once they exit."""
        return await self.live.computer.launch(argv)

    async def _wait_window(
        self, query: list[str], task: RunnableTask, seconds: float = WINDOW_TIMEOUT
    ) -> None:
        """Poll for the window: `xdotool search --sync` alone exits with an X error when a
        window it is inspecting disappears meanwhile (Chromium makes and drops windows while
        it starts), which looked like a missing window."""
        result = await self.live.computer.run(
            ["bash", "-c", WAIT_WINDOW, "wait-window", f"{seconds:g}", *query],
            timeout=seconds + 5,
        )
        if result.returncode != 0:
            raise SetupError(f"{task.id}: no window {' '.join(query)} within {seconds:g} s")

    # -- check -----------------------------------------------------------------------------------

    def context(self) -> CheckContext:
        site = self.site
        return CheckContext(self.live, site_requests=(lambda: site.requests) if site else list)

    async def check(self, task: RunnableTask, answer: str = "") -> CheckResult:
        """The task's checker on the desktop's state and `answer`, the agent's final message."""
        try:
            return await task.check(self, answer)
        except (GuestError, DesktopError, ConnectionError) as exc:
            raise InfrastructureError(f"the desktop failed during the check: {exc}") from exc
