"""Which application an action is aimed at: the window under the pointer, or the active one.

Settling depends on the application: X11 clients (xterm, GTK apps, openbox menus) repaint within
a few milliseconds of input, while browsers paint on their own frame clock and may show their
first change after more than 100 ms. The guest asks this module whose window an action went to
and picks the settle profile for it (see settle.profile_for).

Focus: a click gives the clicked window the keyboard focus only once the window manager has
handled it, which under load can take longer than the screen takes to look settled; keys sent
meanwhile go to the window that had the focus. `click_focused` tells the guest when it may go on.
"""

from __future__ import annotations

from typing import Any

from Xlib import X, Xutil, display, error

# openbox reparents every client into a frame; the client (which carries WM_CLASS) sits one or
# two levels below the top-level window that query_pointer reports.
MAX_DEPTH = 3


class WindowInspector:
    def __init__(self, display_name: str) -> None:
        self._display = display.Display(display_name)
        self._root = self._display.screen().root
        self._active = self._display.intern_atom("_NET_ACTIVE_WINDOW")
        self._window_type = self._display.intern_atom("_NET_WM_WINDOW_TYPE")
        self._unfocusable = {
            self._display.intern_atom(f"_NET_WM_WINDOW_TYPE_{name}")
            for name in ("DOCK", "DESKTOP", "NOTIFICATION", "TOOLTIP")
        }

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

    def input_focus(self) -> int:
        """The id of the window with the keyboard focus (X.NONE or X.PointerRoot if none)."""
        focus = self._display.get_input_focus().focus
        return focus if isinstance(focus, int) else int(focus.id)

    def click_focused(self, before: int) -> bool:
        """Whether the window manager has handled a click, so that keys sent now go where the
        click sent them. True when the input focus is in the top level under the pointer, or
        has moved away from `before` (the focus when the click began: the click opened or
        focused something else), or when the pointer is over something a click does not
        focus (the root window, the panel, a menu, a window that takes no input)."""
        try:
            focus = self.input_focus()
            if focus != before:
                return True
            top = self._root.query_pointer().child
            if not top or top.get_attributes().override_redirect:
                return True  # the window manager focuses only the windows it manages
            found = self._client_in(top, MAX_DEPTH)
            if found is None or not self._takes_focus(found[0]):
                return True
            return self._within(focus, top.id)
        except error.XError:
            return True  # a window vanished meanwhile: nothing to wait for

    def _within(self, focus: int, top: int) -> bool:
        """Whether the focus `focus` sends keys into the top-level window `top`."""
        if focus in (X.NONE, X.PointerRoot):  # PointerRoot: keys go to the window under the pointer
            return bool(focus == X.PointerRoot)
        window = self._display.create_resource_object("window", focus)
        while window and not isinstance(window, int) and window.id != self._root.id:
            if window.id == top:
                return True
            window = window.query_tree().parent
        return False

    def _takes_focus(self, client: Any) -> bool:
        types = client.get_full_property(self._window_type, X.AnyPropertyType)
        if types is not None and self._unfocusable & set(types.value):
            return False
        hints = client.get_wm_hints()
        return hints is None or not (hints.flags & Xutil.InputHint) or bool(hints.input)

    def _client_in(self, window: Any, depth: int) -> tuple[Any, tuple[str, str]] | None:
        """The window carrying WM_CLASS, and its WM_CLASS: `window` or, for a WM frame, one of
        its children."""
        wm_class = window.get_wm_class()
        if wm_class:
            return window, wm_class
        if depth == 0:
            return None
        for child in window.query_tree().children:
            found = self._client_in(child, depth - 1)
            if found is not None:
                return found
        return None

    def _class_in(self, window: Any, depth: int) -> str | None:
        """The first WM_CLASS found on `window` or, for a WM frame, on its children."""
        found = self._client_in(window, depth)
        return None if found is None else str(found[1][1]).lower()

    def close(self) -> None:
        self._display.close()
