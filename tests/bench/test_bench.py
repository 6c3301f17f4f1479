"""`deskhand bench` end to end with very few steps: every row is there, the numbers are sane."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from deskhand.bench import BenchConfig, BenchResults, run_bench
from deskhand.bench.report import print_report
from deskhand.bench.steps import PHASES
from deskhand.cli import app

IN_REFERENCE = [
    "screenshot",
    "left_click",
    "key",
    "type",
    "scroll",
    "mouse_move",
    "left_click_drag",
]
ACTIONS = [*IN_REFERENCE, "zoom", "screenshot (jpeg)"]
SCENARIOS = ["S1", "S2", "S3", "S4", "S5", "S7", "S8", "S9"]
SLEEPING = ["left_click", "key", "scroll", "mouse_move", "left_click_drag"]  # reference: + 2 s


class CountingProgress:
    def __init__(self) -> None:
        self.total = -1
        self.done = 0

    def set_total(self, total: int) -> None:
        self.total = total

    def advance(self, label: str) -> None:
        assert label
        self.done += 1


@pytest.fixture(scope="module")
async def results() -> BenchResults:
    config = BenchConfig(steps=2, reference_steps=1, settle_runs=1, final_wait_s=1.0)
    progress = CountingProgress()
    measured = await run_bench(config, progress)
    assert progress.done == progress.total > 0
    return measured


def test_every_action_type_is_measured_both_ways(results: BenchResults) -> None:
    assert results.actions() == ACTIONS
    for action in ACTIONS:
        series = results.find(action)
        assert series is not None and len(series.timings) == 2, action
    for action in IN_REFERENCE:
        series = results.find(action, "reference")
        assert series is not None and len(series.timings) == 1, action
    assert results.find("zoom", "reference") is None


def test_the_numbers_are_sane(results: BenchResults) -> None:
    for series in results.series:
        for timing in series.timings:
            parts = [timing.settle_ms, timing.capture_ms, timing.scale_ms, timing.encode_ms]
            assert all(0 <= value < 10_000 for value in [timing.action_ms, *parts]), series
            # settle starts before the action and covers it, so the parts after it add up
            assert sum(parts) <= timing.total_ms + 1, series
            assert timing.capture_ms > 0 and timing.encode_ms > 0, series
    for action in SLEEPING:
        reference = results.find(action, "reference")
        assert reference is not None
        assert 1990 <= reference.summary("settle").p50 < 2500, action
        assert results.speedup(action) > 1, action
    tool_screenshot = results.find("screenshot")
    assert tool_screenshot is not None and tool_screenshot.summary("total").p50 < 1000


def test_every_settle_scenario_ran(results: BenchResults) -> None:
    assert [scenario.key for scenario in results.scenarios] == SCENARIOS
    for scenario in results.scenarios:
        assert len(scenario.runs) == 1
        assert 0 < scenario.runs[0].settle_ms <= 2500
    counted = [scenario.key for scenario in results.scenarios if scenario.counted]
    assert "S3" not in counted and len(counted) == 7
    assert results.settled_equal()[1] == 7


def test_report_and_json_have_every_row(results: BenchResults, tmp_path: Path) -> None:
    out = io.StringIO()
    print_report(Console(file=out, width=200), results)
    text = out.getvalue()
    for word in [*ACTIONS, *SCENARIOS, "reference", "PASS" if "PASS" in text else "FAIL"]:
        assert word in text
    assert len(results.targets()) == 4
    assert all(target.passed is not None for target in results.targets())
    path = tmp_path / "bench.json"
    results.write_json(path)
    data = json.loads(path.read_text())
    assert len(data["series"]) == len(ACTIONS) + len(IN_REFERENCE)
    assert set(data["series"][0]["phases"]) == set(PHASES)
    assert [scenario["key"] for scenario in data["scenarios"]] == SCENARIOS
    assert all(math.isfinite(data["speedup_total_p50"][action]) for action in IN_REFERENCE)


def test_cli_rejects_an_unknown_format_before_starting_anything() -> None:
    outcome = CliRunner().invoke(app, ["bench", "--format", "gif"])
    assert outcome.exit_code == 2
    assert "unknown image format" in outcome.output
