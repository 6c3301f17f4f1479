"""The desktop inside the sandbox: Xvfb, the window manager, the panel, and the apps.

Started by the guest daemon, which owns every process here. Start-up waits on real readiness
signals (Xvfb's -displayfd, the WM's _NET_SUPPORTING_WM_CHECK), never on fixed sleeps.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from Xlib import X, display

from deskhand.guest import apps, processes
from deskhand.safety.egress.inside import proxy_environment

WALLPAPER = "#2f4f6f"


class SessionError(RuntimeError):
    """The desktop could not be started (missing program, X server refused to start...)."""


@dataclass
class SessionConfig:
    display: int
    width: int = 1280
    height: int = 800
    home: Path = field(default_factory=Path.home)
    autostart: tuple[str, ...] = ()
    start_timeout: float = 20.0
    # The egress relay's URL when the desktop has an allowlist; None means no network at all.
    proxy_url: str | None = None


@dataclass
class DesktopSession:
    config: SessionConfig
    env: dict[str, str]
    xvfb: asyncio.subprocess.Process
    helpers: list[asyncio.subprocess.Process] = field(default_factory=list)

    @property
    def display_name(self) -> str:
        return f":{self.config.display}"

    @classmethod
    async def start(cls, config: SessionConfig) -> DesktopSession:
        missing = [p for p in ("Xvfb", "openbox", "tint2", "xauth") if shutil.which(p) is None]
        if missing:
            raise SessionError(f"missing programs: {', '.join(missing)} (install: deskhand doctor)")
        env = _session_env(config)
        await _write_xauthority(config, env)
        # The guest's own X connections (capture, input, settle) need the cookie too; with
        # --no-sandbox nothing else points the guest process at it.
        os.environ["XAUTHORITY"] = env["XAUTHORITY"]
        xvfb = await _start_xvfb(config, env)
        session = cls(config, env, xvfb)
        try:
            await session._start_desktop()
        except BaseException:
            await session.stop()
            raise
        return session

    async def _start_desktop(self) -> None:
        home = self.config.home
        launchers = apps.write_launchers(home)
        openbox_dir = home / ".config/openbox"
        openbox_dir.mkdir(parents=True, exist_ok=True)
        (openbox_dir / "menu.xml").write_text(apps.openbox_menu())
        tint2rc = home / ".config/tint2/tint2rc"
        tint2rc.parent.mkdir(parents=True, exist_ok=True)
        template = resources.files("deskhand.guest").joinpath("assets/tint2rc").read_text()
        tint2rc.write_text(
            template.replace(
                "@LAUNCHERS@", "\n".join(f"launcher_item_app = {p}" for p in launchers)
            )
        )
        await self.run_quiet(["xsetroot", "-solid", WALLPAPER])
        self.helpers.append(await self._spawn(["openbox", "--sm-disable"]))
        await asyncio.wait_for(self._wait_for_wm(), self.config.start_timeout)
        self.helpers.append(await self._spawn(["tint2", "-c", str(tint2rc)]))
        for key in self.config.autostart:
            await self.launch(apps.app_argv(key))

    async def _spawn(self, argv: list[str]) -> asyncio.subprocess.Process:
        return await processes.spawn(argv, env=self.env, cwd=self.config.home)

    async def launch(self, argv: list[str]) -> int:
        """Start a program on the desktop and return its PID (it is not waited for)."""
        proc = await self._spawn(argv)
        self.helpers.append(proc)
        return proc.pid

    async def run_quiet(self, argv: list[str]) -> None:
        proc = await self._spawn(argv)
        await proc.wait()

    async def _wait_for_wm(self) -> None:
        """Wait until an EWMH window manager announces itself on the root window."""
        conn = display.Display(self.display_name)
        try:
            root = conn.screen().root
            root.change_attributes(event_mask=X.PropertyChangeMask)
            check = conn.intern_atom("_NET_SUPPORTING_WM_CHECK")
            loop = asyncio.get_running_loop()
            ready = asyncio.Event()
            loop.add_reader(conn.fileno(), ready.set)
            try:
                while root.get_full_property(check, X.AnyPropertyType) is None:
                    while conn.pending_events():
                        conn.next_event()
                    await ready.wait()
                    ready.clear()
            finally:
                loop.remove_reader(conn.fileno())
        finally:
            conn.close()

    def alive(self) -> dict[str, bool]:
        return {
            "xvfb": self.xvfb.returncode is None,
            "window_manager": bool(self.helpers) and self.helpers[0].returncode is None,
            "panel": len(self.helpers) > 1 and self.helpers[1].returncode is None,
        }

    async def stop(self) -> None:
        for proc in [*self.helpers[::-1], self.xvfb]:
            if proc.returncode is None:
                proc.terminate()
        await asyncio.to_thread(processes.kill_descendants)


def _session_env(config: SessionConfig) -> dict[str, str]:
    runtime = Path(os.environ.get("XDG_RUNTIME_DIR", str(config.home / ".run")))
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    keep = ("PATH", "LANG", "USER", "LOGNAME", "SHELL")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    env.update(
        HOME=str(config.home),
        DISPLAY=f":{config.display}",
        XAUTHORITY=str(config.home / ".Xauthority"),
        XDG_RUNTIME_DIR=str(runtime),
        XDG_SESSION_TYPE="x11",
        TERM="xterm-256color",
        NO_AT_BRIDGE="1",
        # GSettings in a file of the home folder (~/.config/glib-2.0/settings/keyfile): they
        # persist for every program, like dconf's, but dconf would try to start a D-Bus session
        # bus, which fails (the sandbox's machine-id is masked) and puts warnings in every
        # command output. The home folder's reset between tasks resets them too.
        GSETTINGS_BACKEND="keyfile",
    )
    if config.proxy_url is not None:
        env.update(proxy_environment(config.proxy_url))
    return env


async def _write_xauthority(config: SessionConfig, env: dict[str, str]) -> None:
    """A fresh MIT-MAGIC-COOKIE so only holders of the cookie can open the display."""
    Path(env["XAUTHORITY"]).touch(mode=0o600)
    proc = await processes.spawn(
        [
            "xauth",
            "-q",
            "-f",
            env["XAUTHORITY"],
            "add",
            f":{config.display}",
            ".",
            secrets.token_hex(16),
        ],
        env=env,
    )
    if await proc.wait() != 0:
        raise SessionError("xauth could not write the X authority file")


async def _start_xvfb(config: SessionConfig, env: dict[str, str]) -> asyncio.subprocess.Process:
    read_fd, write_fd = os.pipe()
    try:
        proc = await processes.spawn(
            [
                "Xvfb",
                f":{config.display}",
                "-screen",
                "0",
                f"{config.width}x{config.height}x24",
                "-auth",
                env["XAUTHORITY"],
                "-nolisten",
                "tcp",
                "-noreset",
                "-dpi",
                "96",
                "-displayfd",
                str(write_fd),
            ],
            env=env,
            pass_fds=[write_fd],
            stderr=None,
        )
    finally:
        os.close(write_fd)
    try:
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", buffering=0)
        )
        try:
            line = await asyncio.wait_for(reader.readline(), config.start_timeout)
        finally:
            transport.close()
    except TimeoutError:
        proc.kill()
        raise SessionError(f"Xvfb did not start within {config.start_timeout} s") from None
    if line.strip() != str(config.display).encode():
        proc.kill()
        raise SessionError(f"Xvfb failed to open display :{config.display} (said {line!r})")
    return proc
