"""What the action gate reads: a click is judged by the text on its own row (not by a line above
it), and a typed file name is not taken for a site to ask about."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw, ImageFont

from deskhand.safety.gate import _urls, on_row, read_region
from deskhand.safety.screening.ocr import OcrLine

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"


def line(text: str, top: int, bottom: int) -> OcrLine:
    return OcrLine(text, (0, top, 100, bottom), 0.9)


def test_the_row_is_the_lines_spanning_it_or_the_nearest_within_reach() -> None:
    # OCR boxes overlap (as rapidocr's do for an editor's lines 21 px apart).
    lines = [line("buy milk", 17, 43), line("call Ana", 38, 59), line("fix bike", 55, 76)]
    assert [x.text for x in on_row(lines, 48)] == ["call Ana"]
    assert [x.text for x in on_row(lines, 40)] == ["buy milk", "call Ana"]  # both: ask if either
    button = [line("Place order", 30, 46)]
    assert [x.text for x in on_row(button, 20)] == ["Place order"]  # a click near its edge
    assert on_row(button, 10) == [] and on_row([], 5) == []


async def test_a_click_on_an_editor_line_is_read_without_the_line_above() -> None:
    image = Image.new("RGB", (320, 96), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 15)
    for index, text in enumerate(("buy milk", "call Ana", "fix bike")):
        draw.text((130, 22 + 21 * index), text, fill="black", font=font)
    whole = await read_region(image)
    assert "buy milk" in whole and "call Ana" in whole  # the region, for typing and keys
    row = await read_region(image, 22 + 21 + 9)  # the middle of "call Ana"
    assert "call Ana" in row and "buy" not in row


@pytest.mark.parametrize(
    ("typed", "site"),
    [
        ("greeting.txt", None),
        ("report.pdf", None),
        ("notes.md", None),
        ("example.com", "https://example.com"),
        ("www.notes.md", "https://www.notes.md"),
        ("example.com/readme.txt", "https://example.com/readme.txt"),
        ("https://a.txt", "https://a.txt"),
    ],
)
def test_typed_file_names_are_not_sites(typed: str, site: str | None) -> None:
    assert list(_urls(typed)) == ([site] if site else [])
