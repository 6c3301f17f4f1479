"""Input injection inside the guest: replays host input events through the XTEST extension.

Everything happens in-process on one X connection: an XTEST click plus a round trip costs
~0.2 ms, where `xdotool click` costs ~104 ms because of its built-in sleeps.

Keys travel as keysyms. A keysym the keymap has on some keycode is typed with that keycode (with
Shift around it when it sits on the shifted level). Any other keysym is put on a spare keycode
(one with no symbols), like xdotool does, but with the pauses xdotool lacks (KEYMAP_CATCHUP_S);
see `_Scratch` for why borrowed keycodes are not handed back after every keystroke.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from Xlib import X
from Xlib import display as xdisplay

from deskhand.guest.closing import Closing
from deskhand.guest.events import Button, InputEvent, Key, Move, Sleep, Text

NO_SYMBOL = 0
KEYSYM_RETURN = 0xFF0D
KEYSYM_TAB = 0xFF09
KEYSYM_BACKSPACE = 0xFF08
KEYSYM_ESCAPE = 0xFF1B
UNICODE_KEYSYM_BASE = 0x01000000

# The control characters a text can sensibly contain, as the keys that produce them.
_CONTROL_KEYSYMS = {
    "\n": KEYSYM_RETURN,
    "\r": KEYSYM_RETURN,
    "\t": KEYSYM_TAB,
    "\b": KEYSYM_BACKSPACE,
    "\x1b": KEYSYM_ESCAPE,
}

KEYMAP_CATCHUP_S = 0.05
"""How long clients get to catch up with a keymap change before input depends on it.

A client applies a new mapping when it processes the MappingNotify (Chromium only after the key
events already queued behind it), and no X event says that every client is done. So after
borrowing spare keycodes the injector pauses before typing with them, and before it gives a
keycode borrowed in this burst a new symbol it pauses so that clients look the earlier
keystrokes up with the old one. Only symbols the keymap lacks pay: once per burst that needs new
ones (borrowed keycodes keep their symbols until `restore_keymap`), plus twice per further 19 new
symbols (Xvfb has 19 spare keycodes) when a long CJK text has to recycle them.
"""

BORROW_AHEAD = 256
"""How far ahead in a text borrowing looks for more unmapped symbols to map in the same batch."""


class InputError(RuntimeError):
    """The X server refused an injected event or has no room to map a symbol."""


def keysym_for_char(ch: str) -> int:
    """The keysym that types `ch`: Latin-1 keysyms equal the code point, the rest are Unicode."""
    if ch in _CONTROL_KEYSYMS:
        return _CONTROL_KEYSYMS[ch]
    codepoint = ord(ch)
    if codepoint < 0x20 or 0x7F <= codepoint < 0xA0 or 0xD800 <= codepoint <= 0xDFFF:
        raise ValueError(f"cannot type U+{codepoint:04X}, a control character or lone surrogate")
    if codepoint <= 0xFF:
        return codepoint
    return UNICODE_KEYSYM_BASE + codepoint


@dataclass(frozen=True, slots=True)
class _Press:
    """A key this injector holds down, and whether it also pressed Shift for it."""

    keycode: int
    auto_shift: bool


class _Keymap:
    """The server's keycode -> keysyms table and the keysym -> (keycode, shifted) index over it."""

    def __init__(self, display: Any) -> None:
        self._display = display
        self._first: int = display.display.info.min_keycode
        self._count: int = display.display.info.max_keycode - self._first + 1
        self._rows: dict[int, tuple[int, ...]] = {}
        self._index: dict[int, tuple[int, bool]] = {}
        self.shift_keycodes: frozenset[int] = frozenset()
        self.reload()

    def reload(self) -> None:
        rows = self._display.get_keyboard_mapping(self._first, self._count)
        self._rows = {self._first + i: tuple(row) for i, row in enumerate(rows)}
        self._reindex()
        shift_row = self._display.get_modifier_mapping()[X.ShiftMapIndex]
        self.shift_keycodes = frozenset(kc for kc in shift_row if kc)

    def row(self, keycode: int) -> tuple[int, ...]:
        return self._rows[keycode]

    def lookup(self, keysym: int) -> tuple[int, bool] | None:
        """The keycode that types `keysym` and whether it needs Shift, or None."""
        return self._index.get(keysym)

    def spare(self) -> list[int]:
        """Keycodes that carry no symbol at all, free to borrow."""
        return [kc for kc, row in self._rows.items() if not any(row)]

    def assign(self, keycode: int, keysym: int) -> None:
        """Put `keysym` on both levels of `keycode` (NO_SYMBOL clears it)."""
        # Both levels, so that a held Shift cannot turn the symbol into another one.
        self._display.change_keyboard_mapping(keycode, [(keysym, keysym)])
        width = len(self._rows[keycode])
        self._rows[keycode] = (keysym, keysym, *(NO_SYMBOL,) * (width - 2))
        self._reindex()

    def _reindex(self) -> None:
        # Levels beyond the second need Mode_switch/AltGr; such symbols go on a spare keycode.
        index: dict[int, tuple[int, bool]] = {}
        for level in (0, 1):
            for keycode, row in sorted(self._rows.items()):
                if len(row) > level and row[level] != NO_SYMBOL:
                    index.setdefault(row[level], (keycode, level == 1))
        self._index = index


