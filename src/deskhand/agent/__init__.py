"""The agent loop: a model works on a sandboxed desktop through the tools until it is done.

    from deskhand.agent import RunConfig, run_sync

    result = run_sync(RunConfig("Open the calculator and compute 17 * 23"))
    print(result.status, result.final_text, result.run_dir / "report.html")

`run` is the async form; `Agent` gives a handle with `stop()` and `resume()`; pass
`on_event=` to get every step as it happens (see `deskhand.agent.events`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deskhand.agent.budget import Budgets
    from deskhand.agent.config import RunConfig, Thinking
    from deskhand.agent.context import ContextPolicy
    from deskhand.agent.loop import Agent, RunResult, run, run_sync

# Resolved on first use, so that importing a submodule (deskhand.agent.events, which the run
# record needs) does not import the whole loop and, through it, the run record itself.
_EXPORTS = {
    "Agent": "loop",
    "RunResult": "loop",
    "run": "loop",
    "run_sync": "loop",
    "Budgets": "budget",
    "RunConfig": "config",
    "Thinking": "config",
    "ContextPolicy": "context",
}
__all__ = [
    "Agent",
    "Budgets",
    "ContextPolicy",
    "RunConfig",
    "RunResult",
    "Thinking",
    "run",
    "run_sync",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'deskhand.agent' has no attribute {name!r}")
    return getattr(importlib.import_module(f"deskhand.agent.{_EXPORTS[name]}"), name)
