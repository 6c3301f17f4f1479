"""Program output and file text made safe and short enough to show a model.

`render` turns raw bytes into text a model can read and a terminal cannot act on: invalid UTF-8
becomes `\\xNN`, terminal escape sequences (colours, cursor moves, OSC window titles and
hyperlinks) are removed, carriage-return progress lines keep only their final state (in text:
binary data with NUL bytes keeps every byte), and every
other control character is shown as an escape instead of being sent raw. `clip` keeps the head
and the tail of a long text around a marker saying how much was left out. Both are pure functions
shared by the bash and editor tools.
"""

from __future__ import annotations

import codecs
import re

# ESC ] ... (BEL or ESC \): OSC (window title, hyperlinks). ESC P/X/^/_ ... ST: DCS, SOS, PM,
# APC. ESC [ ...: CSI (colours, cursor). ESC + intermediates + final: charset and mode switches.
# The single-byte C1 forms (U+009B CSI, U+009D OSC) are handled like the ESC forms. String
# bodies stop at a newline, so a stray ESC ] in binary data cannot swallow the rest of the text.
_ESCAPES = re.compile(
    r"(?:\x1b\]|\x9d)[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[PX^_][^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|\x1b[ -/]*[0-~]"
)
# What remains unprintable after the escapes are gone: C0 except \t and \n, DEL, C1. \r is
# handled before (progress lines), so a lone one left here is shown too.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_UTF8_CONTINUATION = re.compile(rb"^[\x80-\xbf]{1,3}")


def render(data: bytes, *, clipped_start: bool = False, clipped_end: bool = False) -> str:
    """Decode program output safely for display.

    `clipped_start` / `clipped_end` say the bytes were cut out of a longer stream, so a character
    split at that edge is dropped instead of being shown as `\\xNN` garbage.
    """
    if clipped_start:
        data = _UTF8_CONTINUATION.sub(b"", data, count=1)
    decoder = codecs.getincrementaldecoder("utf-8")("backslashreplace")
    return neutralize(decoder.decode(data, final=not clipped_end))


def neutralize(text: str) -> str:
    """Remove terminal escape sequences and make the other control characters visible."""
    text = _ESCAPES.sub("", text)
    if "\r" in text and "\x00" not in text:  # binary data keeps its \r bytes, as \x0d
        text = _overwrite_lines(text)
    return _CONTROLS.sub(_escape_control, text)


def _overwrite_lines(text: str) -> str:
    """Show what a terminal would end with: `50%\\r100%` is `100%`, `\\r\\n` is a newline."""
    lines = text.replace("\r\n", "\n").split("\n")
    return "\n".join(_last_segment(line) if "\r" in line else line for line in lines)


def _last_segment(line: str) -> str:
    segments = [segment for segment in line.split("\r") if segment]
    return segments[-1] if segments else ""


def _escape_control(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}"


def _marker(count: int) -> str:
    return f"[... {count:,} characters omitted ...]"


def clip(head: str, limit: int, *, tail: str = "", dropped: int = 0) -> str:
    """Fit text into about `limit` characters, keeping its beginning and its end.

    The text is `head + tail`, or, when `dropped` characters between them were already thrown
    away (a capture that kept only both ends), `head`, then that gap, then `tail`. Whatever does
    not fit is replaced by one marker line counting the characters left out; cuts snap to line
    ends when one is close. The result holds at most `limit` characters plus the marker.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if dropped == 0:
        whole = head + tail
        if len(whole) <= limit:
            return whole
        head = tail = whole
        total = len(whole)
    else:
        total = len(head) + dropped + len(tail)
    first = _cut_head(head, limit // 2)
    last = _cut_tail(tail, limit - len(first))
    before = "" if not first or first.endswith("\n") else "\n"
    after = "" if not last or last.startswith("\n") else "\n"
    return f"{first}{before}{_marker(total - len(first) - len(last))}{after}{last}"


def _cut_head(text: str, size: int) -> str:
    cut = text[:size]
    newline = cut.rfind("\n")
    return cut[: newline + 1] if newline >= size * 3 // 4 and len(text) > size else cut


def _cut_tail(text: str, size: int) -> str:
    cut = text[max(len(text) - size, 0) :] if size > 0 else ""
    newline = cut.find("\n")
    return cut[newline + 1 :] if 0 <= newline < size // 4 and len(text) > size else cut
