"""Notice a model going round in circles: the same action on an unchanged screen, or two
actions alternating (A-B-A-B) with the screen flipping between the same two states.

Each tool call is observed as (name, input, hash of what it produced: the screenshot or the
output). A repeat is the same triple again; an alternation is each triple equal to the one two
calls back. The detector first warns (the loop tells the model), and stops the run if the
pattern goes on for `patience` more calls after the warning.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

Verdict = Literal["ok", "warn", "stop"]


def fingerprint(name: str, tool_input: Any, outcome: bytes) -> str:
    key = json.dumps([name, tool_input], sort_keys=True, default=str).encode()
    return hashlib.sha256(key + b"\0" + hashlib.sha256(outcome).digest()).hexdigest()


@dataclass
class LoopDetector:
    repeats: int = 3  # identical calls in a row before a warning
    alternations: int = 4  # calls of an A-B-A-B pattern before a warning
    patience: int = 2  # further calls in the pattern after the warning before stopping
    history: list[str] = field(default_factory=list)
    warned_at: int | None = None

    def observe(self, name: str, tool_input: Any, outcome: bytes) -> Verdict:
        self.history.append(fingerprint(name, tool_input, outcome))
        length = self._pattern_length()
        if length == 0:
            self.warned_at = None
            return "ok"
        if self.warned_at is None:
            self.warned_at = len(self.history)
            return "warn"
        return "stop" if len(self.history) - self.warned_at >= self.patience else "ok"

    def _run_of_period(self, period: int) -> int:
        """How many of the latest calls each equal the call `period` places earlier (+ period)."""
        h = self.history
        run = 0
        while len(h) - run - 1 - period >= 0 and h[-run - 1] == h[-run - 1 - period]:
            run += 1
        return run + period if run else 0

    def _pattern_length(self) -> int:
        same = self._run_of_period(1)
        if same >= self.repeats:
            return same
        alternating = self._run_of_period(2)
        # Period 2 with A == B is a plain repeat, already handled above.
        return alternating if alternating >= self.alternations else 0

    @staticmethod
    def message(verdict: Verdict) -> str:
        if verdict == "warn":
            return (
                "You have repeated the same action(s) and the screen did not change in a new "
                "way. Stop and think: take a screenshot, check what is actually on the screen, "
                "and try a different approach (a keyboard shortcut, another element, scrolling, "
                "or waiting for something to load). If the task cannot be done, say so."
            )
        return "Stopped: the model kept repeating the same actions without progress."
