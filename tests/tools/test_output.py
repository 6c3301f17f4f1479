"""Rendering program output for a model: safe decoding, neutralised escapes, head+tail clipping."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deskhand.tools.output import clip, neutralize, render

# Anything a terminal would act on: C0 controls except \t and \n, DEL, C1 controls.
UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
MARKER = re.compile(r"\[\.\.\. ([\d,]+) characters omitted \.\.\.\]")


def omitted(text: str) -> int:
    match = MARKER.search(text)
    assert match, text
    return int(match.group(1).replace(",", ""))


# --- render -----------------------------------------------------------------------------------


def test_plain_utf8_passes_through() -> None:
    assert render("héllo wörld ✓ 日本\n\ttab".encode()) == "héllo wörld ✓ 日本\n\ttab"


def test_invalid_utf8_is_shown_as_hex_escapes() -> None:
    assert render(b"ok \xff\xfe end") == "ok \\xff\\xfe end"
    assert render(b"\xc3") == "\\xc3"  # a truncated sequence at the very end


def test_colours_and_osc_titles_are_removed() -> None:
    assert render(b"\x1b[31mred\x1b[0m \x1b]0;title\x07") == "red "
    assert render(b"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\") == "link"  # OSC 8 hyperlink
    assert render(b"\x1b[1;32;48;5;17mbold\x1b[K\x1b[2J\x1b[H") == "bold"
    assert render(b"\x1b(B\x1b=x\x1bPq#0;1\x1b\\y") == "xy"  # charset, keypad, DCS (sixel)


def test_other_controls_are_made_visible() -> None:
    assert render(b"bell\x07 nul\x00 bs\x08 del\x7f") == "bell\\x07 nul\\x00 bs\\x08 del\\x7f"
    assert render("c1\u009bx\u0085".encode()) == "c1\\u0085"  # U+009B CSI takes the x


def test_carriage_returns_keep_what_a_terminal_ends_with() -> None:
    assert render(b"10%\r50%\r100%\ndone\r\n") == "100%\ndone\n"
    assert render(b"windows\r\nline\r\n") == "windows\nline\n"


def test_binary_data_keeps_its_carriage_returns() -> None:
    assert render(b"\x7fELF\x02\r\x00\x01\r") == "\\x7fELF\\x02\\x0d\\x00\\x01\\x0d"


def test_a_stray_escape_cannot_swallow_the_following_lines() -> None:
    assert render(b"\x1b]unterminated title\nnext line") == "\nnext line"
    assert render(b"\x1b") == "\\x1b"


def test_clipped_edges_drop_half_characters() -> None:
    data = "é日本é".encode()
    assert render(data[1:], clipped_start=True) == "日本é"
    assert render(data[:-1], clipped_end=True) == "é日本"
    assert render(data[1:-1]) == "\\xa9日本\\xc3"


def test_neutralize_works_on_text_too() -> None:
    assert neutralize("\x1b[1mtitle\x1b[0m\x00") == "title\\x00"


@given(st.binary(max_size=400))
def test_render_never_emits_control_characters(data: bytes) -> None:
    text = render(data)
    assert not UNSAFE.search(text)
    text.encode("utf-8")  # always encodable (no lone surrogates)


@given(st.text(max_size=200))
def test_render_keeps_printable_text_as_is(text: str) -> None:
    safe = UNSAFE.sub("", text).replace("\x1b", "")
    assert render(safe.encode()) == safe


# --- clip -------------------------------------------------------------------------------------


def test_short_text_is_untouched() -> None:
    assert clip("abc", 3) == "abc"
    assert clip("ab", 3, tail="c") == "abc"


def kept_ends(shown: str, text: str) -> tuple[str, str]:
    """The head and tail of `text` that `shown` kept around its marker (the marker's own line
    breaks are told apart from the text's by trying both readings)."""
    marker = MARKER.search(shown)
    assert marker is not None, shown
    before, after = shown[: marker.start()], shown[marker.end() :]
    for first in {before, before.removesuffix("\n")}:
        for last in {after, after.removeprefix("\n")}:
            if (
                text.startswith(first)
                and text.endswith(last)
                and omitted(shown) == len(text) - len(first) - len(last)
            ):
                return first, last
    raise AssertionError(f"{shown!r} does not keep both ends of the text")


def test_long_text_keeps_head_and_tail_with_a_counting_marker() -> None:
    text = "\n".join(str(i) for i in range(1, 200_001))
    shown = clip(text, 30_000)
    first, last = kept_ends(shown, text)
    assert first.startswith("1\n2\n3\n") and last.endswith("199999\n200000")
    assert len(first) + len(last) <= 30_000


def test_cuts_snap_to_line_ends() -> None:
    text = "".join(f"line {i:04d}\n" for i in range(1000))
    shown = clip(text, 1000)
    head, _, tail = shown.partition("[...")
    assert head.endswith("\n") and head.splitlines()[-1].startswith("line ")
    assert tail.split("\n", 1)[1].startswith("line ")


def test_split_text_reports_the_dropped_middle() -> None:
    shown = clip("head", 100, tail="tail", dropped=1_234_567)
    assert shown == "head\n[... 1,234,567 characters omitted ...]\ntail"


def test_a_tiny_limit_still_works_and_a_zero_limit_is_refused() -> None:
    assert omitted(clip("abcdefgh", 1)) == 7
    with pytest.raises(ValueError):
        clip("abc", 0)


@given(st.text(max_size=3000), st.integers(min_value=1, max_value=500))
def test_clip_bounds_the_size_and_accounts_for_everything(text: str, limit: int) -> None:
    shown = clip(text, limit)
    if len(text) <= limit:
        assert shown == text
    else:
        first, last = kept_ends(shown, text)
        assert len(first) + len(last) <= limit
