"""SettleWatcher against a real Xvfb, plus the settle rule on synthetic timelines."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from Xlib import XK

from deskhand.guest.capture import ScreenCapture
from deskhand.guest.events import InputEvent, Key, Move, Text
from deskhand.guest.settle import (
    DEFAULT_GRACE_MS,
    SettleError,
    SettleReport,
    SettleWatcher,
    _Timeline,
)
from deskhand.guest.xinput import InputInjector

from .xclients import Apps, RecorderApp

A = int(XK.string_to_keysym("a"))
PRESS_A: list[InputEvent] = [Key(keysym=A, down=True), Key(keysym=A, down=False)]


async def act(
    watcher: SettleWatcher, injector: InputInjector, events: list[InputEvent], **limits: float
) -> SettleReport:
    watcher.arm()
    await injector.apply_async(events)
    return await watcher.wait(**limits)


async def settled_frame_is_final(capture: ScreenCapture) -> bool:
    """Whether the frame right after settling equals one taken a second later."""
    now = capture.grab(with_cursor=False).data.copy()
    await asyncio.sleep(1.0)
    return bool(np.array_equal(now, capture.grab(with_cursor=False).data))


def last_paint_ms(recorder: RecorderApp, armed_at: float) -> float:
    return (float(recorder.records("paint")[-1]["t"]) - armed_at) * 1000


@pytest.mark.parametrize(
    ("changes_ms", "settles_at_ms"),
    [
        ([], DEFAULT_GRACE_MS),  # no damage: settled after the grace period
        ([5], 105),  # one paint: the plain quiet window
        ([5, 15, 25], 125),  # small gaps never stretch the window
        ([10, 90], 210),  # an 80 ms gap: quiet becomes 1.5 x 80 = 120
        ([10, 90, 180, 270], 405),  # 90 ms frame clock: 135 ms of quiet
        ([10, 105, 245, 450, 750], 1150),  # each gap stretches the next window, up to 4 x 100
    ],
)
def test_settle_rule(changes_ms: list[float], settles_at_ms: float) -> None:
    timeline = _Timeline(start=0.0)
    for at in changes_ms:
        timeline.record(at / 1000, 1)
    assert timeline.settle_at(100, DEFAULT_GRACE_MS) * 1000 == pytest.approx(settles_at_ms)


async def test_no_op_settles_after_the_grace_period(
    watcher: SettleWatcher, injector: InputInjector
) -> None:
    report = await act(watcher, injector, [], grace_ms=150)
    assert not report.changed and report.damage_events == 0 and not report.timed_out
    assert report.first_change_ms is None and report.last_change_ms is None
    # Upper bounds are loose: a busy 2-core CI machine can wake the event loop late.
    assert 150 <= report.settled_ms < 600


async def test_pointer_motion_damages_nothing(
    apps: Apps, watcher: SettleWatcher, injector: InputInjector
) -> None:
    apps.recorder("--geometry", "300x200+100+100")
    # Across the bare root and over a client window: the pointer is not in the framebuffer.
    moves: list[InputEvent] = [Move(x=x, y=x // 2) for x in range(0, 600, 25)]
    report = await act(watcher, injector, moves, grace_ms=150)
    assert not report.changed, report


async def test_keypress_settles_after_the_last_repaint(
    apps: Apps, watcher: SettleWatcher, injector: InputInjector, capture: ScreenCapture
) -> None:
    recorder = apps.recorder("--fullscreen", "--paint-at-ms", "0,30,60,90")
    watcher.arm()
    armed_at = time.monotonic()
    await injector.apply_async(PRESS_A)
    report = await watcher.wait(quiet_ms=100)
    assert report.changed and not report.timed_out
    assert len(recorder.records("paint")) == 4
    last_paint = last_paint_ms(recorder, armed_at)
    assert report.last_change_ms is not None
    assert last_paint - 5 <= report.last_change_ms <= last_paint + 80
    # Never before the quiet window has passed; late wake-ups are tolerated.
    assert report.last_change_ms + 100 - 2 <= report.settled_ms <= report.last_change_ms + 200
    assert await settled_frame_is_final(capture)


async def test_quiet_window_stretches_for_a_slow_frame_clock(
    apps: Apps, watcher: SettleWatcher, injector: InputInjector, capture: ScreenCapture
) -> None:
    # Gaps of 45 then 55 ms: a fixed 50 ms window would return between the last two paints.
    recorder = apps.recorder("--fullscreen", "--paint-at-ms", "0,45,100")
    report = await act(watcher, injector, PRESS_A, quiet_ms=50)
    assert len(recorder.records("paint")) == 3
    assert report.last_change_ms is not None and report.last_change_ms >= 95
    assert await settled_frame_is_final(capture)


async def test_continuous_animation_times_out(
    apps: Apps, watcher: SettleWatcher, injector: InputInjector
) -> None:
    frames = ",".join(str(ms) for ms in range(0, 1500, 20))
    apps.recorder("--fullscreen", "--paint-at-ms", frames)
    report = await act(watcher, injector, PRESS_A, max_ms=400)
    assert report.timed_out and report.changed
    assert 400 <= report.settled_ms < 900
    assert report.damage_events >= 10


async def test_xterm_output_settles_on_the_final_frame(
    apps: Apps, watcher: SettleWatcher, injector: InputInjector, capture: ScreenCapture
) -> None:
    apps.xterm("exec sh")
    await act(watcher, injector, [Move(x=100, y=100), Text(text="PS1='$ '\n")])
    report = await act(watcher, injector, [Text(text="seq 1 300; echo done\n")])
    assert report.changed and not report.timed_out
    assert report.first_change_ms is not None and report.first_change_ms < 50
    assert await settled_frame_is_final(capture)


async def test_wait_needs_arm(watcher: SettleWatcher) -> None:
    with pytest.raises(SettleError):
        await watcher.wait()
