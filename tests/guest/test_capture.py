"""ScreenCapture against a real Xvfb: size, pixels, backend and the composited pointer."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

import numpy as np

from deskhand.guest.capture import Frame, ScreenCapture
from deskhand.guest.events import Move
from deskhand.guest.xinput import InputInjector

from .xclients import HEIGHT, WIDTH, Apps, wait_until, xvfb

RED_BGRA = (0, 0, 255, 255)
GREEN_BGRA = (0, 255, 0, 255)


def solid_root(apps: Apps, capture: ScreenCapture, colour: str, bgra: tuple[int, ...]) -> None:
    apps.run(["xsetroot", "-solid", colour])
    wait_until(
        lambda: True if (capture.grab(with_cursor=False).data == bgra).all() else None,
        f"the root to turn {colour}",
    )


def changed_box(a: Frame, b: Frame) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the pixels that differ between two frames."""
    rows, cols = np.nonzero((a.data != b.data).any(axis=2))
    assert rows.size, "the frames are identical"
    return int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max())


def test_grabs_the_whole_screen_through_mit_shm(capture: ScreenCapture) -> None:
    assert capture.size() == (WIDTH, HEIGHT)
    frame = capture.grab()
    assert (frame.width, frame.height) == (WIDTH, HEIGHT)
    assert frame.data.shape == (HEIGHT, WIDTH, 4)
    assert frame.data.dtype == np.uint8
    assert capture.backend == "xshmgetimage", capture.notes
    # The X pad byte is turned into real alpha.
    assert (frame.data[..., 3] == 255).all()


def test_pixels_are_bgra_at_the_right_place(apps: Apps, capture: ScreenCapture) -> None:
    solid_root(apps, capture, "#ff0000", RED_BGRA)
    ready = apps.recorder("--geometry", "200x100+50+60", "--background", "#00ff00").ready
    assert (ready["x"], ready["y"]) == (50, 60)
    green = wait_until(
        lambda: capture.grab(with_cursor=False) if capture.grab().data[60, 50, 1] == 255 else None,
        "the recorder window",
    )
    mask = (green.data == GREEN_BGRA).all(axis=2)
    assert mask[60:160, 50:250].all()
    assert mask.sum() == 200 * 100
    assert (green.data[59, 50] == RED_BGRA).all() and (green.data[60, 250] == RED_BGRA).all()


def test_pointer_is_drawn_where_it_is(
    apps: Apps, capture: ScreenCapture, injector: InputInjector
) -> None:
    solid_root(apps, capture, "#ff0000", RED_BGRA)
    for x, y in [(300, 200), (900, 650)]:
        injector.apply([Move(x=x, y=y)])
        bare, drawn = capture.grab(with_cursor=False), capture.grab(with_cursor=True)
        assert (bare.data == RED_BGRA).all(), "the server itself never draws the pointer"
        left, top, right, bottom = changed_box(bare, drawn)
        # Xvfb's default pointer is the 16x16 "X" cursor with its hotspot in the middle.
        assert left <= x <= right and top <= y <= bottom
        assert right - left < 32 and bottom - top < 32


def test_pointer_at_the_screen_edge_is_clipped(
    apps: Apps, capture: ScreenCapture, injector: InputInjector
) -> None:
    solid_root(apps, capture, "#ff0000", RED_BGRA)
    injector.apply([Move(x=WIDTH - 1, y=HEIGHT - 1)])
    left, top, right, bottom = changed_box(capture.grab(with_cursor=False), capture.grab())
    assert (right, bottom) == (WIDTH - 1, HEIGHT - 1)
    assert left > WIDTH - 32 and top > HEIGHT - 32


def test_falls_back_to_getimage_without_mit_shm() -> None:
    # In a separate interpreter: python-xlib keeps extension event codes in a class-level
    # table, so one process cannot talk to X servers with different extension sets.
    probe = """
import json, sys
from deskhand.guest.capture import ScreenCapture
with ScreenCapture(sys.argv[1]) as capture:
    frame = capture.grab()
    print(json.dumps({
        "backend": capture.backend,
        "notes": capture.notes,
        "shape": frame.data.shape,
        "opaque": bool((frame.data[..., 3] == 255).all()),
    }))
"""
    with xvfb("-extension", "MIT-SHM") as name:
        out = subprocess.run(
            [sys.executable, "-c", probe, name], capture_output=True, text=True, check=True
        ).stdout
    result = json.loads(out)
    assert result["backend"] == "xgetimage"
    assert any("MIT-SHM" in note for note in result["notes"]), result["notes"]
    assert result["shape"] == [HEIGHT, WIDTH, 4]
    assert result["opaque"]


def test_capture_is_cheap(capture: ScreenCapture) -> None:
    timings = []
    for _ in range(30):
        start = time.perf_counter()
        capture.grab()
        timings.append(time.perf_counter() - start)
    # ~1 ms measured; a screenshot subprocess takes 60+ ms. The bound is loose on purpose:
    # speed is measured by `deskhand bench`; this only catches a capture path gone wrong.
    assert statistics.median(timings) < 0.050
