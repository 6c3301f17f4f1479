"""File operations inside the sandbox: the byte-level half of the text editor tool.

The guest only moves bytes: read with a size limit, list a folder, write atomically. Decoding,
line endings and every editing rule live on the host (deskhand.tools.editor), so this side stays
small and has nothing to get wrong about text.

A file problem the caller can act on (missing file, folder, too large, exists, changed...) is a
normal result carrying `error` (a code below) and `message` (the OS's words), not a protocol
error: the host turns it into a sentence for the model. Codes: not_found, not_directory,
is_directory, not_regular, too_large, exists, changed, permission, os_error.

Writes never leave a torn file: the new bytes go to a temporary file in the same folder (so the
rename cannot cross file systems), are flushed to disk, then renamed over the target. A path that
is a symbolic link is followed, so the target changes and the link stays a link. Hard links to the
target, its owner and extended attributes are not carried over (rename makes a new inode); its
permission bits are.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from deskhand import wire

if TYPE_CHECKING:
    from deskhand.guest.service import Handler, Result

ArgsT = TypeVar("ArgsT", bound=BaseModel)

TEMP_MARK = ".deskhand-"  # temporary files are named ".{name}.deskhand-{random}.tmp"
_TEMP_NAME_CHARS = 50  # at 4 UTF-8 bytes each, the temporary name stays under 255 bytes
_READ_CHUNK = 1024 * 1024
_OS_CODES = {
    errno.ENOENT: "not_found",
    errno.ENOTDIR: "not_directory",
    errno.EISDIR: "is_directory",
    errno.EEXIST: "exists",
    errno.EACCES: "permission",
    errno.EPERM: "permission",
    errno.EROFS: "permission",
}

# An absolute path the kernel can take: the host checks paths first and explains problems, this
# is the guest refusing anything it could not open anyway.
AbsolutePath = Annotated[str, Field(min_length=1, max_length=4096, pattern=r"^/[^\x00]*$")]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class NoArgs(_Args):
    pass


class ReadArgs(_Args):
    path: AbsolutePath
    max_bytes: int = Field(ge=0, le=wire.MAX_BLOB_BYTES)


class WriteArgs(_Args):
    """Replace a regular file (or, with `create`, make a new one); the bytes are the blob.

    `expected_sha256`: refuse the write unless the file still holds exactly the bytes the new
    content was computed from, so a change made meanwhile by another program is not lost.
    """

    path: AbsolutePath
    create: bool = False
    expected_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    blob: bytes = b""


class ListArgs(_Args):
    path: AbsolutePath
    depth: int = Field(default=2, ge=1, le=4)
    max_entries: int = Field(default=1000, ge=1, le=100_000)


class FileProblem(Exception):
    """A file-level failure reported to the caller as a result with `error` and `message`."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def result(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.details}

    @classmethod
    def from_os_error(cls, exc: OSError) -> FileProblem:
        code = _OS_CODES.get(exc.errno or 0, "os_error")
        problem = cls(code, exc.strerror or str(exc))
        # A dangling symbolic link is "missing": saying where it points names the real issue.
        name = exc.filename
        if code == "not_found" and isinstance(name, str) and Path(name).is_symlink():
            problem.details["link_target"] = str(Path(name).readlink())
        return problem


