"""Prompt-injection screening of what the model sees: screenshots (OCR) and tool text output.

    from deskhand.safety.screening import Screener, screen_image, screen_text, warning_for

    verdict = screen_text(tool_output, "output")     # never raises; errors are hits
    if verdict.hit:
        note = warning_for(verdict)                  # append to the tool result

See docs/security.md ("Prompt-injection screening") for the rules and measured figures.
"""

from deskhand.safety.screening.detector import (
    Screener,
    Verdict,
    ascreen_image,
    screen_image,
    screen_text,
    warning_for,
)
from deskhand.safety.screening.normalize import normalise
from deskhand.safety.screening.ocr import OcrLine, read_text
from deskhand.safety.screening.rules import THRESHOLD

__all__ = [
    "THRESHOLD",
    "OcrLine",
    "Screener",
    "Verdict",
    "ascreen_image",
    "normalise",
    "read_text",
    "screen_image",
    "screen_text",
    "warning_for",
]
