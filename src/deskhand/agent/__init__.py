"""The agent loop: a model works on a sandboxed desktop through the tools until it is done.

    from deskhand.agent import RunConfig, run_sync

    result = run_sync(RunConfig("Open the calculator and compute 17 * 23"))
    print(result.status, result.final_text, result.run_dir / "report.html")

`run` is the async form; `Agent` gives a handle with `stop()` and `resume()`; pass
`on_event=` to get every step as it happens (see `deskhand.agent.events`).
"""

from deskhand.agent.budget import Budgets
from deskhand.agent.config import RunConfig, Thinking
from deskhand.agent.context import ContextPolicy
from deskhand.agent.loop import Agent, RunResult, run, run_sync

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
