"""Which application an action is aimed at: the window under the pointer, or the active one.

Settling depends on the application: X11 clients (xterm, GTK apps, openbox menus) repaint within
a few milliseconds of input, while browsers paint on their own frame clock and may show their
first change after more than 100 ms. The guest asks this module whose window an action went to
and picks the settle profile for it (see settle.profile_for).
"""

from __future__ import annotations

from typing import Any

from Xlib import X, display, error

# openbox reparents every client into a frame; the client (which carries WM_CLASS) sits one or
# two levels below the top-level window that query_pointer reports.
MAX_DEPTH = 3


class WindowInspector:
    def __init__(self, display_name: str) -> None:
        self._display = display.Display(display_name)
        self._root = self._display.screen().root
        self._active = self._display.intern_atom("_NET_ACTIVE_WINDOW")

    def pointer_class(self) -> str | None:
        """WM_CLASS (class part, lower case) of the top-level window under the pointer."""
        try:
            child = self._root.query_pointer().child
            return self._class_in(child, MAX_DEPTH) if child else None
        except error.XError:
            return None  # the window vanished between the two requests

    def active_class(self) -> str | None:
        """WM_CLASS (class part, lower case) of the window the window manager marks active."""
        try:
            prop = self._root.get_full_property(self._active, X.AnyPropertyType)
            if prop is None or not prop.value or not prop.value[0]:
                return None
            return self._class_in(self._display.create_resource_object("window", prop.value[0]), 0)
        except error.XError:
            return None

    def _class_in(self, window: Any, depth: int) -> str | None:
        """The first WM_CLASS found on `window` or, for a WM frame, on its children."""
        wm_class = window.get_wm_class()
        if wm_class:
            return str(wm_class[1]).lower()
        if depth == 0:
            return None
        for child in window.query_tree().children:
            found = self._class_in(child, depth - 1)
            if found:
                return found
        return None

    def close(self) -> None:
        self._display.close()