class FileService:
    """The "file.*" operations, run in worker threads so slow disks never stall the desktop."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def handlers(self) -> dict[str, Handler]:
        return {
            "file.home": _threaded(NoArgs, self.home_folder),
            "file.read": _threaded(ReadArgs, read_file),
            "file.write": _threaded(WriteArgs, write_file),
            "file.list": _threaded(ListArgs, list_folder),
        }

    def home_folder(self, _: NoArgs) -> Result:
        """Where relative paths most likely meant to point (the host suggests paths under it)."""
        return {"home": str(self.home)}, b""


def _threaded(model: type[ArgsT], func: Callable[[ArgsT], Result]) -> Handler:
    async def handler(raw: dict[str, Any]) -> Result:
        args = model.model_validate(raw)
        return await asyncio.to_thread(_reporting_problems, func, args)

    return handler


def _reporting_problems(func: Callable[[ArgsT], Result], args: ArgsT) -> Result:
    try:
        return func(args)
    except FileProblem as problem:
        return problem.result(), b""
    except OSError as exc:
        return FileProblem.from_os_error(exc).result(), b""


def read_file(args: ReadArgs) -> Result:
    """The bytes of a regular file, if it has at most `max_bytes`."""
    # O_NONBLOCK: opening a FIFO must not hang the worker waiting for a writer.
    fd = os.open(args.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        _require_regular(info)
        if info.st_size > args.max_bytes:
            raise FileProblem("too_large", "File too large", size=info.st_size)
        data = _read_up_to(fd, args.max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > args.max_bytes:  # it grew after fstat
        raise FileProblem("too_large", "File too large", size=len(data))
    return {"size": len(data), "real_path": os.path.realpath(args.path)}, data


def write_file(args: WriteArgs) -> Result:
    # Follow symbolic links: the rename then replaces the target, and the link survives.
    target = Path(os.path.realpath(args.path))
    mode = None if args.create else _check_replaceable(target, args.expected_sha256)
    _write_atomically(target, args.blob, mode)
    return {"size": len(args.blob), "real_path": str(target)}, b""


def list_folder(args: ListArgs) -> Result:
    """Entries up to `depth` levels below a folder, hidden ones (and their contents) left out.

    Paths are relative to the folder, in name order, each folder followed by its contents;
    symbolic links to folders are listed but not entered. `total` counts every entry seen, even
    past `max_entries`; folders that could not be read are reported in `errors`.
    """
    if not stat.S_ISDIR(Path(args.path).stat().st_mode):  # stat: a missing path is not_found
        raise FileProblem("not_directory", "Not a directory")
    listing = _Listing(args.max_entries)
    listing.walk(Path(args.path), "", args.depth)
    return {"entries": listing.entries, "total": listing.total, "errors": listing.errors}, b""


@dataclass
class _Listing:
    max_entries: int
    entries: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    total: int = 0

    def walk(self, folder: Path, prefix: str, depth: int) -> None:
        try:
            with os.scandir(folder) as scan:
                children = sorted(
                    (entry for entry in scan if not entry.name.startswith(".")),
                    key=lambda entry: entry.name,
                )
        except OSError as exc:
            self.errors.append({"path": prefix, "message": exc.strerror or str(exc)})
            return
        for entry in children:
            relative = f"{prefix}{entry.name}"
            is_dir = entry.is_dir(follow_symlinks=False)
            self.total += 1
            if len(self.entries) < self.max_entries:
                self.entries.append({"path": relative, "dir": is_dir})
            if is_dir and depth > 1:
                self.walk(Path(entry.path), f"{relative}/", depth - 1)


def _require_regular(info: os.stat_result) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise FileProblem("is_directory", "Is a directory")
    if not stat.S_ISREG(info.st_mode):
        raise FileProblem("not_regular", "Not a regular file")


def _read_up_to(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = os.read(fd, min(remaining, _READ_CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _check_replaceable(target: Path, expected_sha256: str | None) -> int:
    """The permission bits of the regular file `target`, after the `expected_sha256` check."""
    fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        _require_regular(info)
        if expected_sha256 is not None:
            digest = hashlib.sha256(_read_up_to(fd, info.st_size + 1)).hexdigest()
            if digest != expected_sha256:
                raise FileProblem("changed", "The file changed since it was read")
    finally:
        os.close(fd)
    return stat.S_IMODE(info.st_mode)


def _write_atomically(target: Path, data: bytes, mode: int | None) -> None:
    """Write `data` to `target` through a temporary file, so `target` is never torn.

    mode None: create `target`, failing if it exists (the umask decides its permissions);
    otherwise replace it and give the new file these permission bits.
    """
    name = f".{target.name[:_TEMP_NAME_CHARS]}{TEMP_MARK}{secrets.token_hex(4)}.tmp"
    temp = target.with_name(name)
    # A replacement starts private: the old file may be secret, its bits are applied below.
    initial = 0o666 if mode is None else 0o600
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, initial)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            if mode is not None:
                os.fchmod(stream.fileno(), mode)
            os.fsync(stream.fileno())
        if mode is None:
            # link() fails if the name exists, so a file created meanwhile is never overwritten.
            os.link(temp, target)
        else:
            temp.replace(target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    _sync_folder(target.parent)


def _sync_folder(folder: Path) -> None:
    """Flush the folder entry too, so the rename itself survives a power cut."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
