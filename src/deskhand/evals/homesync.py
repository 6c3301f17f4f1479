"""Fast home-folder reset: copy a pristine home once, then make the live home equal to it again.

Like `rsync -a --delete`, done on the host with directory file descriptors and O_NOFOLLOW: the
home folder is written from inside the sandbox, so a symlink planted there (``~/.config ->
/root/.ssh``) must be removed, never followed. Unchanged files (same type, size, mtime and
mode) are left alone, so a reset costs about a stat per file plus whatever the task changed.
Sockets and FIFOs in the template are left as they are.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
COPY_CHUNK = 1 << 20


@contextlib.contextmanager
def _open_dir(name: str | Path, dir_fd: int | None = None) -> Iterator[int]:
    fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    try:
        yield fd
    finally:
        os.close(fd)


def _entries(fd: int) -> dict[str, os.stat_result]:
    with os.scandir(fd) as scan:
        return {entry.name: entry.stat(follow_symlinks=False) for entry in scan}


def _remove(name: str, info: os.stat_result, dir_fd: int) -> None:
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(name, dir_fd=dir_fd)  # fd-based: does not follow symlinks inside
    else:
        os.unlink(name, dir_fd=dir_fd)


def _copy_file(name: str, info: os.stat_result, src_fd: int, dst_fd: int) -> None:
    source = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_fd)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        target = os.open(name, flags, 0o600, dir_fd=dst_fd)
        try:
            while chunk := os.read(source, COPY_CHUNK):
                os.write(target, chunk)
            os.fchmod(target, stat.S_IMODE(info.st_mode))
            os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))
        finally:
            os.close(target)
    finally:
        os.close(source)


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (
        stat.S_ISREG(b.st_mode)
        and a.st_size == b.st_size
        and a.st_mtime_ns == b.st_mtime_ns
        and a.st_mode == b.st_mode
    )


def _sync_dir(src_fd: int, dst_fd: int) -> int:
    """Make folder dst equal to src; returns how many entries were written or removed."""
    changed = 0
    want = _entries(src_fd)
    have = _entries(dst_fd)
    for name, info in have.items():
        if name not in want:
            _remove(name, info, dst_fd)
            changed += 1
    for name, info in want.items():
        current = have.get(name)
        mode = info.st_mode
        if stat.S_ISDIR(mode):
            if current is not None and not stat.S_ISDIR(current.st_mode):
                _remove(name, current, dst_fd)
                current = None
            if current is None:
                os.mkdir(name, 0o700, dir_fd=dst_fd)
                changed += 1
            with _open_dir(name, src_fd) as sub_src, _open_dir(name, dst_fd) as sub_dst:
                changed += _sync_dir(sub_src, sub_dst)
                os.fchmod(sub_dst, stat.S_IMODE(mode))
        elif stat.S_ISLNK(mode):
            link = os.readlink(name, dir_fd=src_fd)
            same = current is not None and stat.S_ISLNK(current.st_mode)
            if same and os.readlink(name, dir_fd=dst_fd) == link:
                continue
            if current is not None:
                _remove(name, current, dst_fd)
            os.symlink(link, name, dir_fd=dst_fd)
            changed += 1
        elif stat.S_ISREG(mode):
            if current is not None and _same_file(info, current):
                continue
            if current is not None:
                _remove(name, current, dst_fd)
            _copy_file(name, info, src_fd, dst_fd)
            changed += 1
    return changed


def sync_tree(source: Path, target: Path) -> int:
    """Make `target` equal to `source` (both existing folders); returns entries changed."""
    with _open_dir(source) as src_fd, _open_dir(target) as dst_fd:
        return _sync_dir(src_fd, dst_fd)


def snapshot(home: Path, template: Path) -> int:
    """Copy `home` into the (new or existing) folder `template`."""
    template.mkdir(mode=0o700, parents=True, exist_ok=True)
    return sync_tree(home, template)


def write_file(home: Path, relative: str, data: bytes, mode: int | None = None) -> None:
    """Write a file under `home`, creating folders, never following a symlink on the way."""
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
        raise ValueError(f"{relative!r} is not a path inside the home folder")
    with _open_dir(home) as root:
        fd = os.dup(root)
    try:
        for part in parts[:-1]:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=fd)
            child = os.open(part, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        out = os.open(parts[-1], flags, 0o644, dir_fd=fd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(out, view) :]
            if mode is not None:
                os.fchmod(out, mode)
        finally:
            os.close(out)
    finally:
        os.close(fd)
