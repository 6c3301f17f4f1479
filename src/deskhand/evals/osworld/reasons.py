"""Why an OSWorld task cannot run on this machine: one kind and one exact sentence each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ReasonKind = Literal[
    "no_evaluator",  # the file has no usable evaluator (drafts)
    "missing_app",  # an application the task starts or checks is not installed here
    "needs_network",  # live web, Google accounts, a proxy, installing software
    "needs_cache",  # a file from OSWorld's file cache that the --cache folder does not hold
    "environment",  # something of Ubuntu's GNOME VM the sandbox does not have (sudo, dconf...)
    "unsupported_step",  # a config step type deskhand does not implement
    "unsupported_getter",  # a getter deskhand does not implement
    "unsupported_metric",  # a metric deskhand does not implement
]

# The order used to pick the one headline reason of a task with several.
KIND_ORDER: tuple[ReasonKind, ...] = (
    "no_evaluator",
    "missing_app",
    "needs_network",
    "environment",
    "unsupported_step",
    "unsupported_getter",
    "unsupported_metric",
    "needs_cache",
)


@dataclass(frozen=True, order=True)
class Reason:
    kind: ReasonKind
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


def headline(reasons: list[Reason]) -> Reason | None:
    """The reason that matters most (a missing app beats a missing cache file)."""
    if not reasons:
        return None
    return min(reasons, key=lambda r: (KIND_ORDER.index(r.kind), r.detail))


def dedupe(reasons: list[Reason]) -> list[Reason]:
    seen: set[Reason] = set()
    out = []
    for reason in reasons:
        if reason not in seen:
            seen.add(reason)
            out.append(reason)
    return out