class _Scratch:
    """Keycodes borrowed for symbols that the keymap lacks, least recently used first.

    A borrowed keycode keeps its symbol after the keystroke: handing it back at once would race
    with clients that have not looked the keystroke up yet (see KEYMAP_CATCHUP_S). It takes
    another symbol only in a later burst or after a catch-up pause, and
    `InputInjector.restore_keymap` hands everything back once the screen has settled.
    """

    def __init__(self) -> None:
        self.borrowed: OrderedDict[int, int] = OrderedDict()  # keycode -> keysym
        self.fresh: set[int] = set()  # keycodes mapped or typed during the current burst

    def touch(self, keycode: int) -> None:
        if keycode in self.borrowed:
            self.borrowed.move_to_end(keycode)
            self.fresh.add(keycode)

    def pick(self, keymap: _Keymap, held: set[int]) -> int | None:
        """A keycode that can take a new symbol right now, or None."""
        spare = keymap.spare()
        if spare:
            return spare[-1]
        for keycode in self.borrowed:
            if keycode not in self.fresh and keycode not in held:
                return keycode
        return None

    def lend(self, keymap: _Keymap, keycode: int, keysym: int) -> None:
        keymap.assign(keycode, keysym)
        self.borrowed.pop(keycode, None)
        self.borrowed[keycode] = keysym
        self.fresh.add(keycode)

    def forget_overwritten(self, keymap: _Keymap) -> None:
        """Drop keycodes that another client has remapped since we borrowed them."""
        for keycode, keysym in list(self.borrowed.items()):
            if keymap.row(keycode)[:2] != (keysym, keysym):
                del self.borrowed[keycode]


