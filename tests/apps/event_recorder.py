"""A real X client for tests: records the input it receives and repaints when a key is pressed.

    python tests/apps/event_recorder.py --display :N --out FILE [--geometry WxH+X+Y] [--fullscreen]
        [--background #rrggbb] [--paint-at-ms 0,30,60] [--lazy-keymap]

Writes one JSON line per event to FILE, flushed at once: first {"type": "ready", ...} once the
window is mapped and has the keyboard focus, then key_press/key_release/button_press/
button_release/motion lines (keycode, keysym, the text the key produces, state mask, x, y,
x_root, y_root, X server time) and a "paint" line per repaint. Every line carries "t", the
CLOCK_MONOTONIC time in seconds, so tests can line events up with their own clock.

Each key press paints one new square at each of the `--paint-at-ms` offsets after it (default:
at once): a stand-in for an application that takes several frames to settle.

Keymap changes are looked up when their MappingNotify is processed, like any Xlib client; with
`--lazy-keymap` only after the events already queued behind it, the way Chromium does.
"""

from __future__ import annotations

import argparse
import json
import re
import select
import time
from pathlib import Path
from typing import Any, TextIO

from Xlib import X
from Xlib import display as xdisplay

EVENT_MASK = (
    X.ButtonPressMask
    | X.ButtonReleaseMask
    | X.PointerMotionMask
    | X.KeyPressMask
    | X.KeyReleaseMask
    | X.ExposureMask
    | X.StructureNotifyMask
)
SQUARE = 10
SQUARE_STEP = 12
_SPECIAL_TEXT = {0xFF0D: "\r", 0xFF09: "\t", 0xFF08: "\b", 0xFF1B: "\x1b"}


def text_for_keysym(keysym: int) -> str:
    """The text a keysym produces (Latin-1 and Unicode keysyms, a few control keys)."""
    if 0x20 <= keysym <= 0x7E or 0xA0 <= keysym <= 0xFF:
        return chr(keysym)
    if keysym & 0xFF000000 == 0x01000000:
        return chr(keysym & 0x00FFFFFF)
    return _SPECIAL_TEXT.get(keysym, "")


