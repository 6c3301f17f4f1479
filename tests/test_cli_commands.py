"""Every documented command is registered and answers --help; `deskhand eval` routes a suite
name to `run` and its subcommands to themselves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deskhand.cli import app

DESKHAND = str(Path(sys.executable).parent / "deskhand")  # the installed console script
COMMANDS = [
    ["run"], ["runs"], ["desktop"], ["doctor"], ["bench"], ["serve"], ["scan"],
    ["bench-screening"], ["audit", "verify"], ["eval"], ["eval", "run"], ["eval", "compare"],
    ["eval", "bench"],
]  # fmt: skip


def usage(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], prog_name="deskhand")
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_answers_help(command: list[str]) -> None:
    assert f"Usage: deskhand {' '.join(command)}" in usage(*command)


def test_eval_routes_a_suite_to_run() -> None:
    assert "Usage: deskhand eval run" in usage("eval", "builtin")
    assert "Usage: deskhand eval run" in usage("eval", "--agent", "null")
    assert "Usage: deskhand eval run" in usage("eval", "osworld")


def test_eval_osworld_lists_the_official_tasks() -> None:
    done = subprocess.run(
        [DESKHAND, "eval", "osworld", "--list", "--json"], capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    tasks = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(tasks) == 369
    assert all(task["runnable"] or task["reason"] for task in tasks)
    assert sum(task["runnable"] for task in tasks) >= 9


@pytest.mark.desktop
def test_eval_osworld_runs_tasks_with_an_agent(tmp_path: Path) -> None:
    """`deskhand eval osworld --agent oracle`: a feasible task and an infeasible one (passed by
    answering FAIL) on a real desktop, the JSON summary on stdout, the report written."""
    done = subprocess.run(
        [
            DESKHAND, "eval", "osworld", "--agent", "oracle", "--json", "--out", str(tmp_path),
            "--task", "os/e0df059f-*", "--task", "os/b3d4a89c-*",
        ],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["tasks"], summary["passed"]) == (2, 2), summary
    assert set(summary["by_category"]) == {"os"}
    assert (tmp_path / "report.html").is_file() and (tmp_path / "results.jsonl").is_file()