class InputInjector(Closing):
    """Replays `deskhand.guest.events` input events on one X display (e.g. ":99") via XTEST."""

    def __init__(self, display: str) -> None:
        self._display: Any = xdisplay.Display(display)
        try:
            if not self._display.has_extension("XTEST"):
                raise InputError("the X server has no XTEST extension")
            self._errors: list[Exception] = []
            self._display.set_error_handler(self._on_error)
            screen = self._display.screen()
            self._root = screen.root
            self._width: int = screen.width_in_pixels
            self._height: int = screen.height_in_pixels
            self._keymap = _Keymap(self._display)
            self._scratch = _Scratch()
            self._held_keys: dict[int, _Press] = {}  # keysym -> press
            self._held_buttons: set[int] = set()
        except BaseException:
            self._display.close()
            raise

    def apply(self, events: Iterable[InputEvent]) -> None:
        """Inject `events` in order and wait until the server has processed them.

        Sleep events are refused: pauses belong to the caller's event loop (`apply_async`).
        On any error every key and button still held is released before the error propagates.
        """
        batch = _checked(events)
        if any(isinstance(event, Sleep) for event in batch):
            raise ValueError("Sleep events need apply_async")
        with self._released_on_error():
            for pause in self._steps(batch):
                # Only keymap catch-up pauses (KEYMAP_CATCHUP_S) get here; they block.
                time.sleep(pause)

    async def apply_async(self, events: Iterable[InputEvent]) -> None:
        """Like `apply`, with Sleep events (and catch-up pauses) awaited on the running loop.

        Cancelling it (e.g. a hold_key cut short) releases everything it held down.
        """
        batch = _checked(events)
        with self._released_on_error():
            for pause in self._steps(batch):
                await asyncio.sleep(pause)

    def cursor_position(self) -> tuple[int, int]:
        pointer = self._root.query_pointer()
        return pointer.root_x, pointer.root_y

    def release_all(self) -> None:
        """Release every key and button that is down, whoever pressed it."""
        keycodes = {press.keycode for press in self._held_keys.values()}
        keycodes |= _down_keycodes(self._display.query_keymap())
        buttons = self._held_buttons | _down_buttons(self._root.query_pointer().mask)
        for keycode in sorted(keycodes):
            self._fake(X.KeyRelease, keycode)
        for button in sorted(buttons):
            self._fake(X.ButtonRelease, button)
        self._held_keys.clear()
        self._held_buttons.clear()
        self._sync()

    def restore_keymap(self) -> None:
        """Hand back the borrowed spare keycodes (all but those still held down).

        Call it once the screen has settled after an action: by then the clients have looked
        up the keystrokes that used them.
        """
        held = self._held_keycodes()
        for keycode in list(self._scratch.borrowed):
            if keycode not in held:
                self._keymap.assign(keycode, NO_SYMBOL)
                del self._scratch.borrowed[keycode]
        self._sync()

    def close(self) -> None:
        try:
            self.restore_keymap()
        finally:
            self._display.close()

    # -- driving ---------------------------------------------------------------------------

    def _steps(self, events: Sequence[InputEvent]) -> Generator[float, None, None]:
        """Inject events one by one, yielding each pause (seconds) the caller has to wait."""
        self._begin_burst()
        for event in events:
            match event:
                case Sleep():
                    self._sync()
                    yield event.seconds
                case Move():
                    self._move(event.x, event.y)
                case Button():
                    self._button(event.button, event.down)
                case Key(down=True):
                    keycode, shifted = yield from self._keycode_for([event.keysym])
                    self._press_key(event.keysym, keycode, shifted)
                case Key(down=False):
                    self._release_key(event.keysym)
                case Text():
                    yield from self._type(event.text)
        self._sync()

    def _begin_burst(self) -> None:
        self._scratch.fresh.clear()
        if self._keymap_changed():
            self._keymap.reload()
            self._scratch.forget_overwritten(self._keymap)

    def _keymap_changed(self) -> bool:
        # Every client gets MappingNotify, asked for or not; draining them also keeps
        # python-xlib's event queue from growing.
        changed = False
        while self._display.pending_events():
            event = self._display.next_event()
            if event.type == X.MappingNotify and event.request != X.MappingPointer:
                changed = True
        return changed

    @contextlib.contextmanager
    def _released_on_error(self) -> Iterator[None]:
        try:
            yield
        except BaseException:
            # The original error is the one worth reporting; a connection too broken to
            # release keys cannot be holding them for anyone else either.
            with contextlib.suppress(Exception):
                self.release_all()
            raise

    # -- pointer ---------------------------------------------------------------------------

    def _move(self, x: int, y: int) -> None:
        x, y = min(x, self._width - 1), min(y, self._height - 1)
        self._display.xtest_fake_input(X.MotionNotify, 0, root=self._root, x=x, y=y)

    def _button(self, button: int, down: bool) -> None:
        self._fake(X.ButtonPress if down else X.ButtonRelease, button)
        if down:
            self._held_buttons.add(button)
        else:
            self._held_buttons.discard(button)

    # -- keys ------------------------------------------------------------------------------

    def _keycode_for(
        self, keysyms: Sequence[int], at: int = 0
    ) -> Generator[float, None, tuple[int, bool]]:
        """The keycode (and whether it needs Shift) for `keysyms[at]`, borrowing one if needed.

        Borrowing also covers the keysyms after it (up to BORROW_AHEAD), so that a text with
        many unmapped symbols pauses once per batch of them, not once per symbol.
        """
        found = self._keymap.lookup(keysyms[at])
        if found is None:
            found = yield from self._borrow(keysyms[at : at + BORROW_AHEAD])
        self._scratch.touch(found[0])
        return found

    def _borrow(self, keysyms: Sequence[int]) -> Generator[float, None, tuple[int, bool]]:
        """Put the unmapped `keysyms` (at least the first) on spare keycodes, then pause.

        Clients apply a new mapping when they get to its MappingNotify, and some (Chromium)
        only after the key events already queued behind it, so the pause lets every client
        see the mapping before a keystroke needs it. Returns where the first keysym went.
        """
        missing = [k for k in dict.fromkeys(keysyms) if self._keymap.lookup(k) is None]
        if self._scratch.pick(self._keymap, self._held_keycodes()) is None:
            # Every borrowed keycode was used in this burst: let the clients look those
            # keystrokes up before any of the keycodes changes meaning.
            self._sync()
            yield KEYMAP_CATCHUP_S
            self._scratch.fresh.clear()
        for keysym in missing:
            keycode = self._scratch.pick(self._keymap, self._held_keycodes())
            if keycode is None:
                break
            self._scratch.lend(self._keymap, keycode, keysym)
        found = self._keymap.lookup(keysyms[0])
        if found is None:
            raise InputError("every spare keycode is held down")
        self._sync()
        yield KEYMAP_CATCHUP_S
        return found

    def _press_key(self, keysym: int, keycode: int, shifted: bool) -> None:
        auto_shift = shifted and not self._shift_is_down()
        if auto_shift:
            self._fake(X.KeyPress, self._shift_keycode())
        self._fake(X.KeyPress, keycode)
        self._held_keys.setdefault(keysym, _Press(keycode, auto_shift))

    def _release_key(self, keysym: int) -> None:
        press = self._held_keys.pop(keysym, None)
        if press is None:
            # Not pressed through us; release it anyway if it exists, so "up" always means up.
            found = self._keymap.lookup(keysym)
            if found is not None:
                self._fake(X.KeyRelease, found[0])
            return
        self._fake(X.KeyRelease, press.keycode)
        if press.auto_shift:
            self._fake(X.KeyRelease, self._shift_keycode())

    def _type(self, text: str) -> Generator[float, None, None]:
        # A Windows line ending is one Return, not two.
        keysyms = [keysym_for_char(ch) for ch in text.replace("\r\n", "\n")]
        for i in range(len(keysyms)):
            keycode, shifted = yield from self._keycode_for(keysyms, i)
            with_shift = shifted and not self._shift_is_down()
            if with_shift:
                self._fake(X.KeyPress, self._shift_keycode())
            self._fake(X.KeyPress, keycode)
            self._fake(X.KeyRelease, keycode)
            if with_shift:
                self._fake(X.KeyRelease, self._shift_keycode())

    def _shift_keycode(self) -> int:
        if not self._keymap.shift_keycodes:
            raise InputError("no keycode is bound to the Shift modifier")
        return min(self._keymap.shift_keycodes)

    def _shift_is_down(self) -> bool:
        return any(
            press.auto_shift or press.keycode in self._keymap.shift_keycodes
            for press in self._held_keys.values()
        )

    def _held_keycodes(self) -> set[int]:
        return {press.keycode for press in self._held_keys.values()}

    # -- X plumbing ------------------------------------------------------------------------

    def _fake(self, event_type: int, detail: int) -> None:
        self._display.xtest_fake_input(event_type, detail)

    def _sync(self) -> None:
        """Wait for the server to process everything sent so far; raise what it refused."""
        self._display.sync()
        if self._errors:
            errors, self._errors = self._errors, []
            raise InputError(f"the X server rejected input: {errors[0]}")

    def _on_error(self, error: Exception, request: object) -> None:
        self._errors.append(error)


def _checked(events: Iterable[InputEvent]) -> list[InputEvent]:
    """The events as a list, refusing untypeable text before anything is injected."""
    batch = list(events)
    for event in batch:
        if isinstance(event, Text):
            for ch in event.text:
                keysym_for_char(ch)
    return batch


def _down_keycodes(keymap_bits: Sequence[int]) -> set[int]:
    """Keycodes set in a QueryKeymap bit vector (byte N holds keys 8N..8N+7, LSB first)."""
    return {
        8 * i + bit for i, byte in enumerate(keymap_bits) for bit in range(8) if byte >> bit & 1
    }


def _down_buttons(mask: int) -> set[int]:
    """Buttons 1-5 down according to a pointer state mask (the core protocol tracks no more)."""
    return {button for button in range(1, 6) if mask & (X.Button1Mask << (button - 1))}
