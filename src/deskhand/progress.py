"""Live progress of a run in the terminal: a rich view fed by the run's events.

Each step shows what the model said, the actions it took (with their tool time), the model's
latency, tokens and cost so far; a spinner (with the streamed text's tail) runs while the model
answers; retries and warnings stand out; the end is a summary table.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.status import Status
from rich.table import Table

from deskhand.agent import events as ev
from deskhand.agent.models import lookup
from deskhand.tools.describe import describe_action

STATUS_STYLE = {
    "done": "green",
    "interrupted": "yellow",
    "budget_exceeded": "yellow",
    "stuck": "yellow",
}
_TEXT_LIMIT = 600


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RunProgress:
    """Call with each event (`on_event`) and each streamed text delta (`on_text`)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.status: Status | None = None
        self.streamed = ""
        self.step = 0
        self.priced = True

    def cost(self, usd: float) -> str:
        return f"${usd:.4f}" if self.priced else "cost unknown (no price for this model)"

    def on_text(self, delta: str) -> None:
        self.streamed += delta
        if self.status is not None:
            tail = " ".join(self.streamed.split())[-70:]
            self.status.update(f"step {self.step + 1}: {escape(tail)}")

    def __call__(self, event: ev.Event) -> None:
        handler = getattr(self, f"_on_{event.kind}", None)
        if handler is not None:
            handler(event)

    def _waiting(self) -> None:
        self.streamed = ""
        if self.status is None:
            self.status = self.console.status(f"step {self.step + 1}: waiting for the model")
            self.status.start()
        else:
            self.status.update(f"step {self.step + 1}: waiting for the model")

    def pause(self) -> None:
        """Stop the spinner (before a prompt); the next event starts it again."""
        self._idle()

    def _on_gate(self, event: ev.GateDecision) -> None:
        if event.decision == "allow":
            return
        if event.ran:
            self.console.print(f"  [green]approved[/] by {event.approver}: {escape(event.reason)}")
        else:
            verdict = "denied" if event.decision == "deny" else f"declined ({event.approver})"
            self.console.print(f"  [red]{verdict}[/]: {escape(event.reason)}")
        self._waiting()

    def _idle(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None

    def _on_run_started(self, event: ev.RunStarted) -> None:
        self.priced = lookup(event.model).price is not None
        width, height = event.screen
        budgets = ", ".join(
            f"{k.removeprefix('max_')} {v:g}" for k, v in event.budgets.items() if v
        )
        self.console.print(
            Panel(
                f"[bold]{escape(event.task)}[/]\n[dim]{event.model} via {event.provider} · "
                f"{event.tool_version} · screenshots {width}x{height} · budgets: "
                f"{budgets or 'none'} · run {event.run_id}[/]",
                title="deskhand run" + (" (resumed)" if event.resumed else ""),
                expand=False,
            )
        )
        self._waiting()

    def _on_model_retry(self, event: ev.ModelRetry) -> None:
        self.streamed = ""  # the retried answer streams again from its start
        self.console.print(
            f"  [yellow]↻ retry {event.attempt} in {event.delay_s:.1f} s:[/] {escape(event.error)}"
        )

    def _on_model_turn(self, event: ev.ModelTurn) -> None:
        self._idle()
        self.step = event.step
        self.console.rule(
            f"[bold]step {event.step}[/] · model {event.model_ms / 1000:.2f} s · "
            f"{event.usage.total:,} tokens (total {event.total_usage.total:,}) · "
            f"{self.cost(event.total_cost_usd)} so far",
            align="left",
            style="dim",
        )
        if event.text:
            self.console.print(escape(_clip(event.text, _TEXT_LIMIT)))
        if not event.tool_calls:
            return
        self.status = self.console.status(f"step {event.step}: running tools")
        self.status.start()

    def _on_tool_result(self, event: ev.ToolExecuted) -> None:
        mark = "[red]✗[/]" if event.error else "[green]✓[/]"
        line = f"  {mark} {escape(_clip(describe_action(event.name, event.input), 90))}"
        self.console.print(f"{line} [dim]{event.tool_ms:.0f} ms[/]")
        if event.error:
            self.console.print(f"    [red]{escape(_clip(event.error, 300))}[/]")
        if self.status is not None:  # after the turn's last tool, the model is next
            self.status.update(f"step {self.step + 1}: waiting for the model")

    def _on_egress(self, event: ev.EgressRequest) -> None:
        if not event.allowed:
            target = f"{event.host}:{event.port}" if event.port else event.host
            what = escape(f"{event.method} {target}: {event.reason}")
            self.console.print(f"  [red]✗ network[/] {what}")

    def _on_notice(self, event: ev.Notice) -> None:
        style = {"info": "cyan", "warning": "yellow", "error": "red"}[event.level]
        self.console.print(f"  [{style}]! {escape(event.message)}[/]")
        self._waiting()

    def _on_run_finished(self, event: ev.RunFinished) -> None:
        self._idle()
        style = STATUS_STYLE.get(event.status, "red")
        table = Table(show_header=False, box=None, padding=(0, 2))
        table.add_row("status", f"[bold {style}]{event.status}[/] ({escape(event.reason)})")
        table.add_row("steps", str(event.steps))
        usage = event.usage
        table.add_row(
            "tokens",
            f"{usage.total:,} (input {usage.input_tokens:,}, output {usage.output_tokens:,}, "
            f"cache read {usage.cache_read_input_tokens:,}, "
            f"cache write {usage.cache_creation_input_tokens:,})",
        )
        table.add_row("cost", self.cost(event.cost_usd))
        table.add_row(
            "time",
            f"{event.seconds:.1f} s (model {event.model_ms / 1000:.1f} s, "
            f"tools {event.tool_ms / 1000:.1f} s)",
        )
        self.console.print(Panel(table, title="run finished", border_style=style, expand=False))
