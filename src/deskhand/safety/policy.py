"""Action policies: YAML files of rules that decide allow / confirm / deny for each action.

```yaml
default: allow                 # when no rule matches
rules:
  - name: purchase
    decision: confirm          # allow | confirm | deny
    reason: Buying or paying has real-world consequences.
    when:                      # every condition given must match; a list matches if any does
      actions: [left_click, key]        # computer actions, or "bash" / "editor"
      screen_text: ['\\b(buy|pay)\\b']   # OCR of the screen around the click target
      typed_text: [...]                 # the `type` action's text
      keys: ['^(ctrl\\+)?return$']      # the `key` action's combo, lowercased
      command: ['curl[^|]*\\|\\s*sh']   # bash commands
      url: ['^https?://']               # URLs in typed text or commands
      new_domain: true                  # a URL whose host has not been approved or allowed
      window_title: ['(?i)settings']    # title of the active window
      path: ['^/home/user/\\.ssh/']     # editor paths
```

Patterns are Python regular expressions, searched case-insensitively. When several rules match,
the most restrictive decision wins (deny > confirm > allow); its rule's reason is shown to the
model and the human. A policy that fails to load stops the run: a broken policy never means
"allow everything".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Decision = Literal["allow", "confirm", "deny"]
SEVERITY: dict[Decision, int] = {"allow": 0, "confirm": 1, "deny": 2}
DEFAULT_POLICY = "default"


class PolicyError(ValueError):
    """The policy file is missing, not YAML, or breaks the schema (the run must not start)."""


class Conditions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    actions: tuple[str, ...] = ()
    screen_text: tuple[str, ...] = ()
    typed_text: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    url: tuple[str, ...] = ()
    new_domain: bool | None = None
    window_title: tuple[str, ...] = ()
    path: tuple[str, ...] = ()

    @field_validator("screen_text", "typed_text", "keys", "command", "url", "window_title", "path")
    @classmethod
    def _compiles(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
        return patterns

    @property
    def needs_screen_text(self) -> bool:
        return bool(self.screen_text)

    @property
    def needs_window_title(self) -> bool:
        return bool(self.window_title)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9_\-]+$")
    decision: Decision
    reason: str = Field(min_length=1)
    when: Conditions = Field(default_factory=Conditions)


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default: Decision = "allow"
    rules: tuple[Rule, ...] = ()

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        names = [rule.name for rule in rules]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"rule names must be unique: {', '.join(duplicates)}")
        return rules

    @property
    def needs_screen_text(self) -> bool:
        return any(rule.when.needs_screen_text for rule in self.rules)

    @property
    def needs_window_title(self) -> bool:
        return any(rule.when.needs_window_title for rule in self.rules)


def parse_policy(text: str, origin: str = "<policy>") -> Policy:
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{origin} is not valid YAML: {exc}") from None
    try:
        return Policy.model_validate(data or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise PolicyError(f"{origin}: {problems}") from None


def load_policy(name_or_path: str | Path = DEFAULT_POLICY) -> Policy:
    """A shipped policy by name ("default", "permissive") or a YAML file of your own."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        try:
            return parse_policy(path.read_text(encoding="utf-8"), str(path))
        except OSError as exc:
            raise PolicyError(f"cannot read policy {path}: {exc}") from None
    shipped = (
        resources.files("deskhand.safety").joinpath("policies").joinpath(f"{name_or_path}.yaml")
    )
    if not shipped.is_file():
        raise PolicyError(f"no policy file or shipped policy named {str(name_or_path)!r}")
    return parse_policy(shipped.read_text("utf-8"), f"shipped policy {name_or_path!r}")


@dataclass(frozen=True)
class Proposal:
    """What an action would do, as the policy sees it."""

    tool: Literal["computer", "bash", "editor"]
    action: str  # the computer action, "bash" or the editor command
    typed_text: str | None = None
    keys: str | None = None
    command: str | None = None
    path: str | None = None
    urls: tuple[str, ...] = ()
    new_domains: tuple[str, ...] = ()
    window_title: str | None = None
    screen_text: str | None = None
    target: tuple[int, int] | None = None  # screen pixels, for clicks


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reason: str
    rule: str | None = None  # None: the policy's default
    matched: tuple[str, ...] = field(default_factory=tuple)  # every rule that matched


def _any(patterns: tuple[str, ...], text: str | None) -> bool:
    return text is not None and any(re.search(p, text, re.IGNORECASE) for p in patterns)


def _matches(when: Conditions, p: Proposal) -> bool:
    checks: list[bool] = []
    if when.actions:
        checks.append(p.action in when.actions or p.tool in when.actions)
    for patterns, value in (
        (when.screen_text, p.screen_text),
        (when.typed_text, p.typed_text),
        (when.keys, p.keys),
        (when.command, p.command),
        (when.window_title, p.window_title),
        (when.path, p.path),
    ):
        if patterns:
            checks.append(_any(patterns, value))
    if when.url:
        checks.append(any(_any(when.url, url) for url in p.urls))
    if when.new_domain is not None:
        checks.append(bool(p.new_domains) == when.new_domain)
    return bool(checks) and all(checks)


def evaluate(policy: Policy, proposal: Proposal) -> Verdict:
    """The most restrictive decision of the rules that match, or the policy's default."""
    matched = [rule for rule in policy.rules if _matches(rule.when, proposal)]
    if not matched:
        return Verdict(policy.default, "no rule matched: the policy's default", None)
    worst = max(matched, key=lambda rule: SEVERITY[rule.decision])
    return Verdict(worst.decision, worst.reason, worst.name, tuple(r.name for r in matched))
