"""report.html: every step, marks where the actions landed, untrusted text escaped, offline."""

from __future__ import annotations

import base64
import dataclasses
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from run_sample import RUN_ID, make_sample, screen_png

from deskhand.agent.events import RunStarted, ToolExecuted
from deskhand.runs import RunRecord, render_report

CHROMIUM = Path("/usr/bin/chromium")


def figures(page: str) -> list[str]:
    return re.findall(r'<figure class="shot">.*?</figure>', page)


def test_the_report_shows_every_step_and_the_end(tmp_path: Path) -> None:
    sample_run = make_sample(tmp_path)
    page = (sample_run.record.path / "report.html").read_text()
    assert page == render_report(sample_run.record.path)
    for step in range(1, 7):
        assert f'id="step-{step}"' in page
    assert "Turn on dark mode in Settings" in page
    assert "claude-sonnet-4-5" in page and "computer_20250124" in page
    assert '<span class="badge ok">done</span>' in page
    assert "the model ended its turn" in page
    assert "7,200 in · 480 out" in page and "5,400 read" in page
    assert "$0.0840" in page and "42.5 s" in page
    assert '<details class="thinking">' in page and "The gear is top right." in page
    assert "gsettings: not found" in page  # the bash error
    # Retries and notices are marked where they happened and counted in the step header.
    assert re.search(r'class="flag retry">↻ retry 1 after 2.0 s: overloaded_error', page)
    assert 'class="flag warning">⚠ The screen did not change (stuck?)' in page
    assert "⚠ 1 notice" in page and "↻ 1 retry" in page
    # Latency split per step, and the charts link to the steps.
    assert "model 1.5 s" in page and "tools 300 ms" in page
    assert page.count('<a href="#step-') >= 12


def test_actions_are_drawn_on_the_screen_the_model_saw(tmp_path: Path) -> None:
    sample_run = make_sample(tmp_path)
    shots = figures((sample_run.record.path / "report.html").read_text())
    marked = [f for f in shots if 'class="mark"' in f]
    assert len(marked) == 3  # click, drag, scroll; not the screenshot, type or bash calls
    click, drag, scroll = marked
    assert 'viewBox="0 0 640 400"' in click
    assert '<use href="#shot-1"/>' in click  # the step 1 screenshot, seen before step 2
    assert '<circle cx="500" cy="60"' in click
    assert "M473.3 60H526.7M500 33.3V86.7" in click  # the crosshair
    assert '<use href="#shot-2"/>' in drag
    assert '<circle cx="100" cy="200"' in drag and 'd="M100 200L' in drag
    assert 'points="400.0,300.0 ' in drag  # the arrow head's tip at the end point
    assert '<circle cx="320" cy="200"' in scroll and 'points="320.0,' in scroll
    # The second call of step 3 was chosen from the same screen as the first.
    type_figures = [f for f in shots if '<use href="#shot-2"/>' in f]
    assert len(type_figures) == 3  # drag before, type before, step 2 after


def test_the_report_embeds_its_images_and_fetches_nothing(tmp_path: Path) -> None:
    sample_run = make_sample(tmp_path)
    page = (sample_run.record.path / "report.html").read_text()
    uris = re.findall(r'href="data:image/png;base64,([^"]+)"', page)
    files = sorted((sample_run.record.path / "screenshots").iterdir())
    assert len(files) == 5
    assert sorted(base64.b64decode(u) for u in uris) == sorted(f.read_bytes() for f in files)
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "@import" not in page and "url(http" not in page


def test_model_text_is_escaped(tmp_path: Path) -> None:
    sample_run = make_sample(tmp_path)
    page = (sample_run.record.path / "report.html").read_text()
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page
    assert "<script>alert" not in page and "<img src=x" not in page
    assert page.count("<script>") == 1  # the page's own click-to-zoom


def test_screenshot_names_cannot_leave_the_run(tmp_path: Path) -> None:
    outside = tmp_path / "private.png"
    outside.write_bytes(screen_png(0, "private").data)
    record = RunRecord.create(tmp_path / "run", RUN_ID)
    record.append(
        ToolExecuted(
            RUN_ID,
            step=1,
            tool_use_id="tu_1",
            name="computer",
            input={"action": "screenshot"},
            output=None,
            error=None,
            system=None,
            screenshot="screenshots/../../private.png",
            screenshot_size=(640, 400),
            points=[],
            tool_ms=1.0,
        )
    )
    page = render_report(record.path)
    assert "data:image" not in page
    assert "missing" in page


def test_an_unfinished_run_still_renders(tmp_path: Path) -> None:
    sample_run = make_sample(tmp_path)
    events = (sample_run.record.path / "events.jsonl").read_text().splitlines()
    (sample_run.record.path / "events.jsonl").write_text("\n".join(events[:6]) + "\n")
    started = sample_run.events[0]
    assert isinstance(started, RunStarted)
    sample_run.record.append(dataclasses.replace(started, resumed=True))
    page = render_report(sample_run.record.path)
    assert 'class="flag info">⏵ resumed at' in page
    assert '<span class="badge run">running</span>' in page
    assert "Not finished" in page and 'id="step-2"' in page and 'id="step-3"' not in page


def test_a_run_without_events_renders(tmp_path: Path) -> None:
    assert "No steps." in render_report(tmp_path)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
def test_the_report_renders_in_a_browser(tmp_path: Path) -> None:
    sample_run = make_sample(tmp_path)
    report = sample_run.record.path / "report.html"
    screenshot = tmp_path / "report.png"
    subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",  # tests may run as root, where Chromium's own sandbox refuses
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1280,2000",
            f"--screenshot={screenshot}",
            report.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=60,
        cwd=tmp_path,
    )
    with Image.open(screenshot) as image:
        rgb = image.convert("RGB")
    pixels = np.asarray(rgb).reshape(-1, 3)
    assert len(np.unique(pixels, axis=0)) > 200  # text, charts and screenshots: not blank
    # The embedded screenshots rendered: their dark top bar (40, 44, 52) is on the page.
    assert (pixels == (40, 44, 52)).all(axis=1).any()
