"""Sandbox backends: how the guest daemon (and so the whole desktop) is started and confined.

A backend turns the guest's command into the command the host runs, and says where the guest
sees its home and socket. `BubblewrapBackend` is the default; `NoSandboxBackend` exists for
debugging and is never chosen implicitly.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import deskhand
from deskhand.framebuf import FRAME_FILE
from deskhand.safety.egress.inside import EGRESS_SOCKET_NAME, write_chromium_overlay

SANDBOX_USER = "user"
SANDBOX_UID = 1000
SANDBOX_HOME = Path("/home/user")
SANDBOX_SOCKET_DIR = Path("/run/deskhand")
SANDBOX_FRAMES_DIR = Path("/run/deskhand-frames")
TMP_BYTES = 2 * 1024**3
SMALL_TMPFS_BYTES = 256 * 1024**2
# No file written inside the sandbox may exceed this (downloads, the shared frame file).
MAX_FILE_BYTES = 4 * 1024**3
SANDBOX_RUNTIME_DIR = Path(f"/run/user/{SANDBOX_UID}")

# Files in /etc that say something about the host or its secrets; the sandbox sees empty ones.
MASKED_ETC_FILES = (
    "shadow",
    "shadow-",
    "gshadow",
    "gshadow-",
    "sudoers",
    "machine-id",
    "subuid",
    "subgid",
    "security/opasswd",
    "ssl/private",
)
MASKED_ETC_DIRS = ("ssh", "sudoers.d", "ssl/private", "cron.d", "NetworkManager/system-connections")
TOP_LEVEL_SYSTEM = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot start here; the message says what to install or change."""


@dataclass(frozen=True)
class DesktopPaths:
    """Where a desktop's files live on the host: one private directory, plus an optional
    folder on tmpfs for screen frames (see deskhand.framebuf)."""

    root: Path
    frames: Path | None = None

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def sockets(self) -> Path:
        return self.root / "sockets"

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def guest_socket(self) -> Path:
        return self.sockets / "guest.sock"

    @property
    def log(self) -> Path:
        """The guest's stderr: what a failed start reports."""
        return self.root / "guest.log"

    @property
    def frame_file(self) -> Path | None:
        return self.frames / FRAME_FILE if self.frames else None

    def create(self) -> None:
        for path in (self.root, self.home, self.sockets, self.etc, self.frames):
            if path is not None:
                path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.frame_file is not None:
            self.frame_file.touch(mode=0o600)


class Backend(Protocol):
    name: str
    sandboxed: bool

    def check(self) -> None:
        """Raise SandboxUnavailable naming the fix if this backend cannot run here."""

    def guest_home(self, paths: DesktopPaths) -> Path: ...

    def guest_socket(self, paths: DesktopPaths) -> Path: ...

    def guest_frames(self, paths: DesktopPaths) -> Path | None: ...

    def wrap(self, paths: DesktopPaths, guest_argv: list[str]) -> list[str]:
        """The host command that runs `guest_argv` inside this backend."""


def guest_command(
    backend: Backend,
    paths: DesktopPaths,
    display: int,
    size: str,
    autostart: str,
    egress: bool = False,
) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "deskhand.guest",
        "--display",
        str(display),
        "--size",
        size,
        "--home",
        str(backend.guest_home(paths)),
        "--socket",
        str(backend.guest_socket(paths)),
        "--autostart",
        autostart,
    ]
    if egress:  # the host proxy's socket, next to the guest's own
        argv += ["--egress-socket", str(backend.guest_socket(paths).parent / EGRESS_SOCKET_NAME)]
    frames = backend.guest_frames(paths)
    return argv + (["--frames-dir", str(frames)] if frames else [])


class NoSandboxBackend:
    """Runs the desktop as plain host processes. Only for debugging: nothing is isolated."""

    name = "none"
    sandboxed = False

    def check(self) -> None:
        return None

    def guest_home(self, paths: DesktopPaths) -> Path:
        return paths.home

    def guest_socket(self, paths: DesktopPaths) -> Path:
        return paths.guest_socket

    def guest_frames(self, paths: DesktopPaths) -> Path | None:
        return paths.frames

    def wrap(self, paths: DesktopPaths, guest_argv: list[str]) -> list[str]:
        return guest_argv


