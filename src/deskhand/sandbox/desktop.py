"""A desktop's whole life on the host: a private directory, a display number, the sandboxed guest.

    async with await Desktop.start(DesktopOptions()) as desktop:
        frame = await desktop.computer.screenshot()

Several desktops run side by side: each has its own directory, display number (held by a lock
file) and guest. Everything a desktop started is gone when it stops, when the host process gets
SIGTERM (the CLI turns it into a normal stop) and when the host crashes (bubblewrap's
--die-with-parent and the guest's stdin end-of-file both fire).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import resource
import secrets
import shutil
import socket
import stat
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

from deskhand.computer import Computer, GuestConnection
from deskhand.framebuf import NAME, frames_root
from deskhand.guest import apps, processes
from deskhand.relay import relay_to
from deskhand.safety.egress.inside import EGRESS_SOCKET_NAME
from deskhand.safety.egress.proxy import DecisionCallback, EgressDecision, EgressProxy, Resolver
from deskhand.safety.egress.rules import EgressRules
from deskhand.sandbox.backends import (
    MAX_FILE_BYTES,
    Backend,
    DesktopPaths,
    guest_command,
    select_backend,
)

DISPLAY_RANGE = range(100, 1000)
START_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
MAX_BASE_DIR_CHARS = 48  # + "/desktops/NNN-xxxxxxxx/sockets/guest.sock" stays under 107


class DesktopError(RuntimeError):
    """The desktop could not be started; the message carries the guest's own words."""


def base_dir() -> Path:
    """Where desktops keep their private directories (mode 0700, per user).

    Unix socket paths are limited to 107 bytes, so a long $XDG_RUNTIME_DIR falls back to /tmp.
    """
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    root = Path(runtime) / "deskhand" if runtime else None
    if root is None or len(str(root)) > MAX_BASE_DIR_CHARS:
        root = Path(tempfile.gettempdir()) / f"deskhand-{os.getuid()}"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = root.lstat()
    # In a shared /tmp another user could have created it first (then plant symlinks in it).
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise DesktopError(
            f"{root} is not a directory owned by you; remove it or set XDG_RUNTIME_DIR"
        )
    root.chmod(0o700)
    return root


