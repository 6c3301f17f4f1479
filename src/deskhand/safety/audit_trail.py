"""A run's events as audit lines: every proposal, the gate's decision and who answered, the
result and the screen it left, in the run's hash-chained `audit.jsonl`.

It listens to the same events as the run record, so nothing the loop does escapes it.
"""

from __future__ import annotations

from pathlib import Path

from deskhand.agent import events as ev
from deskhand.safety.audit import AuditLog, screen_hash

SUMMARY_CHARS = 500


class AuditTrail:
    """Call with each event of one run."""

    def __init__(self, log: AuditLog, run_dir: Path) -> None:
        self.log = log
        self.run_dir = run_dir
        self.screen: str | None = None  # hash of the last screenshot the model was sent

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.ModelTurn):
            for call in event.tool_calls:
                self.log.proposal(
                    event.step,
                    call.id,
                    call.name,
                    call.input,
                    screen=self.screen,
                    turn=event.text[:SUMMARY_CHARS] or None,
                )
        elif isinstance(event, ev.GateDecision):
            answer = None if event.approved is None else ("yes" if event.approved else "no")
            self.log.decision(
                event.step,
                event.tool_use_id,
                event.decision,
                event.reason,
                rule=event.rule,
                approver=event.approver,
                answer=answer,
                screen=event.screen_hash,
            )
        elif isinstance(event, ev.ToolExecuted):
            if event.screenshot:
                self.screen = screen_hash((self.run_dir / event.screenshot).read_bytes())
            summary = event.error or event.output or event.system or ""
            self.log.result(
                event.step,
                event.tool_use_id,
                ok=event.error is None,
                summary=summary[:SUMMARY_CHARS],
                screen=self.screen,
                tool_ms=event.tool_ms,
            )
        elif isinstance(event, ev.EgressRequest):
            self.log.append(
                "egress",
                {k: v for k, v in event.to_json().items() if k not in ("kind", "run_id", "time")},
            )
        elif isinstance(event, ev.TakenOver):
            self.log.append("taken_over", {"step": event.step})
        elif isinstance(event, ev.HumanSteps):
            if event.screenshot:
                self.screen = screen_hash((self.run_dir / event.screenshot).read_bytes())
            self.log.append(
                "human_steps",
                {
                    "step": event.step,
                    "actions": event.actions,
                    "note": event.note[:SUMMARY_CHARS],
                    "seconds": round(event.seconds, 3),
                    "screen": self.screen,
                },
            )
        elif isinstance(event, ev.Notice):
            self.log.append(
                "notice",
                {
                    "step": event.step,
                    "level": event.level,
                    "message": event.message[:SUMMARY_CHARS],
                },
            )
        elif isinstance(event, ev.RunFinished):
            self.log.close(event.status, event.reason)
