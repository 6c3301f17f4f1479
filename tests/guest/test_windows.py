"""Settle profiles follow the application an action goes to."""

from __future__ import annotations

import pytest
from Xlib import X, Xutil
from Xlib import display as xdisplay

from deskhand.guest import settle
from deskhand.guest.events import Move
from deskhand.guest.windows import WindowInspector
from deskhand.guest.xinput import InputInjector

from .xclients import Apps, wait_until


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


def test_a_click_counts_as_handled_once_the_focus_is_in_the_clicked_window_or_moved(
    display: str, apps: Apps, injector: InputInjector
) -> None:
    apps.xterm("sleep 60", geometry="40x10+0+0")
    xterm = wait_until(lambda: apps.viewable_window("xterm"), "the xterm")
    focuser = xdisplay.Display(display)
    inspector = WindowInspector(display)

    def focus(window: int) -> None:
        focuser.set_input_focus(window, X.RevertToParent, X.CurrentTime)
        focuser.sync()

    try:
        injector.apply([Move(x=20, y=20)])  # inside the xterm
        focus(X.NONE)  # keys go nowhere: the window manager has not handled the click yet
        assert inspector.input_focus() == X.NONE
        assert not inspector.click_focused(before=X.NONE)
        # The focus left what it was when the click began: the click was handled.
        assert inspector.click_focused(before=xterm)
        focus(xterm)
        assert inspector.click_focused(before=xterm)
        focus(X.NONE)
        injector.apply([Move(x=1200, y=700)])  # a click on the bare root focuses nothing
        assert inspector.click_focused(before=X.NONE)
    finally:
        inspector.close()
        focuser.close()


def test_a_click_on_a_popup_the_window_manager_does_not_manage_waits_for_no_focus(
    display: str, injector: InputInjector
) -> None:
    """Menus and dropdowns are override-redirect: no window manager ever focuses them."""
    client = xdisplay.Display(display)
    inspector = WindowInspector(display)
    try:
        root = client.screen().root
        popup = root.create_window(100, 100, 200, 150, 0, X.CopyFromParent, override_redirect=True)
        popup.set_wm_class("popup", "Chromium")
        popup.set_wm_hints(flags=Xutil.InputHint, input=1)
        popup.map()
        client.set_input_focus(X.NONE, X.RevertToParent, X.CurrentTime)  # not on the popup
        client.sync()
        injector.apply([Move(x=150, y=150)])
        assert inspector.pointer_class() == "chromium"
        assert inspector.click_focused(before=inspector.input_focus())
    finally:
        inspector.close()
        client.close()
