"""Screen frames through shared memory, for guests that share a tmpfs with the host.

Moving a 4 MB frame through a stream socket costs 20-35 ms in asyncio; writing it into a file on
tmpfs (/dev/shm; only that one file is bound into the sandbox) and reading it on the host costs
about 1 ms each side.
The protocol still carries the request and the frame's size; only the pixels take this path.
Guests without a shared tmpfs (TCP) send the pixels as the reply's blob.

The folder is writable from inside the sandbox, so the host trusts nothing in it: it opens the
file relative to a descriptor of the folder with O_NOFOLLOW (a symlink planted by the sandbox
cannot make the host read one of its own files into a screenshot), requires a regular file, and
copies with pread rather than mmap (a guest truncating the file mid-read gets a short read and
an error, not a SIGBUS in the host).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import numpy as np
import numpy.typing as npt

NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
FRAME_FILE = "screen"  # the one frame file of a desktop


class FrameFileError(RuntimeError):
    """The shared frame file is missing, not a regular file, or shorter than the frame."""


def frames_root() -> Path | None:
    """The host tmpfs for frame files, or None when there is none (then frames use the socket)."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else None


class SharedFrameWriter:
    """The guest's side: rewrites one frame file for every capture.

    pwrite, not mmap: the sandbox may truncate the file at any time, which would make writes
    into a mapping fault (SIGBUS kills the guest); pwrite simply extends the file again.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = -1

    def write(self, pixels: npt.NDArray[np.uint8]) -> None:
        if self._fd < 0:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        data = pixels.reshape(-1).data
        if os.pwrite(self._fd, data, 0) != pixels.nbytes:
            raise OSError(f"short write to {self.path}")

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class SharedFrameReader:
    """The host's side: reads frames out of `folder / name` without trusting the folder."""

    def __init__(self, folder: Path, name: str) -> None:
        if not NAME.match(name):
            raise ValueError(f"bad frame file name {name!r}")
        self.name = name
        self._folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)

    def read(self, width: int, height: int) -> npt.NDArray[np.uint8]:
        """A private copy of the frame (the next capture cannot change it under the caller)."""
        size = width * height * 4
        try:
            # O_NONBLOCK: a FIFO planted in the folder must not block the open forever.
            fd = os.open(
                self.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=self._folder_fd
            )
        except OSError as exc:
            raise FrameFileError(f"cannot open the shared frame file: {exc}") from exc
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise FrameFileError("the shared frame file is not a regular file")
            pixels = np.empty(size, dtype=np.uint8)
            if os.preadv(fd, [pixels.data], 0) != size:
                raise FrameFileError("the shared frame file is shorter than the frame")
        finally:
            os.close(fd)
        return pixels.reshape(height, width, 4)

    def close(self) -> None:
        if self._folder_fd >= 0:
            os.close(self._folder_fd)
            self._folder_fd = -1
