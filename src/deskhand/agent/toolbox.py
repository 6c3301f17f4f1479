"""The three tools of one tool version, as the loop sees them: definitions, beta flags, dispatch.

A tool version is named by its computer tool's API type; the bash and editor versions that go
with it are data (`TOOL_GROUPS`), and a model's table entry may pick a different editor (older
models only accept older editors). The toolbox answers every tool_use name it has offered and
turns any other name into an error result the model can read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from deskhand.computer import Computer
from deskhand.safety.secrets import Vault
from deskhand.tools.bash import BashTool
from deskhand.tools.computer import ComputerTool, ScreenshotSettings
from deskhand.tools.editor import EditorTool
from deskhand.tools.results import ToolResult, to_tool_result_block
from deskhand.tools.specs import SPECS, get_command_spec, get_spec

ToolKind = Literal["computer", "bash", "editor"]
# computer tool type -> (bash type, default editor type)
TOOL_GROUPS: dict[str, tuple[str, str]] = {
    "computer_20241022": ("bash_20241022", "text_editor_20241022"),
    "computer_20250124": ("bash_20250124", "text_editor_20250728"),
    "computer_20251124": ("bash_20250124", "text_editor_20250728"),
    "computer_toolset_20260801": ("bash_20250124", "text_editor_20250728"),
}
assert set(TOOL_GROUPS) == set(SPECS), "every computer tool version needs its group"


@dataclass(frozen=True)
class ToolVersions:
    computer: str
    bash: str
    editor: str

    @classmethod
    def for_computer(cls, computer: str, editor: str | None = None) -> ToolVersions:
        """The group of a computer tool type; `editor` overrides the group's editor except for
        the 2024-10-22 group, whose tools only exist together."""
        get_spec(computer)  # a clear error naming the known types
        bash, group_editor = TOOL_GROUPS[computer]
        chosen = group_editor if computer == "computer_20241022" or editor is None else editor
        get_command_spec(chosen)
        return cls(computer, bash, chosen)

    @property
    def betas(self) -> list[str]:
        """The group's beta flag is its computer tool's, as in the reference demo: the bash and
        editor tools sent alongside need no flag of their own (two computer-use flags in one
        request are not something the API documents), and the toolset needs none at all."""
        flag = get_spec(self.computer).beta_flag
        return [flag] if flag else []


@dataclass(frozen=True)
class ToolOutcome:
    """A tool call's result; `block` is the tool_result that answers it."""

    tool_use_id: str
    result: ToolResult
    toolset_name: str | None

    @property
    def block(self) -> dict[str, Any]:
        return dict(to_tool_result_block(self.tool_use_id, self.result, self.toolset_name))


class Toolbox:
    def __init__(
        self, versions: ToolVersions, computer: ComputerTool, bash: BashTool, editor: EditorTool
    ) -> None:
        self.versions = versions
        self.computer = computer
        self.bash = bash
        self.editor = editor

    @classmethod
    async def create(
        cls,
        computer: Computer,
        versions: ToolVersions,
        *,
        screenshots: ScreenshotSettings | None = None,
        secrets: Vault | None = None,
    ) -> Toolbox:
        tool = await ComputerTool.create(
            computer, versions.computer, screenshots=screenshots, secrets=secrets
        )
        return cls(
            versions,
            tool,
            BashTool(computer, versions.bash),
            EditorTool(computer, versions.editor),
        )

    def definitions(self) -> list[dict[str, Any]]:
        return [dict(self.computer.definition()), self.bash.definition(), self.editor.definition()]

    @property
    def screenshot_size(self) -> tuple[int, int]:
        """The size of the screenshots the model sees (its coordinate space)."""
        return self.computer.geometry.model_size

    def is_computer(self, name: str) -> bool:
        return name in self.computer.tool_names

    def classify(self, name: str, tool_input: object) -> tuple[ToolKind | None, str]:
        """Which tool a tool_use name belongs to, and its action: the computer action (the
        member name for the toolset), "bash", or the editor command. None for unknown names."""
        given = tool_input if isinstance(tool_input, dict) else {}
        if self.is_computer(name):
            dated = self.computer.spec.name is not None
            return "computer", str(given.get("action", "")) if dated else name
        if name == self.bash.name:
            return "bash", "bash"
        if name == self.editor.name:
            return "editor", str(given.get("command", ""))
        return None, ""

    async def run(self, tool_use_id: str, name: str, tool_input: object) -> ToolOutcome:
        kind, _ = self.classify(name, tool_input)
        if kind == "computer":
            result = await self.computer.run(name, tool_input)
            toolset = self.computer.toolset_name
        elif kind == "bash":
            result, toolset = await self.bash.run(name, tool_input), None
        elif kind == "editor":
            result, toolset = await self.editor.run(name, tool_input), None
        else:
            result, toolset = self.unknown(name), None
        return ToolOutcome(tool_use_id, result, toolset)

    def unknown(self, name: str) -> ToolResult:
        offered = ", ".join([*self.computer.tool_names, self.bash.name, self.editor.name])
        return ToolResult.from_error(f"There is no tool named {name!r}; the tools are: {offered}.")

    def not_run(self, tool_use_id: str, name: str, reason: str) -> ToolOutcome:
        """The answer for a tool call that was never executed (interrupted, cut off)."""
        toolset = self.computer.toolset_name if self.is_computer(name) else None
        return ToolOutcome(tool_use_id, ToolResult.from_error(reason), toolset)
