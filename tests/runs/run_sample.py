"""A realistic finished run, recorded through the real Recorder, with real PNG screenshots."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from deskhand.agent.events import (
    ActionPoint,
    Event,
    ModelRetry,
    ModelTurn,
    Notice,
    RunFinished,
    RunStarted,
    ToolCall,
    ToolExecuted,
    Usage,
)
from deskhand.runs import Recorder, RunIndex, RunRecord
from deskhand.tools.imaging import EncodedImage

RUN_ID = "20250101-120000-abc123"
SIZE = (640, 400)
HOSTILE = "<script>alert('pwned')</script><img src=x onerror=alert(1)>"


def screen_png(hue: int, label: str) -> EncodedImage:
    """A desktop-like frame: a top bar, a window, some text; different per step."""
    image = Image.new("RGB", SIZE, (hue, 120, 200 - hue // 2))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, SIZE[0], 28), fill=(40, 44, 52))
    draw.rectangle((80, 70, 560, 360), fill=(250, 250, 250), outline=(90, 90, 90))
    draw.rectangle((80, 70, 560, 96), fill=(225, 228, 235))
    draw.text((96, 78), label, fill=(20, 20, 20))
    for row in range(6):
        draw.rectangle((100, 120 + row * 34, 100 + 60 * (row + 2), 136 + row * 34), fill=(200,) * 3)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return EncodedImage("image/png", buffer.getvalue(), *SIZE)


@dataclass
class SampleRun:
    record: RunRecord
    index: RunIndex
    events: list[Event]


def _turn(step: int, text: str, calls: list[ToolCall], thinking: str = "") -> ModelTurn:
    usage = Usage(input_tokens=1200, output_tokens=80, cache_read_input_tokens=900)
    return ModelTurn(
        RUN_ID,
        step=step,
        text=text,
        thinking=thinking,
        tool_calls=calls,
        stop_reason="tool_use" if calls else "end_turn",
        usage=usage,
        cost_usd=0.004 * step,
        model_ms=900.0 + 300 * step,
        total_usage=Usage(1200 * step, 80 * step, 0, 900 * step),
        total_cost_usd=sum(0.004 * s for s in range(1, step + 1)),
    )


def _result(
    record: RunRecord, step: int, call: ToolCall, points: list[ActionPoint], **kwargs: object
) -> ToolExecuted:
    fields: dict[str, object] = {"output": None, "error": None, "system": None}
    fields.update(kwargs)
    shot = None
    if call.name == "computer":
        shot = record.save_screenshot(step, call.id, screen_png(30 * step, f"after step {step}"))
    return ToolExecuted(
        RUN_ID,
        step=step,
        tool_use_id=call.id,
        name=call.name,
        input=call.input,
        screenshot=shot,
        screenshot_size=SIZE if shot else None,
        points=points,
        tool_ms=150.0 * step,
        **fields,  # type: ignore[arg-type]
    )


def record_sample_run(run_dir: Path, index: RunIndex, secret: str = "") -> SampleRun:
    """Five steps: screenshot, click, drag + type, scroll (with a stuck warning), bash error."""
    record = RunRecord.create(run_dir, RUN_ID, redact=[secret])
    recorder = Recorder(record, index)
    events: list[Event] = []

    def emit(event: Event) -> None:
        events.append(event)
        recorder(event)

    shot = ToolCall("tu_1", "computer", {"action": "screenshot"})
    click = ToolCall("tu_2", "computer", {"action": "left_click", "coordinate": [500, 60]})
    drag = ToolCall(
        "tu_3",
        "computer",
        {"action": "left_click_drag", "start_coordinate": [100, 200], "coordinate": [400, 300]},
    )
    type_ = ToolCall("tu_4", "computer", {"action": "type", "text": "dark mode"})
    scroll = ToolCall(
        "tu_5",
        "computer",
        {"action": "scroll", "coordinate": [320, 200], "scroll_direction": "down"},
    )
    bash = ToolCall("tu_6", "bash", {"command": "gsettings get theme"})
    emit(
        RunStarted(
            RUN_ID,
            task=f"Turn on dark mode in Settings {secret}".strip(),
            model="claude-sonnet-4-5",
            provider="anthropic",
            tool_version="computer_20250124",
            screen=(1280, 800),
            budgets={"max_steps": 50, "max_cost_usd": 2.0},
        )
    )
    emit(ModelRetry(RUN_ID, step=1, attempt=1, delay_s=2.0, error="overloaded_error (529)"))
    emit(_turn(1, "Let me look at the screen first.", [shot]))
    emit(_result(record, 1, shot, []))
    emit(_turn(2, f"{HOSTILE} Opening Settings.", [click], thinking="The gear is top right."))
    emit(_result(record, 2, click, [ActionPoint(500, 60)]))
    emit(_turn(3, "Dragging the slider, then typing.", [drag, type_]))
    emit(_result(record, 3, drag, [ActionPoint(100, 200), ActionPoint(400, 300)]))
    emit(_result(record, 3, type_, []))
    emit(_turn(4, "Scrolling down.", [scroll]))
    emit(_result(record, 4, scroll, [ActionPoint(320, 200)]))
    emit(Notice(RUN_ID, step=4, level="warning", message="The screen did not change (stuck?)"))
    emit(_turn(5, f"Checking with gsettings. {secret}".strip(), [bash]))
    emit(_result(record, 5, bash, [], error=f"gsettings: not found {secret}".strip()))
    emit(_turn(6, "Dark mode is on.", []))
    emit(
        RunFinished(
            RUN_ID,
            status="done",
            reason="the model ended its turn",
            steps=6,
            usage=Usage(7200, 480, 0, 5400),
            cost_usd=0.084,
            seconds=42.5,
            model_ms=12000.0,
            tool_ms=2100.0,
            final_text="Dark mode is on.",
        )
    )
    return SampleRun(record, index, events)


def make_sample(tmp_path: Path, secret: str = "") -> SampleRun:
    """The sample run in tmp_path/runs/<id>, indexed in tmp_path/index.sqlite."""
    return record_sample_run(
        tmp_path / "runs" / RUN_ID, RunIndex(tmp_path / "index.sqlite"), secret=secret
    )