def _try_lock(path: Path) -> IO[bytes] | None:
    """Take the lock file of a display number exclusively, or None if a live desktop holds it.

    Opened without truncating and never through a symlink; the lock lasts until the handle is
    closed (or its process dies).
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    handle = os.fdopen(fd, "rb+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _desktop_paths(root: Path, name: str) -> DesktopPaths:
    """Where desktop `name` keeps its files: under `root`, frames on the host tmpfs if any."""
    shm = frames_root()
    return DesktopPaths(
        root / "desktops" / name, shm / f"deskhand-{os.getuid()}-{name}" if shm else None
    )


@dataclass(frozen=True)
class DesktopOptions:
    width: int = 1280
    height: int = 800
    sandbox: bool = True
    autostart: tuple[str, ...] = ()
    keep_files: bool = False
    # None: no network at all (loopback only). Rules: the host runs an allowlisting proxy and
    # the sandbox reaches it through 127.0.0.1:3128 (see deskhand.safety.egress).
    egress: EgressRules | None = None
    # Who resolves names for the proxy (tests inject a table), and who hears each decision.
    egress_resolver: Resolver | None = field(default=None, compare=False, repr=False)
    on_egress: DecisionCallback | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not (320 <= self.width <= 7680 and 200 <= self.height <= 4320):
            raise ValueError(
                f"screen size {self.width}x{self.height} is outside 320x200..7680x4320"
            )
        unknown = [key for key in self.autostart if key not in apps.APPS]
        if unknown:
            raise ValueError(f"unknown apps {unknown}; known: {', '.join(apps.APPS)}")
        if self.egress is not None and not isinstance(self.egress, EgressRules):
            raise TypeError("egress must be EgressRules (see deskhand.safety.egress.load_rules)")
        if self.egress is not None and not self.sandbox:
            raise ValueError(
                "an egress allowlist needs the sandbox: without it every program reaches the "
                "network directly, so no allowlist could be enforced"
            )


@dataclass
class DisplayLease:
    """A display number reserved for one desktop, held through an exclusive lock file."""

    number: int
    lock: IO[bytes] = field(repr=False)

    @classmethod
    def acquire(cls, folder: Path) -> DisplayLease:
        folder.mkdir(mode=0o700, exist_ok=True)
        for number in DISPLAY_RANGE:
            if Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists():
                continue  # in use by an X server outside deskhand
            handle = _try_lock(folder / f"{number}.lock")
            if handle is not None:
                return cls(number, handle)
        raise DesktopError("no free display number")

    def release(self) -> None:
        self.lock.close()


@dataclass(frozen=True)
class VncEndpoint:
    host: str
    port: int
    password: str
    socket: Path


class Desktop:
    def __init__(
        self,
        options: DesktopOptions,
        backend: Backend,
        paths: DesktopPaths,
        lease: DisplayLease,
        process: asyncio.subprocess.Process,
        computer: Computer,
        egress_proxy: EgressProxy | None = None,
    ) -> None:
        self.options = options
        self.backend = backend
        self.paths = paths
        self.lease = lease
        self.process = process
        self.computer = computer
        self.egress_proxy = egress_proxy
        self._stopped = False
        self._servers: list[asyncio.Server] = []

    @property
    def display(self) -> str:
        return f":{self.lease.number}"

    @property
    def home(self) -> Path:
        """The sandbox user's home folder, as seen from the host."""
        return self.paths.home

    @property
    def guest_home(self) -> Path:
        """The same folder as the programs inside the desktop see it."""
        return self.backend.guest_home(self.paths)

    @property
    def log_path(self) -> Path:
        return self.paths.log

    @property
    def egress_log(self) -> list[EgressDecision]:
        """Every request the egress proxy allowed or refused so far (empty without egress)."""
        return list(self.egress_proxy.decisions) if self.egress_proxy else []

    @classmethod
    async def start(cls, options: DesktopOptions | None = None) -> Desktop:
        options = options or DesktopOptions()
        backend = select_backend(options.sandbox, egress=options.egress is not None)
        await asyncio.to_thread(backend.check)
        root = base_dir()
        _remove_stale(root)
        lease = DisplayLease.acquire(root / "displays")
        paths = _desktop_paths(root, f"{lease.number}-{secrets.token_hex(4)}")
        proxy: EgressProxy | None = None
        try:
            paths.create()
            if options.egress is not None:
                proxy = EgressProxy(
                    options.egress,
                    paths.sockets / EGRESS_SOCKET_NAME,
                    resolver=options.egress_resolver,
                    on_decision=options.on_egress,
                )
                await proxy.start()
            return await cls._launch(options, backend, paths, lease, proxy)
        except BaseException:
            if proxy is not None:
                await proxy.stop()
            lease.release()
            _remove_files(paths, options.keep_files)
            raise

    @classmethod
    async def _launch(
        cls,
        options: DesktopOptions,
        backend: Backend,
        paths: DesktopPaths,
        lease: DisplayLease,
        proxy: EgressProxy | None,
    ) -> Desktop:
        token = secrets.token_urlsafe(32)
        size = f"{options.width}x{options.height}"
        argv = await asyncio.to_thread(  # scanning /etc for secrets to mask takes ~60 ms
            backend.wrap,
            paths,
            guest_command(
                backend,
                paths,
                lease.number,
                size,
                ",".join(options.autostart),
                egress=proxy is not None,
            ),
        )
        with paths.log.open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                start_new_session=True,  # Ctrl-C in the terminal reaches us, not the desktop
                env=_host_env(),
                preexec_fn=_limit_file_size,
            )
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(token.encode() + b"\n")
        await process.stdin.drain()
        try:
            await asyncio.wait_for(_read_ready(process, paths), START_TIMEOUT)
            connection = await GuestConnection.open_unix(paths.guest_socket, token)
        except BaseException:
            await _terminate(process)
            raise
        computer = Computer(connection, paths.frames)
        return cls(options, backend, paths, lease, process, computer, proxy)

    async def expose_vnc(self, port: int = 0, view_only: bool = True) -> VncEndpoint:
        """Serve the desktop's VNC on 127.0.0.1 only (password-protected); port 0 picks one."""
        name, password = await self.computer.start_vnc(view_only)
        if not NAME.fullmatch(name.removesuffix(".sock")):
            raise DesktopError(f"the guest named an unexpected VNC socket {name!r}")
        vnc_socket = self.paths.sockets / name

        async def open_vnc() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            return await self.open_inside(vnc_socket)

        server = await asyncio.start_server(relay_to(open_vnc), "127.0.0.1", port)
        self._servers.append(server)
        bound = int(server.sockets[0].getsockname()[1])
        return VncEndpoint("127.0.0.1", bound, password, vnc_socket)

    async def open_inside(self, path: Path) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Connect to a Unix socket the sandbox created, refusing any other listener.

        The sockets folder is writable from inside the sandbox, so a planted symlink could point
        the host at one of its own sockets (docker's, the host X server's). The kernel's
        SO_PEERCRED names the process that accepted: it must belong to this desktop. The
        lstat check refuses symlinks before connecting; the peer check closes the race.
        """
        if not stat.S_ISSOCK(path.lstat().st_mode):  # a symlink or anything else: refuse
            raise ConnectionRefusedError(f"{path} is not a socket")
        reader, writer = await asyncio.open_unix_connection(path)
        sock = writer.get_extra_info("socket")
        peer_pid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[
            0
        ]
        if peer_pid not in processes.descendants(self.process.pid):
            writer.close()
            raise ConnectionRefusedError(f"{path} is not served from inside this desktop")
        return reader, writer

    async def stop(self) -> None:
        """Shut the desktop down and remove its files; safe to call more than once."""
        if self._stopped:
            return
        self._stopped = True
        for server in self._servers:
            server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.computer.connection.call("shutdown"), 1.0)
        await self.computer.close()
        await _terminate(self.process)
        if self.egress_proxy is not None:
            await self.egress_proxy.stop()
        self.lease.release()
        await asyncio.to_thread(_remove_files, self.paths, self.options.keep_files)

    async def __aenter__(self) -> Desktop:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.shield(self.stop())


def _remove_files(paths: DesktopPaths, keep_home: bool) -> None:
    if paths.frames is not None:
        shutil.rmtree(paths.frames, ignore_errors=True)
    if not keep_home:
        shutil.rmtree(paths.root, ignore_errors=True)


def _remove_stale(root: Path) -> None:
    """Remove directories left by desktops whose host process died (their display lock is free)."""
    folder = root / "desktops"
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        number = path.name.split("-", 1)[0]
        lock_path = root / "displays" / f"{number}.lock"
        if not number.isdigit() or not lock_path.exists():
            continue
        handle = _try_lock(lock_path)
        if handle is None:
            continue  # a live desktop owns it
        with handle:
            _remove_files(_desktop_paths(root, path.name), keep_home=False)


async def _read_ready(process: asyncio.subprocess.Process, paths: DesktopPaths) -> None:
    assert process.stdout is not None
    line = await process.stdout.readline()
    if line:
        with contextlib.suppress(json.JSONDecodeError):
            if json.loads(line).get("ready"):
                return
    await process.wait()
    log = paths.log.read_text(errors="replace").strip().splitlines()
    detail = "\n".join(log[-15:]) or f"exit status {process.returncode}"
    raise DesktopError(f"the desktop did not start:\n{detail}")


async def _terminate(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    if process.stdin is not None:
        process.stdin.close()  # the guest's signal to shut down cleanly
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()


def _host_env() -> dict[str, str]:
    """A fixed environment for the sandbox launcher: nothing of the host's. (bwrap is PID 1 in
    the sandbox, and its /proc/1/environ can be read from inside.)"""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


def _limit_file_size() -> None:
    """Runs in the launcher before exec; inherited by everything in the sandbox."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
