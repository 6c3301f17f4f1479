"""Settle profiles follow the application an action goes to."""

from __future__ import annotations

import pytest

from deskhand.guest import settle
from deskhand.guest.events import Move
from deskhand.guest.windows import WindowInspector
from deskhand.guest.xinput import InputInjector

from .xclients import Apps


@pytest.mark.parametrize("app_class", ["chromium", "firefox-esr", "google-chrome"])
def test_browsers_get_the_slow_painter_profile(app_class: str) -> None:
    quiet, grace = settle.profile_for(app_class, 60, 80)
    assert (quiet, grace) == (settle.SLOW_PAINTER_QUIET_MS, settle.SLOW_PAINTER_GRACE_MS)
    # A caller asking for more than the profile keeps what it asked for.
    assert settle.profile_for(app_class, 500, 900) == (500, 900)


@pytest.mark.parametrize("app_class", ["xterm", "mousepad", None])
def test_other_apps_keep_the_requested_profile(app_class: str | None) -> None:
    assert settle.profile_for(app_class, 60, 80) == (60, 80)


def test_inspector_names_the_window_under_the_pointer(
    display: str, apps: Apps, injector: InputInjector
) -> None:
    apps.xterm("sleep 60", geometry="40x10+0+0")
    inspector = WindowInspector(display)
    try:
        injector.apply([Move(x=20, y=20)])  # inside the xterm
        assert inspector.pointer_class() == "xterm"
        injector.apply([Move(x=1200, y=700)])  # bare root window
        assert inspector.pointer_class() is None
        assert inspector.active_class() is None  # no window manager marks anything active
    finally:
        inspector.close()
