"""`deskhand serve` as a user starts it (a real process, `python -m deskhand.web`), with the
Messages-API emulator as the model, and a router that gives each run its own scripted turns."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from emulator.script import ApiError, RecordedRequest, Reply, Text, emulator_failure
from emulator.server import Emulator

API_KEY = "sk-ant-web-test-key-never-in-the-page"


@dataclass
class Served:
    base: str  # http://127.0.0.1:PORT
    url: str  # the printed URL, with the token
    token: str
    home: Path
    process: subprocess.Popen[str]


def start_server(emulator: Emulator, home: Path) -> Served:
    (home / "consent.json").write_text('{"version": 1, "how": "--yes"}')
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env.update(
        DESKHAND_HOME=str(home),
        ANTHROPIC_BASE_URL=emulator.base_url,
        ANTHROPIC_API_KEY=API_KEY,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "deskhand.web", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    deadline = time.monotonic() + 60
    line = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if "http://" in line or not line:
            break
    if "http://" not in line:
        process.kill()
        raise AssertionError(f"deskhand serve printed no URL: {line!r} {process.stderr.read()}")
    url = line.split("open ", 1)[1].strip()
    base, token = url.split("/?token=")
    return Served(base, url, token, home, process)


def stop_server(served: Served) -> str:
    served.process.terminate()
    try:
        _, err = served.process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        served.process.kill()
        _, err = served.process.communicate()
    return err


class Router:
    """Plays a separate list of turns for each run, picked by a word in the run's task."""

    def __init__(self) -> None:
        self.scripts: dict[str, deque[Reply]] = {}
        self.requests: dict[str, list[RecordedRequest]] = {}

    def add(self, key: str, *turns: Reply) -> None:
        self.scripts.setdefault(key, deque()).extend(turns)
        self.requests.setdefault(key, [])

    def __call__(self, request: RecordedRequest) -> Reply | ApiError:
        first = request.messages[0]["content"] if request.messages else []
        task = " ".join(b.get("text", "") for b in first if isinstance(b, dict))
        for key, turns in self.scripts.items():
            if key in task:
                self.requests[key].append(request)
                return turns.popleft() if turns else Reply([Text("Nothing left.")], "end_turn")
        return emulator_failure(f"no script for task {task!r}")

    def install(self, emulator: Emulator, turns: int = 400) -> None:
        emulator.script.add(*([self] * turns))


def texts_sent(request: RecordedRequest) -> Iterator[str]:
    for message in request.messages:
        content = message.get("content")
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and block.get("type") == "text":
                yield str(block["text"])