class Recorder:
    def __init__(self, args: argparse.Namespace, out: TextIO) -> None:
        self.display: Any = xdisplay.Display(args.display)
        self.out = out
        self.paint_at: list[float] = args.paint_at_ms
        self.lazy_keymap: bool = args.lazy_keymap
        self.stale_keymap: list[Any] = []  # MappingNotify events not applied yet
        self.presses = 0
        self.pending: list[tuple[float, int, int]] = []  # (due, press number, frame)
        screen = self.display.screen()
        if args.fullscreen:
            x, y, width, height = 0, 0, screen.width_in_pixels, screen.height_in_pixels
        else:
            x, y, width, height = args.geometry
        self.window = screen.root.create_window(
            x,
            y,
            width,
            height,
            0,
            screen.root_depth,
            X.InputOutput,
            X.CopyFromParent,
            background_pixel=self.pixel(args.background),
            event_mask=EVENT_MASK,
            # No window manager in the tests; override-redirect also keeps one from moving it.
            override_redirect=args.fullscreen,
        )
        self.window.set_wm_name("deskhand-event-recorder")
        self.window.set_wm_class("event_recorder", "DeskhandEventRecorder")
        self.ink = self.window.create_gc(foreground=screen.black_pixel)
        self.geometry = (x, y, width, height)

    def pixel(self, colour: str) -> int:
        red, green, blue = (int(colour[i : i + 2], 16) * 257 for i in (1, 3, 5))
        return int(self.display.screen().default_colormap.alloc_color(red, green, blue).pixel)

    def write(self, record: dict[str, Any]) -> None:
        record["t"] = time.monotonic()
        self.out.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.out.flush()

    def map_and_focus(self) -> None:
        self.window.map()
        while True:
            event = self.display.next_event()
            if event.type == X.MapNotify and event.window == self.window:
                break
        self.window.set_input_focus(X.RevertToParent, X.CurrentTime)
        self.display.sync()
        x, y, width, height = self.geometry
        self.write(
            {
                "type": "ready",
                "window": self.window.id,
                "x": x,
                "y": y,
                "width": width,
                "height": height,
            }
        )

    def run(self) -> None:
        self.map_and_focus()
        while True:
            timeout = max(0.0, self.pending[0][0] - time.monotonic()) if self.pending else None
            select.select([self.display.fileno()], [], [], timeout)
            while self.display.pending_events():
                self.handle(self.display.next_event())
            for event in self.stale_keymap:
                self.display.refresh_keyboard_mapping(event)
            self.stale_keymap.clear()
            self.paint_due()

    def handle(self, event: Any) -> None:
        if event.type in (X.KeyPress, X.KeyRelease):
            self.key(event)
        elif event.type in (X.ButtonPress, X.ButtonRelease):
            kind = "button_press" if event.type == X.ButtonPress else "button_release"
            self.write(self.pointer_record(kind, event) | {"button": event.detail})
        elif event.type == X.MotionNotify:
            self.write(self.pointer_record("motion", event))
        elif event.type == X.MappingNotify and self.lazy_keymap:
            self.stale_keymap.append(event)
        elif event.type == X.MappingNotify:
            self.display.refresh_keyboard_mapping(event)

    def key(self, event: Any) -> None:
        level = 1 if event.state & X.ShiftMask else 0
        keysym = self.display.keycode_to_keysym(event.detail, level)
        if keysym == X.NoSymbol:
            keysym = self.display.keycode_to_keysym(event.detail, 0)
        kind = "key_press" if event.type == X.KeyPress else "key_release"
        record = self.pointer_record(kind, event)
        record |= {"keycode": event.detail, "keysym": keysym, "string": text_for_keysym(keysym)}
        self.write(record)
        if event.type == X.KeyPress:
            self.presses += 1
            now = time.monotonic()
            for frame, offset_ms in enumerate(self.paint_at):
                self.pending.append((now + offset_ms / 1000, self.presses, frame))
            self.pending.sort()

    def pointer_record(self, kind: str, event: Any) -> dict[str, Any]:
        return {
            "type": kind,
            "state": event.state,
            "x": event.event_x,
            "y": event.event_y,
            "x_root": event.root_x,
            "y_root": event.root_y,
            "time": event.time,
        }

    def paint_due(self) -> None:
        now = time.monotonic()
        while self.pending and self.pending[0][0] <= now:
            _, press, frame = self.pending.pop(0)
            # Frames run left to right, presses top to bottom, wrapping inside the window.
            _, _, width, height = self.geometry
            columns, rows = (max(1, (side - SQUARE) // SQUARE_STEP) for side in (width, height))
            x = SQUARE + SQUARE_STEP * (frame % columns)
            y = SQUARE + SQUARE_STEP * (press % rows)
            self.window.fill_rectangle(self.ink, x, y, SQUARE, SQUARE)
            self.display.flush()
            self.write({"type": "paint", "press": press, "frame": frame})


def parse_geometry(text: str) -> tuple[int, int, int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)\+(\d+)\+(\d+)", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"geometry must look like 400x300+0+0, not {text!r}")
    width, height, x, y = (int(group) for group in match.groups())
    return x, y, width, height


def parse_offsets(text: str) -> list[float]:
    return [float(part) for part in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--display", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--geometry", type=parse_geometry, default=(0, 0, 400, 300))
    parser.add_argument("--fullscreen", action="store_true")
    parser.add_argument("--background", default="#ffffff")
    parser.add_argument("--paint-at-ms", type=parse_offsets, default=[0.0])
    parser.add_argument("--lazy-keymap", action="store_true")
    args = parser.parse_args()
    with args.out.open("a", encoding="utf-8") as out:
        Recorder(args, out).run()


if __name__ == "__main__":
    main()
