"""Secrets through the whole loop: the model types a placeholder, the desktop gets the value,
and the value appears in no request to the model, no event, no record file and no report."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from deskhand.agent.config import RunConfig
from deskhand.agent.loop import Agent
from deskhand.agent.providers import make_provider
from deskhand.runs.index import RunIndex
from deskhand.safety.confirm import Answer, CallbackConfirmer, ConfirmRequest
from deskhand.sandbox.desktop import Desktop
from emulator.script import Reply, Text, ToolUse
from emulator.server import Emulator

SECRET = "Tr0ub4dor&3-" + os.urandom(6).hex()


async def test_a_typed_secret_reaches_the_desktop_and_nothing_else(
    emulator: Emulator, desktop: Desktop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESKHAND_SECRET_DEMO_PASSWORD", SECRET)
    target = desktop.home / "secret-typed.txt"
    target.unlink(missing_ok=True)
    start_xterm = (
        "(xterm -T secret-typing -geometry 60x8+200+150 -e sh -c 'cat > ~/secret-typed.txt' &) ;"
        " xdotool search --sync --name secret-typing >/dev/null && echo ready"
    )
    emulator.script.add(
        Reply([ToolUse("bash", {"command": start_xterm})]),
        Reply([ToolUse("computer", {"action": "left_click", "coordinate": [320, 200]})]),
        Reply([ToolUse("computer", {"action": "type", "text": "{{secret:demo_password}}\n"})]),
        Reply([ToolUse("computer", {"action": "key", "text": "ctrl+d"})]),
        Reply([ToolUse("bash", {"command": "echo {{secret:demo_password}}"})]),
        Reply([Text("Signed in.")], "end_turn"),
    )
    asked: list[ConfirmRequest] = []

    def approve(request: ConfirmRequest) -> Answer:
        asked.append(request)
        return Answer(True, "callback")

    agent = Agent(
        RunConfig("Sign in.", policy="default", out=tmp_path / "run"),
        provider=make_provider(
            "anthropic", api_key="sk-ant-x-123456789", base_url=emulator.base_url
        ),
        index=RunIndex(tmp_path / "index.sqlite"),
        confirmer=CallbackConfirmer(approve),
    )
    result = await agent.run(desktop)
    assert result.ok
    assert target.read_text() == SECRET + "\n"
    # The model was told which placeholders exist, never the value.
    system = json.dumps(emulator.script.requests[0].body["system"])
    assert "{{secret:demo_password}}" in system
    # Entering credentials asked the human first (the default policy's credentials rule).
    assert any("credentials" in r.reason for r in asked)
    # The shell refuses placeholders: a command's history and output would keep the value.
    refused = json.dumps(emulator.script.requests[-1].tool_results)
    assert "only" in refused.lower() and SECRET not in refused
    sent = json.dumps([exchange.request.body for exchange in emulator.script.exchanges])
    assert SECRET not in sent
    for path in result.run_dir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
