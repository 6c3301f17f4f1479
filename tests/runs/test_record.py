"""RunRecord: the on-disk layout, round trips, atomic conversation saves, resume, redaction."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest
from run_sample import RUN_ID, make_sample, screen_png

from deskhand.agent.events import Notice
from deskhand.runs import RunRecord, new_run_id
from deskhand.runs.redact import REDACTED

SECRET = "sk-ant-api03-PLANTED-secret-<&>-key"


def test_run_ids_sort_by_time() -> None:
    run_id = new_run_id()
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", run_id)
    assert run_id != new_run_id()


def test_create_makes_a_private_directory_and_refuses_a_used_one(tmp_path: Path) -> None:
    record = RunRecord.create(tmp_path / "a" / "run", RUN_ID)
    assert stat.S_IMODE(record.path.stat().st_mode) == 0o700
    assert (record.path / "screenshots").is_dir()
    with pytest.raises(FileExistsError):
        RunRecord.create(record.path, RUN_ID)
    empty = tmp_path / "empty"
    empty.mkdir(mode=0o755)
    assert stat.S_IMODE(RunRecord.create(empty, RUN_ID).path.stat().st_mode) == 0o700


def test_events_round_trip(tmp_path: Path) -> None:
    sample_run = make_sample(tmp_path)
    written = [json.loads(json.dumps(event.to_json())) for event in sample_run.events]
    assert sample_run.record.events() == written  # tuples come back as lists
    lines = (sample_run.record.path / "events.jsonl").read_text().splitlines()
    assert len(lines) == len(sample_run.events)
    assert json.loads(lines[0])["screen"] == [1280, 800]


def test_screenshots_are_named_by_step_and_order(tmp_path: Path) -> None:
    record = RunRecord.create(tmp_path / "run", RUN_ID)
    image = screen_png(10, "x")
    jpeg = image.__class__("image/jpeg", b"jpeg bytes", 640, 400)
    assert record.save_screenshot(3, "tu_a", image) == "screenshots/0003-1.png"
    assert record.save_screenshot(3, "tu_b", jpeg) == "screenshots/0003-2.jpg"
    assert record.save_screenshot(12, "tu_c", image) == "screenshots/0012-1.png"
    # The same call saved again replaces its file, even in another format.
    assert record.save_screenshot(3, "tu_a", jpeg) == "screenshots/0003-1.jpg"
    assert sorted(p.name for p in (record.path / "screenshots").iterdir()) == [
        "0003-1.jpg",
        "0003-2.jpg",
        "0012-1.png",
    ]
    assert (record.path / "screenshots/0012-1.png").read_bytes() == image.data


def test_conversation_round_trip_and_atomic_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = RunRecord.create(tmp_path / "run", RUN_ID)
    assert record.load_conversation() == []
    image = screen_png(10, "x")
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "do it"}]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "tu_1",
                    "content": [
                        {
                            "type": "image",
                            "source": {
                                "type": "base64",
                                "media_type": "image/png",
                                "data": image.base64,
                            },
                        }
                    ],
                }
            ],
        },
    ]
    record.save_conversation(messages)
    assert record.load_conversation() == messages

    def crash(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        record.save_conversation([{"role": "user", "content": "half written"}])
    assert record.load_conversation() == messages  # the old version, whole
    assert [p.name for p in record.path.iterdir() if p.name.startswith(".")] == []


def test_saved_screenshots_are_referenced_not_copied_into_the_conversation(
    tmp_path: Path,
) -> None:
    record = RunRecord.create(tmp_path / "run", RUN_ID)
    record.append(Notice(RUN_ID, step=0, level="info", message="started"))
    saved, unsaved = screen_png(10, "saved"), screen_png(90, "never saved")
    record.save_screenshot(1, "tu_1", saved)

    def result(image_data: str) -> dict[str, object]:
        source = {"type": "base64", "media_type": "image/png", "data": image_data}
        return {
            "type": "tool_result",
            "tool_use_id": "t",
            "content": [{"type": "image", "source": source}],
        }

    messages = [{"role": "user", "content": [result(saved.base64), result(unsaved.base64)]}]
    record.save_conversation(messages)
    stored = (record.path / "conversation.json").read_text()
    assert saved.base64 not in stored and "screenshots/0001-1.png" in stored
    assert unsaved.base64 in stored  # no file to point at: kept inline
    assert record.load_conversation() == messages
    # A resumed record reads the references back, and keeps them references when it saves.
    reopened = RunRecord.open(record.path)
    reopened.save_conversation(reopened.load_conversation())
    assert (record.path / "conversation.json").read_text() == stored


def test_a_reference_outside_the_screenshots_folder_is_refused(tmp_path: Path) -> None:
    record = RunRecord.create(tmp_path / "run", RUN_ID)
    (tmp_path / "secret.png").write_bytes(b"not yours")
    source = {"type": "deskhand_screenshot", "media_type": "image/png", "path": "../secret.png"}
    bad = [{"role": "user", "content": [{"type": "image", "source": source}]}]
    (record.path / "conversation.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="outside screenshots"):
        record.load_conversation()


def test_open_resumes_after_a_torn_line(tmp_path: Path) -> None:
    sample = make_sample(tmp_path)
    with (sample.record.path / "events.jsonl").open("a") as file:
        file.write('{"kind": "notice", "run_id": "')  # the process died mid-write
    record = RunRecord.open(sample.record.path)
    assert record.run_id == RUN_ID
    record.append(Notice(RUN_ID, step=7, level="info", message="resumed"))
    events = record.events()
    assert len(events) == len(sample.events) + 1
    assert events[-1]["message"] == "resumed"
    # Resumed screenshots never overwrite the older ones of the same step.
    assert record.save_screenshot(3, "tu_new", screen_png(0, "y")) == "screenshots/0003-3.png"
    with pytest.raises(ValueError, match="appended to run"):
        record.append(Notice("another-run", step=1, level="info", message="x"))


def test_open_refuses_a_directory_without_events(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no run events"):
        RunRecord.open(tmp_path)


def test_secrets_are_redacted_everywhere(tmp_path: Path) -> None:
    sample = make_sample(tmp_path, secret=SECRET)
    sample.record.save_conversation([{"role": "user", "content": f"key is {SECRET}"}])
    assert SECRET in json.dumps(sample.events[0].to_json())  # it was there to leak
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"events.jsonl", "conversation.json", "report.html"}
    for path in written:  # events, conversation, report, and the index (with its WAL)
        data = path.read_bytes()
        assert SECRET.encode() not in data, path
        assert b"PLANTED" not in data, path
    assert REDACTED in sample.record.events()[0]["task"]
    assert REDACTED in sample.record.load_conversation()[0]["content"]
    assert REDACTED in (sample.record.path / "report.html").read_text()
    row = sample.index.get(RUN_ID)
    assert row is not None and REDACTED in row.task
