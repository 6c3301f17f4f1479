"""Waiting for the screen to settle after an action, driven by XDAMAGE events.

A Damage object on the root window reports every drawing anywhere on the screen: the first
DamageNotify arrives 1.5-3 ms after an XTEST keystroke, with no frame copies or polling. The
watcher records when damage arrives and decides "settled" from the timeline alone:

* no damage within `grace_ms` of the action: settled, nothing changed (a no-op action);
* after damage: settled once the screen has been quiet for `quiet`, where
  quiet = max(quiet_ms, 1.5 x the largest gap between damage events so far), capped at
  4 x quiet_ms, so that an application painting on its own frame clock stretches the window;
* `max_ms` after the action: give up and report `timed_out` (continuous animation).

The pointer is not part of the framebuffer in Xvfb: moving it damages nothing, so a move
never stretches the wait (captures draw the pointer themselves, see capture.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from Xlib import display as xdisplay
from Xlib.ext import damage

from deskhand.guest.closing import Closing

# Defaults, from the measurements in research/screen-io-perf.md (section 5):
# - X11 clients (xterm, openbox menus) change the screen 2-6 ms after input and finish within
#   11-40 ms (xterm scrolling: up to ~70 ms) with gaps of a few ms between paints.
# - Chromium paints on its own frame clock: first change 20-60 ms after input (111 ms at
#   worst), then 60-90 ms between frames during page loads and smooth scrolls, done by
#   100-230 ms. Quiet windows of 30-60 ms returned mid-load; 135-150 ms was always right.
# QUIET 60 ms: X11 apps settle ~60 ms after their last paint, which keeps a click or key step
# on a static app under 100 ms; once Chromium shows a gap, the 1.5x-gap rule widens the window
# to ~90-135 ms for it (research: a 75 ms window after the first change was right 8/8 at
# 1280x800 for page loads and smooth scrolls; deskhand bench measures this every run).
# GRACE 80 ms covers Chromium's usual first reaction (20-60 ms at 1280x800); it is what a true
# no-op (a click on nothing, a pointer move that hovers over nothing) costs.
# MAX 2 s is the old fixed sleep: only continuous animation reaches it.
DEFAULT_QUIET_MS = 60.0
DEFAULT_GRACE_MS = 80.0
DEFAULT_MAX_MS = 2000.0
# Applications that paint on their own frame clock get a longer profile: their first change can
# come 100+ ms after input (a 80 ms grace returned the old page in ~10% of Chromium page loads)
# and their frames come 60-90 ms apart. 100/200 caught every case measured (8/8 page loads).
SLOW_PAINTER_CLASSES = frozenset(
    {"chromium", "chromium-browser", "google-chrome", "firefox", "firefox-esr", "code"}
)
SLOW_PAINTER_QUIET_MS = 100.0
SLOW_PAINTER_GRACE_MS = 200.0
GAP_FACTOR = 1.5
QUIET_CAP_FACTOR = 4.0


class SettleError(RuntimeError):
    """The X server cannot report damage, or the watcher was used out of order."""


@dataclass(frozen=True, slots=True)
class SettleReport:
    """What happened on screen after an action; times are ms since `SettleWatcher.arm`."""

    first_change_ms: float | None
    last_change_ms: float | None
    settled_ms: float
    damage_events: int
    timed_out: bool
    changed: bool


@dataclass(slots=True)
class _Timeline:
    """Damage arrival times (time.monotonic seconds) for one wait, and the settle rule on them."""

    start: float
    first: float | None = None
    last: float | None = None
    largest_gap: float = 0.0
    events: int = 0

    def record(self, at: float, events: int) -> None:
        if self.last is None:
            self.first = at
        else:
            self.largest_gap = max(self.largest_gap, at - self.last)
        self.last = at
        self.events += events

    def quiet_s(self, quiet_ms: float) -> float:
        stretched = max(quiet_ms / 1000, GAP_FACTOR * self.largest_gap)
        return min(stretched, QUIET_CAP_FACTOR * quiet_ms / 1000)

    def settle_at(self, quiet_ms: float, grace_ms: float) -> float:
        """When the rule calls the screen settled if nothing else arrives (ignoring max_ms)."""
        if self.last is None:
            return self.start + grace_ms / 1000
        return self.last + self.quiet_s(quiet_ms)

    def report(self, now: float, timed_out: bool) -> SettleReport:
        return SettleReport(
            first_change_ms=self._ms(self.first),
            last_change_ms=self._ms(self.last),
            settled_ms=(now - self.start) * 1000,
            damage_events=self.events,
            timed_out=timed_out,
            changed=self.events > 0,
        )

    def _ms(self, at: float | None) -> float | None:
        return None if at is None else (at - self.start) * 1000


@dataclass(frozen=True, slots=True)
class _Armed:
    """One action's watch: its timeline, the wake-up for wait(), the loop reading the fd."""

    timeline: _Timeline
    damaged: asyncio.Event
    loop: asyncio.AbstractEventLoop


