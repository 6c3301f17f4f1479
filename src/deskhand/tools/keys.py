"""Parse xdotool-style key strings ("ctrl+s", "alt+Tab", "KP_Enter") into X keysyms.

The model writes key names the way xdotool and the computer-use docs spell them, and the SDK
documents them as case-insensitive. We resolve them to keysym integers on the host so that the
guest only ever receives numbers: a key string is never handed to a shell, so `;`, `$()` or
backticks in model output are just unknown key names.
"""

from __future__ import annotations

import difflib
import importlib
import unicodedata
from collections.abc import Iterable
from functools import cache

# Keysym tables shipped with python-xlib. Earlier groups win when two names collide after
# lower-casing (which never happens across groups in python-xlib 0.33, but order stays fixed).
_KEYSYM_GROUPS = (
    "miscellany",
    "latin1",
    "latin2",
    "latin3",
    "latin4",
    "greek",
    "cyrillic",
    "xkb",
    "xf86",
    "technical",
    "publishing",
    "special",
)

# Modifier keysyms we press for the generic names.
CONTROL_L = 0xFFE3
SHIFT_L = 0xFFE1
ALT_L = 0xFFE9
SUPER_L = 0xFFEB

_MODIFIERS = frozenset(
    {
        0xFFE1,  # Shift_L
        0xFFE2,  # Shift_R
        0xFFE3,  # Control_L
        0xFFE4,  # Control_R
        0xFFE7,  # Meta_L
        0xFFE8,  # Meta_R
        0xFFE9,  # Alt_L
        0xFFEA,  # Alt_R
        0xFFEB,  # Super_L
        0xFFEC,  # Super_R
        0xFFED,  # Hyper_L
        0xFFEE,  # Hyper_R
        0xFE03,  # ISO_Level3_Shift (AltGr)
    }
)

# Names models use that are not X keysym names (or that should mean the left-hand modifier).
# Keys are already normalised (lower case, no underscores, spaces or dashes).
_ALIASES: dict[str, str] = {
    "ctrl": "Control_L",
    "control": "Control_L",
    "ctl": "Control_L",
    "shift": "Shift_L",
    "alt": "Alt_L",
    "option": "Alt_L",
    "opt": "Alt_L",
    "altgr": "ISO_Level3_Shift",
    "super": "Super_L",
    "win": "Super_L",
    "windows": "Super_L",
    "cmd": "Super_L",
    "command": "Super_L",
    "meta": "Super_L",
    "enter": "Return",
    "esc": "Escape",
    "del": "Delete",
    "ins": "Insert",
    "bksp": "BackSpace",
    "pgup": "Prior",
    "pgdn": "Next",
    "pgdown": "Next",
    "arrowup": "Up",
    "arrowdown": "Down",
    "arrowleft": "Left",
    "arrowright": "Right",
    "caps": "Caps_Lock",
    "prtsc": "Print",
    "printscreen": "Print",
}

# Whitespace characters that name a key when given on their own.
_WHITESPACE_KEYS = {" ": "space", "\t": "Tab", "\n": "Return"}


class UnknownKeyError(KeyError):
    """A key string names a key we do not know; the message is meant for the model."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # KeyError would repr() the message, adding quotes
        return self.message


def _normalise(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "").replace(" ", "")


def _uppercase_count(name: str) -> int:
    return sum(ch.isupper() for ch in name)


@cache
def _tables() -> tuple[dict[str, int], dict[str, str]]:
    """Build normalised-name -> keysym and normalised-name -> display-name tables once.

    When two X names differ only in case ("Agrave"/"agrave", "Greek_ALPHA"/"Greek_alpha") the one
    with fewer capitals wins: that is the unshifted key, matching how a single "A" means "a".
    """
    keysyms: dict[str, int] = {}
    display: dict[str, str] = {}
    for group in _KEYSYM_GROUPS:
        module = importlib.import_module(f"Xlib.keysymdef.{group}")
        for attr, value in vars(module).items():
            if not attr.startswith("XK_") or not isinstance(value, int):
                continue
            name = attr[3:]
            key = _normalise(name)
            if key in display and _uppercase_count(display[key]) <= _uppercase_count(name):
                continue
            keysyms[key] = value
            display[key] = name
    for alias, target in _ALIASES.items():
        keysyms[alias] = keysyms[_normalise(target)]
        display[alias] = alias
    return keysyms, display


def text_keysym(ch: str) -> int:
    """Keysym for one Unicode character: Latin-1 maps to itself, the rest to 0x01000000 + code."""
    if len(ch) != 1:
        raise ValueError(f"expected one character, got {len(ch)}")
    code = ord(ch)
    if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF:
        return code
    return 0x01000000 + code


def is_modifier(keysym: int) -> bool:
    """True for Shift, Control, Alt, Meta, Super, Hyper (either side) and AltGr."""
    return keysym in _MODIFIERS


def _single_character_keysym(ch: str) -> int:
    if ch in _WHITESPACE_KEYS:
        return _tables()[0][_normalise(_WHITESPACE_KEYS[ch])]
    category = unicodedata.category(ch)
    if category.startswith(("C", "Z")):
        raise UnknownKeyError(
            f"Unknown key {ch!r} (U+{ord(ch):04X}): control and separator characters are not keys"
        )
    # A lone letter means the key, not the shifted character, so "ctrl+A" == "ctrl+a".
    lowered = ch.lower()
    return text_keysym(lowered if len(lowered) == 1 else ch)


def _suggestions(part: str) -> list[str]:
    keysyms, display = _tables()
    wanted = _normalise(part)[:40]
    close = difflib.get_close_matches(wanted, list(keysyms), n=3, cutoff=0.6)
    return [display[name] for name in close]


def _is_key_sequence(part: str) -> bool:
    """True for "a ctrl"-like parts: xdotool's space-separated key sequence, which we refuse."""
    words = part.split()
    return len(words) > 1 and all(
        len(word) == 1 or _normalise(word) in _tables()[0] for word in words
    )


def _unknown(part: str, whole: str) -> UnknownKeyError:
    shown = part if len(part) <= 40 else part[:40] + "…"
    message = f"Unknown key name {shown!r}"
    if part != whole and len(whole) <= 80:
        message += f" in {whole!r}"
    if _is_key_sequence(part):
        message += (
            "; send one key or combination per action (e.g. 'ctrl+a'), and use the key action"
            " again for the next one"
        )
    suggestions = _suggestions(part)
    if suggestions:
        message += "; did you mean " + ", ".join(repr(s) for s in suggestions) + "?"
    else:
        message += "; use X key names such as 'Return', 'Tab', 'ctrl+s' or 'alt+F4'"
    return UnknownKeyError(message)


def _part_keysym(part: str, whole: str) -> int:
    if len(part) == 1:
        return _single_character_keysym(part)
    stripped = part.strip()
    if len(stripped) == 1:
        return _single_character_keysym(stripped)
    keysym = _tables()[0].get(_normalise(stripped)) if stripped else None
    if keysym is None:
        raise _unknown(part, whole)
    return keysym


def _split(text: str) -> list[str]:
    """Split on '+', letting a trailing "++" (or a lone "+") mean the plus key itself."""
    if text == "+":
        return ["+"]
    if text.endswith("++"):
        return [*text[:-2].split("+"), "+"] if text[:-2] else ["+"]
    return text.split("+")


def _order_modifiers_first(keysyms: Iterable[int]) -> list[int]:
    ordered = list(keysyms)
    return [k for k in ordered if is_modifier(k)] + [k for k in ordered if not is_modifier(k)]


def parse_keys(text: str) -> list[int]:
    """Resolve "ctrl+shift+Escape"-style text to keysyms, modifiers first in the order given.

    Names are case-insensitive and ignore '_', '-' and spaces ("page down" == "Page_Down").
    Raises UnknownKeyError naming the bad part and suggesting close names.
    """
    if text in _WHITESPACE_KEYS:
        return [_single_character_keysym(text)]
    if not text.strip():
        raise UnknownKeyError("Empty key name; give a key such as 'Return' or 'ctrl+c'")
    parts = _split(text)
    if any(not part.strip() and part not in _WHITESPACE_KEYS for part in parts):
        shown = text if len(text) <= 80 else text[:80] + "…"
        raise UnknownKeyError(
            f"Malformed key combination {shown!r}: empty name around '+'; write the plus key"
            " as 'plus' (e.g. 'ctrl+plus')"
        )
    return _order_modifiers_first(_part_keysym(part, text) for part in parts)
