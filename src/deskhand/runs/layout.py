"""Where things live inside a run directory, and the two file primitives every writer shares.

A run directory holds:
    events.jsonl        one JSON event per line, append-only (the source of truth)
    conversation.json   the full message list, rewritten atomically after each step (for resume)
    screenshots/        <step:04d>-<n>.<png|jpg|webp>, the images the model saw
    report.html         a self-contained page, written when the run finishes
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

EVENTS_FILE = "events.jsonl"
CONVERSATION_FILE = "conversation.json"
REPORT_FILE = "report.html"
SCREENSHOTS_DIR = "screenshots"


def read_events(run_dir: Path) -> list[dict[str, Any]]:
    """The events of a run, in order; an empty list when there are none yet.

    Lines that do not parse are skipped: a process killed mid-write leaves a torn last line, and
    a resumed run appends after it. Lines are split on "\\n" only, because `str.splitlines` would
    also split on U+2028 and friends, which JSON strings may hold unescaped.
    """
    try:
        text = (run_dir / EVENTS_FILE).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    events = []
    for line in text.split("\n"):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that readers and crashes see the old or the new file, whole."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise
