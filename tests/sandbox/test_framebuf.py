"""The host's frame reader trusts nothing in the frames folder (defence in depth: the sandbox
sees only the one frame file, see test_sandbox.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from deskhand.framebuf import FRAME_FILE, FrameFileError, SharedFrameReader, SharedFrameWriter


def frame(value: int) -> np.ndarray:
    return np.full((8, 10, 4), value, dtype=np.uint8)


def test_a_written_frame_reads_back_as_a_private_copy(tmp_path: Path) -> None:
    writer = SharedFrameWriter(tmp_path / FRAME_FILE)
    reader = SharedFrameReader(tmp_path, FRAME_FILE)
    writer.write(frame(7))
    first = reader.read(10, 8)
    writer.write(frame(9))
    assert (first == 7).all() and (reader.read(10, 8) == 9).all()


def test_a_symlink_is_never_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"A" * 320)
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / FRAME_FILE).symlink_to(secret)
    with pytest.raises(FrameFileError, match="cannot open"):
        SharedFrameReader(frames, FRAME_FILE).read(10, 8)


def test_a_fifo_does_not_block_the_reader(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / FRAME_FILE)
    start = time.monotonic()
    with pytest.raises(FrameFileError, match="not a regular file"):
        SharedFrameReader(tmp_path, FRAME_FILE).read(10, 8)
    assert time.monotonic() - start < 1


def test_a_short_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / FRAME_FILE).write_bytes(b"x" * 10)
    with pytest.raises(FrameFileError, match="shorter"):
        SharedFrameReader(tmp_path, FRAME_FILE).read(10, 8)


def test_only_simple_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bad frame file name"):
        SharedFrameReader(tmp_path, "../escape")