class BubblewrapBackend:
    """bubblewrap: own user, PID, IPC, UTS, cgroup and network namespaces; read-only system.

    Nothing of the host's home, environment, X socket or network is visible: the sandbox gets a
    private home and /tmp, a loopback-only network, a fresh session (no TIOCSTI into the host's
    terminal), and dies with its parent.

    With `egress`, the network is still loopback-only (the egress proxy's socket arrives through
    the sockets folder); Chromium's /etc folders are replaced by generated read-only copies
    carrying the managed policy (proxy forced, dangerous URL schemes blocked) and proxy flags.
    """

    name = "bubblewrap"
    sandboxed = True

    def __init__(self, egress: bool = False) -> None:
        self.egress = egress

    def check(self) -> None:
        if shutil.which("bwrap") is None:
            raise SandboxUnavailable(
                "bubblewrap is not installed: run `apt-get install bubblewrap` "
                "(or pass --no-sandbox to run unconfined, which is NOT safe)"
            )
        probe = subprocess.run(
            [
                "bwrap",
                "--unshare-user",
                "--unshare-pid",
                "--unshare-net",
                "--die-with-parent",
                "--ro-bind",
                "/",
                "/",
                "--proc",
                "/proc",
                "true",
            ],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        if probe.returncode != 0:
            raise SandboxUnavailable(
                f"bubblewrap cannot create namespaces here ({probe.stderr.strip()}). "
                "Enable unprivileged user namespaces: "
                "`sysctl -w kernel.unprivileged_userns_clone=1` and "
                "`sysctl -w user.max_user_namespaces=15000`; on Ubuntu 24.04+ also "
                "`sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`; inside a container, "
                "allow the unshare/clone syscalls (e.g. docker --security-opt seccomp=unconfined)."
            )

    def guest_home(self, paths: DesktopPaths) -> Path:
        return SANDBOX_HOME

    def guest_socket(self, paths: DesktopPaths) -> Path:
        return SANDBOX_SOCKET_DIR / paths.guest_socket.name

    def guest_frames(self, paths: DesktopPaths) -> Path | None:
        return SANDBOX_FRAMES_DIR if paths.frames else None

    def wrap(self, paths: DesktopPaths, guest_argv: list[str]) -> list[str]:
        _write_identity(paths.etc)
        args = [
            shutil.which("bwrap") or "bwrap",  # the launcher's PATH is minimal
            "--unshare-all",
            "--unshare-user",
            "--die-with-parent",
            "--new-session",
            "--uid",
            str(SANDBOX_UID),
            "--gid",
            str(SANDBOX_UID),
            "--hostname",
            "deskhand",
            "--ro-bind",
            "/usr",
            "/usr",
            *_top_level_links(),
            "--ro-bind",
            "/etc",
            "/etc",
            *_masks(paths.etc / "empty"),
            *_identity_binds(paths.etc),
            *(_chromium_binds(paths.etc / "egress") if self.egress else []),
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            # The sandbox's tmpfs mounts are host RAM: each gets a size.
            "--size",
            str(TMP_BYTES),
            "--tmpfs",
            "/tmp",
            "--perms",
            "1777",
            "--dir",
            "/tmp/.X11-unix",
            "--size",
            str(SMALL_TMPFS_BYTES),
            "--tmpfs",
            "/var",
            "--dir",
            "/var/tmp",
            "--size",
            str(SMALL_TMPFS_BYTES),
            "--tmpfs",
            "/run",
            "--perms",
            "0700",
            "--dir",
            str(SANDBOX_RUNTIME_DIR),
            "--bind",
            str(paths.home),
            str(SANDBOX_HOME),
            "--bind",
            str(paths.sockets),
            str(SANDBOX_SOCKET_DIR),
            # Only the one frame file, never the host tmpfs folder: nothing else can be
            # created in host RAM, and the file's size is capped by RLIMIT_FSIZE.
            *(
                ["--bind", str(paths.frame_file), str(SANDBOX_FRAMES_DIR / FRAME_FILE)]
                if paths.frame_file
                else []
            ),
            *_python_binds(),
            "--clearenv",
            *_env(),
            "--chdir",
            str(SANDBOX_HOME),
            # Last: the sandbox's own root (where the mount points live) becomes read-only too.
            "--remount-ro",
            "/",
            "--",
        ]
        return args + guest_argv


def _top_level_links() -> list[str]:
    """Recreate /bin, /lib... as on the host: symlinks into /usr (merged-usr) or read-only binds."""
    args: list[str] = []
    for name in TOP_LEVEL_SYSTEM:
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", str(path.readlink()), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


def _masks(empty_file: Path) -> list[str]:
    """Hide secrets in /etc behind an empty directory or an empty file.

    The sandbox user maps to the user running deskhand (often root), so the sandbox could read
    every file that user owns. Besides the named secrets, anything in /etc that is not readable
    by everyone (mode o+r) is masked: what the host keeps private stays private whatever it is.
    An empty file, not /dev/null: a host /dev mounted nodev would make the mask unreadable.
    """
    etc = Path("/etc")
    dirs = {etc / name for name in MASKED_ETC_DIRS if (etc / name).is_dir()}
    files = {etc / name for name in MASKED_ETC_FILES if (etc / name).is_file()}
    for folder, subdirs, names in os.walk(etc):
        here = Path(folder)
        for name in list(subdirs):
            path = here / name
            if not path.is_symlink() and not _world_readable(path, stat.S_IROTH | stat.S_IXOTH):
                dirs.add(path)
                subdirs.remove(name)  # masked whole: no need to look inside
        files.update(
            here / name
            for name in names
            if (here / name).is_file()
            and not (here / name).is_symlink()
            and not _world_readable(here / name, stat.S_IROTH)
        )
    args: list[str] = []
    for path in sorted(dirs):
        args += ["--tmpfs", str(path)]
    for path in sorted(files):
        if not any(folder in path.parents for folder in dirs):
            args += ["--ro-bind", str(empty_file), str(path)]
    return args


def _world_readable(path: Path, bits: int) -> bool:
    try:
        return path.lstat().st_mode & bits == bits
    except OSError:
        return False


def _write_identity(folder: Path) -> None:
    """passwd/group/hosts for the sandbox (one user, no host accounts or names), and the empty
    file that masks secrets."""
    home = SANDBOX_HOME
    (folder / "passwd").write_text(
        f"root:x:0:0:root:/root:/usr/sbin/nologin\n"
        f"{SANDBOX_USER}:x:{SANDBOX_UID}:{SANDBOX_UID}:deskhand:{home}:/bin/bash\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
    (folder / "group").write_text(f"root:x:0:\n{SANDBOX_USER}:x:{SANDBOX_UID}:\nnogroup:x:65534:\n")
    (folder / "hostname").write_text("deskhand\n")
    (folder / "hosts").write_text("127.0.0.1\tlocalhost deskhand\n::1\tlocalhost\n")
    (folder / "empty").write_text("")


def _identity_binds(folder: Path) -> list[str]:
    args: list[str] = []
    for name in ("passwd", "group", "hostname", "hosts"):
        args += ["--ro-bind", str(folder / name), f"/etc/{name}"]
    return args


def _chromium_binds(folder: Path) -> list[str]:
    args: list[str] = []
    for inside, host in write_chromium_overlay(folder).items():
        args += ["--ro-bind", str(host), str(inside)]
    return args


def _python_binds() -> list[str]:
    """Make this Python and the deskhand package visible (read-only) at the same paths."""
    package_root = Path(deskhand.__file__).resolve().parent.parent
    candidates = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), package_root}
    system = Path("/usr")
    args: list[str] = []
    for path in sorted(candidates):
        if path == system or system in path.parents:
            continue
        args += ["--ro-bind", str(path), str(path)]
    # A venv's bin/python is a symlink; keep its path so sys.prefix resolves to the venv.
    venv = Path(sys.prefix)
    if venv.resolve() != venv:
        args += ["--ro-bind", str(venv), str(venv)]
    return args


def _env() -> list[str]:
    env = {
        "HOME": str(SANDBOX_HOME),
        "USER": SANDBOX_USER,
        "LOGNAME": SANDBOX_USER,
        "SHELL": "/bin/bash",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "XDG_RUNTIME_DIR": str(SANDBOX_RUNTIME_DIR),
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    args: list[str] = []
    for key, value in env.items():
        args += ["--setenv", key, value]
    return args


def select_backend(sandbox: bool, egress: bool = False) -> Backend:
    """The backend for a desktop; egress rules need the sandbox (without it, programs would
    reach the network directly, so the allowlist would mean nothing)."""
    if not sandbox:
        if egress:
            raise ValueError("an egress allowlist needs the sandbox; --no-sandbox has no filter")
        return NoSandboxBackend()
    return BubblewrapBackend(egress=egress)
