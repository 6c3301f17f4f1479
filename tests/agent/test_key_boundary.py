"""The API key and deskhand's own files never enter the sandbox: a scripted model searches the
sandbox's files, every process's environment and command line, and deskhand's config paths."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from deskhand.agent.config import RunConfig
from deskhand.agent.loop import Agent
from deskhand.agent.providers import make_provider
from deskhand.runs.index import RunIndex, default_index_path
from deskhand.sandbox.desktop import Desktop
from emulator.script import Reply, Text, ToolUse
from emulator.server import Emulator

API_KEY = "sk-ant-boundary-" + os.urandom(12).hex()

# Runs inside the sandbox. The key arrives base64-encoded so that no command line (including
# this script's own) holds it in clear; the search skips only its own process, and the
# read-only system trees shared with the host (/usr and the /lib links), which hold no
# per-user state.
SEARCH = """
import base64, os, sys
needles = [base64.b64decode(arg) for arg in sys.argv[1:]]
found = []
for root, dirs, files in os.walk("/", topdown=True):
    if root == "/":
        skip = ("proc", "sys", "dev", "usr", "lib", "lib32", "lib64", "libx32", "bin", "sbin")
        dirs[:] = [d for d in dirs if d not in skip]
    for name in files:
        path = os.path.join(root, name)
        try:
            with open(path, "rb") as f:
                data = f.read(8 << 20)
        except OSError:
            continue
        if any(n in data for n in needles):
            found.append(path)
me = str(os.getpid())
for pid in (p for p in os.listdir("/proc") if p.isdigit() and p != me):
    for part in ("environ", "cmdline"):
        try:
            with open(f"/proc/{pid}/{part}", "rb") as f:
                if any(n in f.read() for n in needles):
                    found.append(f"/proc/{pid}/{part}")
        except OSError:
            pass
print("FOUND", found if found else "nothing")
"""


async def test_the_key_and_config_are_out_of_reach(
    emulator: Emulator, desktop: Desktop, tmp_path: Path
) -> None:
    (desktop.home / "search.py").write_text(SEARCH)
    config_dir = default_index_path().parent
    needles = [API_KEY.encode(), str(config_dir).encode()]
    encoded = " ".join(base64.b64encode(n).decode() for n in needles)
    search = ToolUse("bash", {"command": f"python3 ~/search.py {encoded}"})
    peek = ToolUse("bash", {"command": f"ls -la {config_dir} ; env | grep -ci anthropic"})
    emulator.script.add(Reply([search, peek]), Reply([Text("Nothing found.")], "end_turn"))
    agent = Agent(
        RunConfig("Look for secrets.", policy="permissive", out=tmp_path / "run"),
        provider=make_provider("anthropic", api_key=API_KEY, base_url=emulator.base_url),
        index=RunIndex(tmp_path / "index.sqlite"),
    )
    result = await agent.run(desktop)
    assert result.ok
    answers = {r["tool_use_id"]: json.dumps(r) for r in emulator.script.requests[-1].tool_results}
    assert "FOUND nothing" in answers[search.id], answers[search.id]
    assert "No such file or directory" in answers[peek.id]
    assert json.loads(answers[peek.id])["content"][0]["text"].startswith("0\n")
