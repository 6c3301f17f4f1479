"""`deskhand run` and `deskhand runs` as a user runs them: a real process, a fresh sandboxed
desktop, the official SDK configured only through ANTHROPIC_* variables, the emulator as API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emulator.script import Reply, Text, ToolUse, rate_limited
from emulator.server import Emulator

API_KEY = "sk-ant-cli-test-key-never-in-output"
DESKHAND = [sys.executable, "-m", "deskhand.cli"]


def environment(
    emulator: Emulator, home: Path, *, key: bool = True, consented: bool = True
) -> dict[str, str]:
    if consented:  # as after `deskhand run --yes` (the consent test starts without)
        (home / "consent.json").write_text('{"version": 1, "how": "--yes"}')
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env.update(DESKHAND_HOME=str(home), ANTHROPIC_BASE_URL=emulator.base_url, COLUMNS="120")
    if key:
        env["ANTHROPIC_API_KEY"] = API_KEY
    return env


def deskhand(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DESKHAND, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_run_prints_progress_and_a_json_summary(emulator: Emulator, tmp_path: Path) -> None:
    emulator.script.add(
        Reply([Text("Checking the files."), ToolUse("bash", {"command": "ls -a ~"})]),
        rate_limited(),
        Reply([ToolUse("computer", {"action": "screenshot"})]),
        Reply([Text("There is nothing to do.")], "end_turn"),
    )
    out = tmp_path / "the-run"
    done = deskhand(
        "run",
        "Look around.",
        "--json",
        "--out",
        str(out),
        "--model",
        "claude-haiku-4-5",
        "--vnc",
        env=environment(emulator, tmp_path),
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == "done" and summary["steps"] == 3
    assert summary["run_dir"] == str(out) and summary["cost_usd"] > 0
    assert summary["tokens"]["total"] > 0
    shown_all = ("step 1", "Checking the files.", "bash: ls -a ~", "retry 1", "run finished")
    for shown in (*shown_all, "vncviewer 127.0.0.1::"):
        assert shown in done.stderr, shown
    assert (out / "report.html").is_file()
    assert API_KEY not in done.stdout + done.stderr
    assert emulator.script.requests[0].body["model"] == "claude-haiku-4-5"
    assert emulator.script.requests[0].betas == ["computer-use-2025-01-24"]

    listed = deskhand("runs", "--json", env=environment(emulator, tmp_path))
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["id"], r["status"]) for r in rows] == [(summary["run_id"], "done")]
    table = deskhand("runs", env=environment(emulator, tmp_path))
    assert summary["run_id"][:15] in table.stdout and "done" in table.stdout


def test_no_api_key_is_one_clear_line(emulator: Emulator, tmp_path: Path) -> None:
    failed = deskhand("run", "Anything.", env=environment(emulator, tmp_path, key=False))
    assert failed.returncode == 7
    assert "ANTHROPIC_API_KEY" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1
    assert not emulator.script.exchanges  # nothing was sent


def test_bad_options_are_usage_errors(emulator: Emulator, tmp_path: Path) -> None:
    env = environment(emulator, tmp_path)
    wrong = deskhand("run", "x", "--tool-version", "computer_19990101", env=env)
    assert wrong.returncode == 2 and "known types" in wrong.stderr
    assert deskhand("run", "x", "--thinking", "lots", env=env).returncode == 2
    assert deskhand("run", "", env=env).returncode == 2


def test_ctrl_c_stops_fast_and_the_run_resumes(emulator: Emulator, tmp_path: Path) -> None:
    slow = ToolUse("bash", {"command": "sleep 60"})
    emulator.script.add(Reply([Text("This takes a while."), slow]))
    env = environment(emulator, tmp_path)
    out = tmp_path / "interrupted"
    process = subprocess.Popen(
        [*DESKHAND, "run", "Wait a minute.", "--json", "--out", str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    events = out / "events.jsonl"
    while not (events.exists() and "model_turn" in events.read_text()):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.1)
    time.sleep(0.5)  # the sleep is running inside the desktop now
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    took = time.monotonic() - sent
    assert process.returncode == 130, stderr
    assert took < 3.0, f"stopping took {took:.1f} s"  # the agent stops in < 1 s; the desktop after
    summary = json.loads(stdout)
    assert summary["status"] == "interrupted"
    conversation = json.loads((out / "conversation.json").read_text())
    answer = conversation[-1]["content"][0]
    assert answer["tool_use_id"] == slow.id and answer["is_error"] is True

    emulator.script.add(Reply([Text("Finished after all.")], "end_turn"))
    resumed = deskhand("run", "Go on.", "--resume", summary["run_id"][:17], "--json", env=env)
    assert resumed.returncode == 0, resumed.stderr
    again = json.loads(resumed.stdout)
    assert again["run_id"] == summary["run_id"] and again["final_text"] == "Finished after all."
    last = emulator.script.requests[-1].messages
    assert last[-1]["role"] == "user" and "Go on." in json.dumps(last[-1])


@pytest.mark.parametrize("reference", ["nonexistent-run"])
def test_resume_of_an_unknown_run_says_so(
    emulator: Emulator, tmp_path: Path, reference: str
) -> None:
    failed = deskhand("run", "--resume", reference, env=environment(emulator, tmp_path))
    assert failed.returncode == 2 and "no run" in failed.stderr


def test_consent_is_asked_once_and_yes_records_it(emulator: Emulator, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh-home"
    fresh.mkdir()
    env = environment(emulator, fresh, consented=False)
    refused = deskhand("run", "Anything.", "--non-interactive", env=env)
    assert refused.returncode == 9 and "consent" in refused.stderr
    assert not emulator.script.exchanges
    emulator.script.add(Reply([Text("Nothing to do.")], "end_turn"))
    agreed = deskhand("run", "Anything.", "--yes", "--json", env=env)
    assert agreed.returncode == 0, agreed.stderr
    assert json.loads((fresh / "consent.json").read_text())["how"] == "--yes"
    emulator.script.add(Reply([Text("Still nothing.")], "end_turn"))
    assert deskhand("run", "Again.", "--non-interactive", env=env).returncode == 0


@pytest.mark.parametrize(("typed", "removed"), [("y\n", True), ("n\n", False), ("", False)])
def test_the_terminal_asks_before_a_gated_action(
    emulator: Emulator, tmp_path: Path, typed: str, removed: bool
) -> None:
    """`deskhand run` asks on the terminal: y runs the action; n, or no answer (end of input),
    declines it."""
    target = "/home/user/notes.txt"
    emulator.script.add(
        Reply([ToolUse("bash", {"command": f"echo hi > {target} && ls {target}"})]),
        Reply([ToolUse("bash", {"command": f"rm {target}"})]),
        Reply([ToolUse("bash", {"command": f"ls {target} || echo gone"})]),
        Reply([Text("ok")], "end_turn"),
    )
    done = subprocess.run(
        [*DESKHAND, "run", "Tidy up.", "--json"],
        env=environment(emulator, tmp_path),
        input=typed,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "approve this action?" in done.stderr and "rm /home/user/notes.txt" in done.stderr
    last = json.dumps(emulator.script.requests[-1].tool_results)
    assert ("gone" in last) is removed
    if not removed:
        assert "Declined by the user (terminal)" in json.dumps(
            emulator.script.requests[-2].tool_results
        )
