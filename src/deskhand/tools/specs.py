"""The computer-use tool versions, as data.

Each API version of the computer tool is one `ComputerToolSpec` entry: its API type, tool name,
beta flag, shape ("dated" tools carry one `action` field; the toolset gives every action its own
tool_use name), the actions it offers, and the parameters it does not accept. Everything else
(input parsing, the tool definition sent to the API) is derived from these entries, so adding a
version means adding an entry here plus its tests. The contract is the official SDK's
`anthropic.types.beta` types; tests check our entries against them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal, cast

from anthropic.types.beta import (
    BetaComputerToolset20260801Param,
    BetaToolComputerUse20241022Param,
    BetaToolComputerUse20250124Param,
    BetaToolComputerUse20251124Param,
)

Kind = Literal["dated", "toolset"]
# What `tool_definition` returns: one of the SDK's computer tool params (a `tools[]` entry).
ComputerToolParam = (
    BetaToolComputerUse20241022Param
    | BetaToolComputerUse20250124Param
    | BetaToolComputerUse20251124Param
    | BetaComputerToolset20260801Param
)

_ACTIONS_20241022 = (
    "key",
    "type",
    "mouse_move",
    "left_click",
    "left_click_drag",
    "right_click",
    "middle_click",
    "double_click",
    "screenshot",
    "cursor_position",
)
_ACTIONS_20250124 = (
    *_ACTIONS_20241022,
    "scroll",
    "hold_key",
    "wait",
    "triple_click",
    "left_mouse_down",
    "left_mouse_up",
)
_ACTIONS_20251124 = (*_ACTIONS_20250124, "zoom")
# The members of computer_toolset_20260801 (anthropic.types.beta.BetaComputerMemberName).
_TOOLSET_MEMBERS = (
    "key",
    "hold_key",
    "type",
    "cursor_position",
    "mouse_move",
    "left_mouse_down",
    "left_mouse_up",
    "left_click",
    "left_click_drag",
    "right_click",
    "middle_click",
    "double_click",
    "triple_click",
    "scroll",
    "wait",
    "screenshot",
    "zoom",
)

_NO_MODIFIERS_2024 = "this version cannot hold keys during the action"
_REPEAT_DATED = "repeat the key action instead"
_CLICKS_2024 = ("left_click", "right_click", "middle_click", "double_click")


@dataclass(frozen=True)
class ComputerToolSpec:
    """One API version of the computer tool.

    `not_accepted` lists (action, parameter, reason) triples: parameters our shared input model
    for that action has but this version's schema does not; the reason is shown to the model.
    `integer_params` are numeric parameters this version only accepts as integers.
    """

    api_type: str
    name: str | None
    beta_flag: str | None
    kind: Kind
    actions: tuple[str, ...]
    not_accepted: tuple[tuple[str, str, str], ...] = ()
    integer_params: frozenset[str] = frozenset()

    def not_accepted_reason(self, action: str, param: str) -> str | None:
        """Why `param` is refused for `action` in this version, or None if it is accepted."""
        for entry_action, entry_param, reason in self.not_accepted:
            if (entry_action, entry_param) == (action, param):
                return reason
        return None

    def offered_actions(
        self, *, zoom: bool = True, disabled: Collection[str] = ()
    ) -> tuple[str, ...]:
        """The actions the model is served with these options (zoom on/off, disabled members)."""
        self._check_options(disabled)
        removed = set(disabled) | (set() if zoom else {"zoom"})
        return tuple(action for action in self.actions if action not in removed)

    def tool_definition(
        self,
        *,
        display_width_px: int,
        display_height_px: int,
        display_number: int | None = None,
        zoom: bool = True,
        disabled: Collection[str] = (),
    ) -> ComputerToolParam:
        """The `tools[]` entry for this version.

        The display size must be the size of the screenshots we send (model space). The toolset
        entry carries no display fields (the SDK says it holds only type, configs and
        cache_control), so for it the display arguments are not used.
        """
        if display_width_px <= 0 or display_height_px <= 0:
            raise ValueError("display size must be positive")
        offered = self.offered_actions(zoom=zoom, disabled=disabled)
        if self.kind == "toolset":
            return self._toolset_definition(offered)
        definition: dict[str, object] = {
            "type": self.api_type,
            "name": self.name,
            "display_width_px": display_width_px,
            "display_height_px": display_height_px,
        }
        if display_number is not None:
            definition["display_number"] = display_number
        if "zoom" in offered:
            definition["enable_zoom"] = True
        return cast(ComputerToolParam, definition)

    def _toolset_definition(self, offered: tuple[str, ...]) -> ComputerToolParam:
        # Every member is enabled by default, so configs only name the disabled ones.
        configs = {member: {"enabled": False} for member in self.actions if member not in offered}
        definition: dict[str, object] = {"type": self.api_type}
        if configs:
            definition["configs"] = configs
        return cast(ComputerToolParam, definition)

    def _check_options(self, disabled: Collection[str]) -> None:
        if disabled and self.kind != "toolset":
            raise ValueError(f"{self.api_type} cannot disable actions; only a toolset can")
        unknown = sorted(set(disabled) - set(self.actions))
        if unknown:
            raise ValueError(f"{self.api_type} has no members {unknown}")


COMPUTER_20241022 = ComputerToolSpec(
    api_type="computer_20241022",
    name="computer",
    beta_flag="computer-use-2024-10-22",
    kind="dated",
    actions=_ACTIONS_20241022,
    not_accepted=(
        *(
            (
                click,
                "coordinate",
                "it clicks at the current pointer position; move there with mouse_move first",
            )
            for click in _CLICKS_2024
        ),
        *((click, "text", _NO_MODIFIERS_2024) for click in _CLICKS_2024),
        (
            "left_click_drag",
            "start_coordinate",
            "it drags from the current pointer position; move there with mouse_move first",
        ),
        ("left_click_drag", "text", _NO_MODIFIERS_2024),
        ("key", "repeat", _REPEAT_DATED),
    ),
)
COMPUTER_20250124 = ComputerToolSpec(
    api_type="computer_20250124",
    name="computer",
    beta_flag="computer-use-2025-01-24",
    kind="dated",
    actions=_ACTIONS_20250124,
    not_accepted=(("key", "repeat", _REPEAT_DATED),),
)
COMPUTER_20251124 = ComputerToolSpec(
    api_type="computer_20251124",
    name="computer",
    beta_flag="computer-use-2025-11-24",
    kind="dated",
    actions=_ACTIONS_20251124,
    not_accepted=(("key", "repeat", _REPEAT_DATED),),
)
COMPUTER_TOOLSET_20260801 = ComputerToolSpec(
    api_type="computer_toolset_20260801",
    name=None,
    beta_flag=None,
    kind="toolset",
    actions=_TOOLSET_MEMBERS,
    integer_params=frozenset({"duration"}),
)

SPECS: dict[str, ComputerToolSpec] = {
    spec.api_type: spec
    for spec in (COMPUTER_20241022, COMPUTER_20250124, COMPUTER_20251124, COMPUTER_TOOLSET_20260801)
}


@dataclass(frozen=True)
class CommandToolSpec:
    """One version of the bash or text-editor tool: a single tool whose input names a command.

    Bash inputs are `command` and `restart`; editor inputs are `command` (one of `commands`),
    `path` and the command's parameters. `insert_param` is the name `insert` takes for its text
    in that version; `max_characters` says whether the definition may carry that view limit.
    """

    api_type: str
    name: str
    beta_flag: str | None
    family: Literal["bash", "editor"]
    commands: tuple[str, ...] = ()
    insert_param: str = "insert_text"
    max_characters: bool = False

    def tool_definition(self, *, max_characters: int | None = None) -> dict[str, object]:
        """The `tools[]` entry: type and name, plus max_characters where the version has it."""
        definition: dict[str, object] = {"type": self.api_type, "name": self.name}
        if max_characters is not None:
            if not self.max_characters:
                raise ValueError(f"{self.api_type} has no max_characters setting")
            if max_characters < 1:
                raise ValueError("max_characters must be at least 1")
            definition["max_characters"] = max_characters
        return definition


_EDITOR_WITH_UNDO = ("view", "create", "str_replace", "insert", "undo_edit")
_EDITOR = ("view", "create", "str_replace", "insert")
# The 2024-10-22 bash and editor tools shipped under the computer-use beta of that date, the
# 2025-01-24 ones under its successor; the later editors need no beta flag.
COMMAND_SPECS: dict[str, CommandToolSpec] = {
    spec.api_type: spec
    for spec in (
        CommandToolSpec("bash_20241022", "bash", "computer-use-2024-10-22", "bash"),
        CommandToolSpec("bash_20250124", "bash", "computer-use-2025-01-24", "bash"),
        CommandToolSpec(
            "text_editor_20241022",
            "str_replace_editor",
            "computer-use-2024-10-22",
            "editor",
            _EDITOR_WITH_UNDO,
            insert_param="new_str",
        ),
        CommandToolSpec(
            "text_editor_20250124",
            "str_replace_editor",
            "computer-use-2025-01-24",
            "editor",
            _EDITOR_WITH_UNDO,
            insert_param="new_str",
        ),
        CommandToolSpec(
            "text_editor_20250429", "str_replace_based_edit_tool", None, "editor", _EDITOR
        ),
        CommandToolSpec(
            "text_editor_20250728",
            "str_replace_based_edit_tool",
            None,
            "editor",
            _EDITOR,
            max_characters=True,
        ),
    )
}


def get_command_spec(api_type: str) -> CommandToolSpec:
    """Look up a bash or text-editor version; the error lists the known types."""
    try:
        return COMMAND_SPECS[api_type]
    except KeyError:
        known = ", ".join(COMMAND_SPECS)
        raise ValueError(
            f"Unknown bash/editor tool type {api_type!r}; known types: {known}"
        ) from None


def get_spec(api_type: str) -> ComputerToolSpec:
    """Look up a version by its API type; the error lists the known types."""
    try:
        return SPECS[api_type]
    except KeyError:
        known = ", ".join(SPECS)
        raise ValueError(f"Unknown computer tool type {api_type!r}; known types: {known}") from None
