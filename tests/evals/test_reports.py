"""Summaries, the HTML report, `compare` and the eval command's JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from deskhand.evals.cli import compare_command, eval_command
from deskhand.evals.report import wilson
from deskhand.evals.results import TaskResult, append_result, percentile, summarize
from deskhand.evals.runner import finish

from .conftest import TASKS_DIR


def result(task_id: str, passed: bool, **values: object) -> TaskResult:
    base: dict[str, object] = {
        "detail": "d",
        "steps": 3,
        "seconds": 2.0,
        "category": "editor",
        "skills": ("type", "key"),
        "agent": "model",
        "model_s": 1.0,
        "tool_s": 0.5,
        "tokens": 100,
        "cost_usd": 0.01,
        "reset_s": 0.2,
    }
    return TaskResult(id=task_id, passed=passed, **{**base, **values})  # type: ignore[arg-type]


def evaluation(folder: Path, verdicts: dict[str, bool]) -> Path:
    folder.mkdir(parents=True)
    for task_id, passed in verdicts.items():
        append_result(folder, result(task_id, passed))
    return folder


def test_summary_by_category_and_skill_and_percentiles() -> None:
    results = [
        result("a", True, seconds=1.0),
        result("b", False, category="browser", skills=("left_click",), seconds=9.0),
        result("c", True, seconds=3.0, error=None),
    ]
    summary = summarize(results, agent="model")
    assert summary["rate"] == pytest.approx(2 / 3) and summary["agent"] == "model"
    assert summary["by_category"]["editor"] == {"tasks": 2, "passed": 2, "rate": 1.0}
    assert summary["by_category"]["browser"]["passed"] == 0
    assert summary["by_skill"]["left_click"]["tasks"] == 1
    assert summary["seconds"]["p50"] == 3.0 and summary["seconds"]["p95"] == 9.0
    assert summary["tokens"] == 300 and summary["cost_usd"] == pytest.approx(0.03)
    assert percentile([], 50) == 0.0
    low, high = wilson(5, 10)
    assert 0.2 < low < 0.5 < high < 0.8


def test_html_report_is_self_contained_with_charts_and_links(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "a"
    run.mkdir(parents=True)
    (run / "report.html").write_text("<html></html>")
    results = [result("a", True, run_dir=str(run)), result("b<script>", False)]
    finish(tmp_path, results, agent="model", suite="unit")
    page = (tmp_path / "report.html").read_text()
    assert page.count("<svg") >= 4 and "<script" not in page  # escaped, no scripts
    assert 'href="runs/a/report.html"' in page and "b&lt;script&gt;" in page
    assert "http" not in page.replace("http://www.w3.org", "")  # nothing fetched from outside
    assert json.loads((tmp_path / "summary.json").read_text())["tasks"] == 2


def test_compare_names_flipped_tasks_and_the_delta(tmp_path: Path) -> None:
    a = evaluation(tmp_path / "a", {"x": True, "y": False, "z": True, "only-a": True})
    b = evaluation(tmp_path / "b", {"x": True, "y": True, "z": False, "only-b": False})
    app = typer.Typer()
    app.command()(compare_command)
    app.command("other")(lambda: None)
    out = CliRunner().invoke(app, ["compare-command", str(a), str(b), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["fixed"] == ["y"] and data["broken"] == ["z"]
    assert data["only_a"] == ["only-a"] and data["only_b"] == ["only-b"]
    assert data["delta_common"] == pytest.approx(0.0)
    text = CliRunner().invoke(app, ["compare-command", str(a), str(b)])
    assert "y" in text.output and "tasks that flipped" in text.output


@pytest.mark.desktop
def test_the_eval_command_prints_a_json_summary(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(eval_command)
    app.command("other")(lambda: None)
    out = CliRunner().invoke(
        app,
        [
            "eval-command",
            str(TASKS_DIR),
            "--agent",
            "null",
            "--task",
            "shell-*",
            "--json",
            "--out",
            str(tmp_path / "e"),
        ],
    )
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output)
    assert summary["tasks"] == 1 and summary["passed"] == 0 and summary["agent"] == "null"
    bad = CliRunner().invoke(app, ["eval-command", str(TASKS_DIR), "--agent", "genius"])
    assert bad.exit_code == 2 and "unknown agent" in bad.output


def test_the_bench_repeats_the_suite_with_unique_ids() -> None:
    from deskhand.evals.bench import repeated
    from deskhand.evals.tasks import load_suite

    tasks = load_suite(TASKS_DIR)
    work = repeated(tasks, len(tasks) * 2 + 1)
    ids = [t.id for t in work]
    assert len(ids) == len(tasks) * 3 and len(set(ids)) == len(ids)
    assert ids[len(tasks)].endswith("-r2") and ids[-1].endswith("-r3")
