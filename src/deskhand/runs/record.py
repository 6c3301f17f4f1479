"""One run's directory on disk: its event log, screenshots, conversation and report."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from deskhand.agent import events as ev
from deskhand.agent.events import Event
from deskhand.runs.layout import (
    CONVERSATION_FILE,
    EVENTS_FILE,
    REPORT_FILE,
    SCREENSHOTS_DIR,
    read_events,
    write_atomic,
)
from deskhand.runs.redact import Redactor, to_json_value
from deskhand.runs.report import render_report
from deskhand.tools.imaging import EncodedImage, to_base64
from deskhand.tools.results import ToolResult

# An image source that stands for a screenshot file of the run (never sent to the API).
IMAGE_REFERENCE = "deskhand_screenshot"
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


def new_run_id() -> str:
    """A run id that sorts by start time: `YYYYMMDD-HHMMSS-<6 hex>` (UTC)."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def _dumps(value: Any) -> str:
    # ensure_ascii=False keeps the file readable; JSON still escapes "\n", so one value = one line.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class RunRecord:
    """The directory of one run. Build it with `create` (new run) or `open` (resume)."""

    def __init__(self, path: Path, run_id: str, redact: Redactor) -> None:
        self.path = path
        self.run_id = run_id
        self.redact = redact
        # tool_use_id -> file stem, so a second image for the same call replaces the first.
        self._screenshot_stems: dict[str, str] = {}
        # sha256 of an image's base64 text -> its file, so the conversation can point at it.
        self._image_files: dict[str, str] = {}

    @classmethod
    def create(cls, directory: Path, run_id: str, *, redact: Sequence[str] = ()) -> RunRecord:
        """Make the run's directory (mode 0700: screenshots show whatever was on screen)."""
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if any(directory.iterdir()):
            raise FileExistsError(f"{directory} is not empty: refusing to mix two runs")
        directory.chmod(0o700)  # mkdir's mode is filtered by the umask, and skipped if it existed
        (directory / SCREENSHOTS_DIR).mkdir(mode=0o700)
        return cls(directory, run_id, Redactor(redact))

    @classmethod
    def open(cls, directory: Path, *, redact: Sequence[str] = ()) -> RunRecord:
        """An existing run's directory, to resume it; the run id comes from its first event."""
        events = read_events(directory)
        if not events:
            raise ValueError(f"{directory} holds no run events")
        _end_torn_line(directory / EVENTS_FILE)
        (directory / SCREENSHOTS_DIR).mkdir(mode=0o700, exist_ok=True)
        return cls(directory, str(events[0]["run_id"]), Redactor(redact))

    def append(self, event: Event) -> None:
        """Add the event as one line of events.jsonl, handed to the OS before returning."""
        if event.run_id != self.run_id:
            raise ValueError(f"event of run {event.run_id!r} appended to run {self.run_id!r}")
        line = _dumps(self.redact(to_json_value(event.to_json()))) + "\n"
        with (self.path / EVENTS_FILE).open("a", encoding="utf-8") as file:
            file.write(line)

    def events(self) -> list[dict[str, Any]]:
        return read_events(self.path)

    def save_screenshot(self, step: int, tool_use_id: str, image: EncodedImage) -> str:
        """Write an image the model saw; returns its path relative to the run directory."""
        stem = self._screenshot_stems.get(tool_use_id) or self._free_stem(step)
        self._screenshot_stems[tool_use_id] = stem
        folder = self.path / SCREENSHOTS_DIR
        for old in folder.glob(f"{stem}.*"):  # the same call saved again, maybe in another format
            old.unlink()
        name = f"{stem}.{EXTENSIONS[image.media_type]}"
        write_atomic(folder / name, image.data)
        self._image_files[_digest(image.base64)] = f"{SCREENSHOTS_DIR}/{name}"
        return f"{SCREENSHOTS_DIR}/{name}"

    def tool_executed(
        self,
        step: int,
        tool_use_id: str,
        name: str,
        tool_input: dict[str, Any],
        result: ToolResult,
        tool_ms: float,
        computer: bool,
    ) -> ev.ToolExecuted:
        """The event of one executed tool call (the loop's or a scripted run's), with the image
        it returned saved and, for a computer call, where it landed."""
        image = result.image
        return ev.ToolExecuted(
            self.run_id,
            step=step,
            tool_use_id=tool_use_id,
            name=name,
            input=tool_input,
            output=result.output,
            error=result.error,
            system=result.system,
            screenshot=self.save_screenshot(step, tool_use_id, image) if image else None,
            screenshot_size=(image.width, image.height) if image else None,
            points=action_points(tool_input) if computer else [],
            tool_ms=tool_ms,
        )

    def _free_stem(self, step: int) -> str:
        # Scanning the folder (not a counter) keeps a resumed run from overwriting older images.
        taken = {p.stem for p in (self.path / SCREENSHOTS_DIR).glob(f"{step:04d}-*")}
        taken.update(self._screenshot_stems.values())
        n = 1
        while f"{step:04d}-{n}" in taken:
            n += 1
        return f"{step:04d}-{n}"

    def save_conversation(self, messages: list[dict[str, Any]]) -> None:
        """Replace conversation.json with the full message list, atomically (a crash mid-write
        leaves the previous version). Images saved as screenshots are stored as references to
        their files: inlining them would rewrite every screenshot at every step."""
        text = _dumps(self.redact(_map_images(to_json_value(messages), self._to_reference)))
        write_atomic(self.path / CONVERSATION_FILE, text.encode())

    def load_conversation(self) -> list[dict[str, Any]]:
        """The last saved message list; empty when none was saved yet."""
        try:
            text = (self.path / CONVERSATION_FILE).read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        messages: list[dict[str, Any]] = _map_images(json.loads(text), self._from_reference)
        return messages

    def _to_reference(self, source: dict[str, Any]) -> dict[str, Any]:
        if source.get("type") != "base64":
            return source
        path = self._image_files.get(_digest(source["data"]))
        if path is None:
            return source
        return {"type": IMAGE_REFERENCE, "media_type": source["media_type"], "path": path}

    def _from_reference(self, source: dict[str, Any]) -> dict[str, Any]:
        if source.get("type") != IMAGE_REFERENCE:
            return source
        file = (self.path / source["path"]).resolve()
        if not file.is_relative_to((self.path / SCREENSHOTS_DIR).resolve()):
            raise ValueError(f"conversation refers to {source['path']!r} outside screenshots/")
        data = to_base64(file.read_bytes())
        self._image_files[_digest(data)] = source["path"]
        return {"type": "base64", "media_type": source["media_type"], "data": data}

    def write_report(self) -> Path:
        """Render report.html from the events and screenshots written so far."""
        page = self.redact.html(render_report(self.path))
        path = self.path / REPORT_FILE
        write_atomic(path, page.encode())
        return path


def _digest(base64_text: str) -> str:
    return hashlib.sha256(base64_text.encode("ascii")).hexdigest()


def _map_images(value: Any, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    """A copy of a JSON value with `change` applied to the source of every image block."""
    if isinstance(value, list):
        return [_map_images(item, change) for item in value]
    if not isinstance(value, dict):
        return value
    if value.get("type") == "image" and isinstance(value.get("source"), dict):
        return {**value, "source": change(value["source"])}
    return {key: _map_images(item, change) for key, item in value.items()}


def _end_torn_line(events_file: Path) -> None:
    """Terminate a last line torn by a crash, so the next append starts a line of its own."""
    with events_file.open("rb+") as file:
        if file.seek(0, os.SEEK_END) == 0:
            return
        file.seek(-1, os.SEEK_END)
        if file.read(1) != b"\n":
            file.write(b"\n")


def action_points(tool_input: object) -> list[ev.ActionPoint]:
    """Where a computer action lands, for drawing it: drag start first, then the target."""
    if not isinstance(tool_input, dict):
        return []
    points = []
    for key in ("start_coordinate", "coordinate"):
        value = tool_input.get(key)
        if (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ):
            points.append(ev.ActionPoint(value[0], value[1]))
    return points
