"""Key-string parsing: names, aliases, case, '+', modifiers, and hostile strings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from Xlib import XK
from Xlib.keysymdef import miscellany

from deskhand.tools.keys import (
    ALT_L,
    CONTROL_L,
    SHIFT_L,
    SUPER_L,
    UnknownKeyError,
    is_modifier,
    parse_keys,
    text_keysym,
)

XK.load_keysym_group("xf86")


def sym(name: str) -> int:
    value = XK.string_to_keysym(name)
    assert value != 0, name
    return int(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ctrl+s", ["Control_L", "s"]),
        ("Return", ["Return"]),
        ("alt+Tab", ["Alt_L", "Tab"]),
        ("ctrl+shift+Escape", ["Control_L", "Shift_L", "Escape"]),
        ("super", ["Super_L"]),
        ("cmd+c", ["Super_L", "c"]),
        ("KP_Enter", ["KP_Enter"]),
        ("F5", ["F5"]),
        ("a", ["a"]),
        ("space", ["space"]),
        ("Page_Down", ["Page_Down"]),
        ("BackSpace", ["BackSpace"]),
        ("Home", ["Home"]),
        ("Up", ["Up"]),
        ("Delete", ["Delete"]),
        ("alt+F4", ["Alt_L", "F4"]),
    ],
)
def test_documented_examples(text: str, expected: list[str]) -> None:
    assert parse_keys(text) == [sym(name) for name in expected]


@pytest.mark.parametrize(
    ("alias", "target"),
    [
        ("ctrl", "Control_L"),
        ("control", "Control_L"),
        ("alt", "Alt_L"),
        ("shift", "Shift_L"),
        ("super", "Super_L"),
        ("win", "Super_L"),
        ("cmd", "Super_L"),
        ("meta", "Super_L"),
        ("enter", "Return"),
        ("esc", "Escape"),
        ("del", "Delete"),
        ("backspace", "BackSpace"),
        ("pgup", "Prior"),
        ("pgdn", "Next"),
        ("pageup", "Page_Up"),
        ("page down", "Page_Down"),
        ("up", "Up"),
        ("down", "Down"),
        ("left", "Left"),
        ("right", "Right"),
        ("ins", "Insert"),
        ("capslock", "Caps_Lock"),
        ("XF86AudioMute", "XF86_AudioMute"),
    ],
)
def test_aliases(alias: str, target: str) -> None:
    assert parse_keys(alias) == [sym(target)]


def test_modifier_constants_are_the_left_keys() -> None:
    assert (
        sym("Control_L"),
        sym("Shift_L"),
        sym("Alt_L"),
        sym("Super_L"),
    ) == (CONTROL_L, SHIFT_L, ALT_L, SUPER_L)


@pytest.mark.parametrize("spelling", ["Return", "RETURN", "return", "rEtUrN"])
def test_names_are_case_insensitive(spelling: str) -> None:
    assert parse_keys(spelling) == [sym("Return")]


def test_single_letters_mean_the_unshifted_key() -> None:
    assert parse_keys("ctrl+A") == parse_keys("ctrl+a") == [CONTROL_L, ord("a")]
    assert parse_keys("Agrave") == parse_keys("agrave") == [sym("agrave")]


def test_plus_is_expressible() -> None:
    plus = sym("plus")
    assert parse_keys("+") == [plus]
    assert parse_keys("ctrl+plus") == [CONTROL_L, plus]
    assert parse_keys("ctrl++") == [CONTROL_L, plus]


def test_single_characters_map_to_their_keysym() -> None:
    assert parse_keys("1") == [ord("1")]
    assert parse_keys("/") == [ord("/")]
    assert parse_keys(" ") == [sym("space")]
    assert parse_keys("ctrl+é") == [CONTROL_L, 0xE9]
    assert parse_keys("ж") == [0x01000000 + ord("ж")]


def test_spaces_around_parts_are_ignored() -> None:
    assert parse_keys("ctrl + shift + t") == [CONTROL_L, SHIFT_L, ord("t")]


def test_modifiers_come_first_in_the_order_given() -> None:
    assert parse_keys("shift+ctrl+x") == [SHIFT_L, CONTROL_L, ord("x")]
    assert parse_keys("x+alt") == [ALT_L, ord("x")]


def test_every_miscellany_name_resolves_to_its_xlib_keysym() -> None:
    names = [n[3:] for n in vars(miscellany) if n.startswith("XK_")]
    assert len(names) > 100
    for name in names:
        assert parse_keys(name) == [XK.string_to_keysym(name)], name


def test_is_modifier() -> None:
    for name in ("Shift_L", "Shift_R", "Control_L", "Control_R", "Alt_L", "Super_L", "Meta_L"):
        assert is_modifier(sym(name)), name
    for name in ("a", "Return", "Caps_Lock", "F1"):
        assert not is_modifier(sym(name)), name


def test_text_keysym() -> None:
    assert text_keysym("a") == 0x61
    assert text_keysym("é") == 0xE9
    assert text_keysym("€") == 0x010020AC
    assert text_keysym("😀") == 0x0101F600
    with pytest.raises(ValueError, match="one character"):
        text_keysym("ab")


def test_unknown_name_is_named_and_close_names_are_suggested() -> None:
    with pytest.raises(UnknownKeyError) as info:
        parse_keys("ctrl+Retrun")
    message = str(info.value)
    assert "'Retrun'" in message
    assert "'Return'" in message
    assert isinstance(info.value, KeyError)
    assert not message.startswith("'")  # not KeyError's quoted repr


def test_space_separated_sequences_get_a_hint() -> None:
    with pytest.raises(UnknownKeyError, match="one key or combination per action"):
        parse_keys("ctrl+a ctrl+c")


@pytest.mark.parametrize("text", ["", "ctrl+", "ctrl+++", "a++b", "\x00", "ctrl+\x07", "   "])
def test_malformed_strings_are_rejected(text: str) -> None:
    with pytest.raises(UnknownKeyError):
        parse_keys(text)


@pytest.mark.parametrize(
    "text",
    ["ctrl+s; rm -rf /", "$(reboot)", "`id`", "a | sh", "Return && echo", "ctrl+$HOME"],
)
def test_shell_metacharacters_are_just_unknown_names(text: str) -> None:
    with pytest.raises(UnknownKeyError, match="Unknown key"):
        parse_keys(text)


def test_error_message_stays_short_for_huge_input() -> None:
    with pytest.raises(UnknownKeyError) as info:
        parse_keys("x" * 100_000)
    assert len(str(info.value)) < 300


@given(st.text())
def test_random_strings_parse_or_raise_unknown_key(text: str) -> None:
    try:
        keysyms = parse_keys(text)
    except UnknownKeyError as exc:
        assert str(exc)
        return
    assert keysyms
    assert all(isinstance(k, int) and k > 0 for k in keysyms)


@given(
    st.lists(
        st.sampled_from(["ctrl", "shift", "alt", "super", "a", "Return", "F12", "Tab", "plus"]),
        min_size=1,
        max_size=4,
    )
)
def test_combinations_of_known_names_always_parse(parts: list[str]) -> None:
    keysyms = parse_keys("+".join(parts))
    assert len(keysyms) == len(parts)
    modifier_flags = [is_modifier(k) for k in keysyms]
    assert modifier_flags == sorted(modifier_flags, reverse=True)
