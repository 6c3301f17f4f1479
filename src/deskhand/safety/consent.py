"""Consent: before the first run on a machine, the user reads the risks and says yes.

The answer is stored in `$DESKHAND_HOME/consent.json` (default `~/.local/share/deskhand/`), with
the version of the text agreed to: a later, different text asks again. `deskhand run --yes`
records consent for automation. Without consent nothing runs, in the CLI and in the Python API.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from deskhand.runs.index import default_index_path

CONSENT_VERSION = 1
RISKS = """\
deskhand lets an AI model operate a computer: it sees the screen, moves the mouse, types and
runs commands. Before the first run, please know what that means:

  * The model acts on its own. It can misread the screen, click the wrong thing, or do more
    than you asked. Watch it (--vnc) and keep budgets small until you trust a task.
  * Text on web pages, documents and images can try to give the model instructions (prompt
    injection). deskhand screens for this and asks you before consequential actions, but no
    detector is perfect: approve only what you understand.
  * Everything happens inside a sandbox with its own files and, unless you allow sites, no
    network. What you put into the sandbox (files, credentials) the model can use.
  * Screenshots and the model's actions are sent to the model's provider and kept in the run
    record on this machine.
  * You are responsible for what you ask it to do, and for approving consequential actions:
    purchases, messages, accepting terms, deleting things.
"""


class ConsentRequired(RuntimeError):
    """No consent is recorded: run `deskhand run` once interactively, or pass `--yes`."""


def consent_path() -> Path:
    return default_index_path().parent / "consent.json"


def given() -> bool:
    try:
        data = json.loads(consent_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("version") == CONSENT_VERSION


def record(how: str) -> None:
    """Store consent (`how`: "interactive", "--yes", "api")."""
    path = consent_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"version": CONSENT_VERSION, "time": time.time(), "how": how}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data), encoding="utf-8")
    temporary.replace(path)


MISSING = (
    "deskhand needs your consent before its first run: run `deskhand run` once in a terminal "
    "and read the risks, or pass --yes (Python: deskhand.safety.consent.record('api'))."
)


def require() -> None:
    if not given():
        raise ConsentRequired(MISSING)
