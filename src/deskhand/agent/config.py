"""How a run is set up: task, model, provider, tool version, screen, budgets, context, thinking.

A `RunConfig` holds no credentials: it is written into the run record as is.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, get_args

from deskhand.agent.budget import Budgets
from deskhand.agent.context import ContextPolicy
from deskhand.agent.models import DEFAULT_MODEL, ModelInfo, ThinkingMode, lookup
from deskhand.agent.toolbox import ToolVersions
from deskhand.guest.apps import APPS
from deskhand.safety.egress.rules import EgressRules, load_rules
from deskhand.safety.policy import DEFAULT_POLICY, load_policy
from deskhand.tools import imaging

Effort = Literal["low", "medium", "high", "max"]
PROVIDERS = ("anthropic", "bedrock", "vertex")


@dataclass(frozen=True)
class Thinking:
    mode: ThinkingMode = "off"
    budget_tokens: int | None = None  # extended thinking; default: half the output limit
    effort: Effort = "medium"  # adaptive thinking

    def __post_init__(self) -> None:
        if self.mode not in get_args(ThinkingMode):
            raise ValueError(f"thinking must be one of {', '.join(get_args(ThinkingMode))}")
        if self.effort not in get_args(Effort):
            raise ValueError(f"effort must be one of {', '.join(get_args(Effort))}")

    def request_fields(self, max_tokens: int) -> dict[str, Any]:
        """The top-level request fields that switch thinking on (none when off)."""
        if self.mode == "extended":
            budget = self.budget_tokens or max_tokens // 2
            return {"thinking": {"type": "enabled", "budget_tokens": budget}}
        if self.mode == "adaptive":
            return {"thinking": {"type": "adaptive"}, "output_config": {"effort": self.effort}}
        return {}


@dataclass(frozen=True)
class RunConfig:
    task: str
    model: str = DEFAULT_MODEL
    provider: str = "anthropic"
    tool_version: str | None = None  # a computer tool API type; None: the model's default
    screen: tuple[int, int] = (1280, 800)
    budgets: Budgets = field(default_factory=Budgets)
    max_output_tokens: int | None = None  # per answer; None: the model's default
    thinking: Thinking = field(default_factory=Thinking)
    context: ContextPolicy = field(default_factory=ContextPolicy)
    screenshot_format: imaging.ImageFormat = "png"
    system_prompt_suffix: str = ""
    apps: tuple[str, ...] = ()  # apps open when the run starts
    sandbox: bool = True
    interactive: bool = True  # False: anything that would ask a human is refused
    policy: str = DEFAULT_POLICY  # a shipped policy's name or a YAML file
    allowed_domains: tuple[str, ...] = ()  # sites the user allows (no approval to go there)
    confirm_timeout_s: float = 120.0  # no answer by then = declined
    secrets_file: Path | None = None  # a 0600 vault; None: $DESKHAND_SECRETS_FILE or the default
    egress_config: Path | None = None  # an egress allowlist file (TOML/YAML), plus allowed_domains
    # OCR-based prompt-injection screening and screen reading for the gate (about a second of
    # OCR per changed screen). Off: the gate asks before every click it cannot read.
    screening: bool = True
    out: Path | None = None  # the run directory; None: a new folder under the runs directory

    def __post_init__(self) -> None:
        if not self.task.strip():
            raise ValueError("the task is empty")
        if self.provider not in PROVIDERS:
            raise ValueError(f"unknown provider {self.provider!r}; known: {', '.join(PROVIDERS)}")
        unknown = [app for app in self.apps if app not in APPS]
        if unknown:
            raise ValueError(f"unknown apps {unknown}; known: {', '.join(APPS)}")
        self.tool_versions  # noqa: B018  (validates the tool version now, not mid-run)
        load_policy(self.policy)  # a broken policy stops the run before it starts
        self.egress_rules  # noqa: B018  (a broken allowlist too)
        if self.confirm_timeout_s <= 0:
            raise ValueError("confirm_timeout_s must be more than 0")
        thinking = self.thinking
        if thinking.mode == "extended":
            budget = thinking.budget_tokens or self.output_tokens // 2
            if not 1024 <= budget < self.output_tokens:
                raise ValueError(
                    f"the thinking budget ({budget}) must be at least 1024 and below the "
                    f"output limit ({self.output_tokens})"
                )
        if self.budgets.max_cost_usd is not None and self.model_info.price is None:
            raise ValueError(
                f"no price is known for {self.model!r}, so a cost budget cannot be enforced; "
                "add it to deskhand/agent/models.toml or use --max-tokens"
            )
        if self.max_output_tokens is not None and self.max_output_tokens < 1:
            raise ValueError("max_output_tokens must be at least 1")

    @property
    def model_info(self) -> ModelInfo:
        return lookup(self.model)

    @property
    def tool_versions(self) -> ToolVersions:
        info = self.model_info
        return ToolVersions.for_computer(self.tool_version or info.tool_version, info.editor)

    @cached_property
    def egress_rules(self) -> EgressRules | None:
        """The sandbox's network allowlist; None (no network at all) when nothing is allowed.
        Read once: the proxy, the gate and the prompt must all see the same rules."""
        if self.egress_config is None:
            return EgressRules.from_domains(self.allowed_domains) if self.allowed_domains else None
        from_file = load_rules(self.egress_config)
        if not self.allowed_domains:
            return from_file
        return EgressRules.from_domains(
            [*from_file.entries, *self.allowed_domains], ports=from_file.ports
        )

    @property
    def output_tokens(self) -> int:
        return self.max_output_tokens or self.model_info.max_tokens

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunConfig:
        """The config `to_json` recorded (for resuming a run)."""
        return cls(
            **{
                **data,
                "screen": tuple(data["screen"]),
                "apps": tuple(data["apps"]),
                "allowed_domains": tuple(data.get("allowed_domains", ())),
                "budgets": Budgets(**data["budgets"]),
                "thinking": Thinking(**data["thinking"]),
                "context": ContextPolicy(**data["context"]),
                "out": Path(data["out"]) if data.get("out") else None,
                "secrets_file": Path(data["secrets_file"]) if data.get("secrets_file") else None,
                "egress_config": Path(data["egress_config"]) if data.get("egress_config") else None,
            }
        )

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["out"] = str(self.out) if self.out else None
        data["secrets_file"] = str(self.secrets_file) if self.secrets_file else None
        data["egress_config"] = str(self.egress_config) if self.egress_config else None
        data["tool_version"] = self.tool_versions.computer
        return data