class SettleWatcher(Closing):
    """Watches one X display (e.g. ":99") for damage; `arm()` before an action, then `wait()`."""

    def __init__(self, display: str) -> None:
        self._display: Any = xdisplay.Display(display)
        try:
            if not self._display.has_extension("DAMAGE"):
                raise SettleError("the X server has no DAMAGE extension")
            # DAMAGE refuses every request until the client has announced its version.
            self._display.damage_query_version()
            self._notify_type: int = self._display.extension_event.DamageNotify
            # NonEmpty: one event when the damage region stops being empty; subtracting it
            # re-arms the next. Raw rectangles would flood us with one event per drawing op.
            self._damage = self._display.screen().root.damage_create(damage.DamageReportNonEmpty)
            self._display.sync()
        except BaseException:
            self._display.close()
            raise
        self._armed: _Armed | None = None

    def arm(self) -> None:
        """Start a timeline; call it right before injecting the action, from the event loop.

        It forgets earlier damage and round-trips, so the server has re-armed before the action
        (sent on another connection) can draw anything.
        """
        self._disarm()
        self._display.damage_subtract(self._damage)
        self._display.sync()
        if self._drain():
            # Something drew between the subtract and the round trip (an animation): clear
            # that too, or the region stays non-empty and the action's damage sends nothing.
            self._display.damage_subtract(self._damage)
            self._display.flush()
        # Read while the action runs (e.g. during the pauses of apply_async), so that damage
        # is timestamped when it arrives rather than when wait() starts.
        loop = asyncio.get_running_loop()
        loop.add_reader(self._display.fileno(), self._on_readable)
        self._armed = _Armed(_Timeline(start=time.monotonic()), asyncio.Event(), loop)

    async def wait(
        self,
        quiet_ms: float = DEFAULT_QUIET_MS,
        grace_ms: float = DEFAULT_GRACE_MS,
        max_ms: float = DEFAULT_MAX_MS,
    ) -> SettleReport:
        """Wait until the screen has settled after the armed action (see the module docstring)."""
        if min(quiet_ms, grace_ms, max_ms) < 0:
            raise ValueError("settle times cannot be negative")
        armed = self._armed
        if armed is None:
            raise SettleError("wait() needs arm() first")
        timeline = armed.timeline
        hard_stop = timeline.start + max_ms / 1000
        try:
            # python-xlib may already hold events read during a round trip: the fd would
            # not wake us for those.
            self._on_readable()
            while (now := time.monotonic()) < (
                due := min(timeline.settle_at(quiet_ms, grace_ms), hard_stop)
            ):
                armed.damaged.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(armed.damaged.wait(), due - now)
        finally:
            self._disarm()
        return timeline.report(now, timed_out=timeline.settle_at(quiet_ms, grace_ms) > hard_stop)

    def close(self) -> None:
        self._disarm()
        self._display.close()

    def _on_readable(self) -> None:
        events = self._drain()
        if not events:
            return
        self._display.damage_subtract(self._damage)
        self._display.flush()
        if self._armed is not None:
            self._armed.timeline.record(time.monotonic(), events)
            self._armed.damaged.set()

    def _drain(self) -> int:
        """Take every queued event off the connection; return how many were DamageNotify."""
        count = 0
        while self._display.pending_events():
            if self._display.next_event().type == self._notify_type:
                count += 1
        return count

    def _disarm(self) -> None:
        if self._armed is not None:
            self._armed.loop.remove_reader(self._display.fileno())
            self._armed = None


def profile_for(app_class: str | None, quiet_ms: float, grace_ms: float) -> tuple[float, float]:
    """The (quiet, grace) to use for an action aimed at `app_class` (a lower-case WM_CLASS):
    at least the slow-painter profile for browsers, what was asked for otherwise."""
    if app_class in SLOW_PAINTER_CLASSES:
        return max(quiet_ms, SLOW_PAINTER_QUIET_MS), max(grace_ms, SLOW_PAINTER_GRACE_MS)
    return quiet_ms, grace_ms
