"""The version table, checked against the SDK's types."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from anthropic.types.anthropic_beta_param import AnthropicBetaParam
from anthropic.types.beta import (
    BetaComputerToolset20260801Param,
    BetaComputerToolsetConfigsParam,
    BetaToolComputerUse20241022Param,
    BetaToolComputerUse20250124Param,
    BetaToolComputerUse20251124Param,
)
from anthropic.types.beta.beta_computer_member_name import BETA_COMPUTER_MEMBER_NAME_VALUES
from anthropic.types.beta.beta_computer_zoom_config_param import BetaComputerZoomConfigParam
from pydantic import TypeAdapter

from deskhand.tools.specs import (
    COMPUTER_20241022,
    COMPUTER_20250124,
    COMPUTER_20251124,
    COMPUTER_TOOLSET_20260801,
    SPECS,
    ComputerToolSpec,
    get_spec,
)

DATED_PARAMS: dict[str, Any] = {
    "computer_20241022": BetaToolComputerUse20241022Param,
    "computer_20250124": BetaToolComputerUse20250124Param,
    "computer_20251124": BetaToolComputerUse20251124Param,
}
DATED = [COMPUTER_20241022, COMPUTER_20250124, COMPUTER_20251124]


def typed_dict_keys(typed_dict: Any) -> tuple[frozenset[str], frozenset[str]]:
    """(required keys, all keys) of an SDK TypedDict."""
    required = frozenset(typed_dict.__required_keys__)
    return required, required | frozenset(typed_dict.__optional_keys__)


def test_get_spec_finds_every_version() -> None:
    for api_type, spec in SPECS.items():
        assert get_spec(api_type) is spec
        assert spec.api_type == api_type


def test_get_spec_error_lists_known_types() -> None:
    with pytest.raises(ValueError, match="computer_99999999") as info:
        get_spec("computer_99999999")
    for api_type in SPECS:
        assert api_type in str(info.value)


def test_version_table() -> None:
    rows = {
        (s.api_type, s.name, s.beta_flag, s.kind)
        for s in SPECS.values()  # one row per entry, so nothing is silently added
    }
    assert rows == {
        ("computer_20241022", "computer", "computer-use-2024-10-22", "dated"),
        ("computer_20250124", "computer", "computer-use-2025-01-24", "dated"),
        ("computer_20251124", "computer", "computer-use-2025-11-24", "dated"),
        ("computer_toolset_20260801", None, None, "toolset"),
    }


def test_beta_flags_are_known_to_the_sdk() -> None:
    known = {flag for member in get_args(AnthropicBetaParam) for flag in get_args(member)}
    assert "computer-use-2025-11-24" in known
    for spec in SPECS.values():
        assert spec.beta_flag is None or spec.beta_flag in known


def test_actions_per_version() -> None:
    assert COMPUTER_20241022.actions == (
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
    added_2025 = set(COMPUTER_20250124.actions) - set(COMPUTER_20241022.actions)
    assert added_2025 == {
        "scroll",
        "hold_key",
        "wait",
        "triple_click",
        "left_mouse_down",
        "left_mouse_up",
    }
    assert set(COMPUTER_20251124.actions) - set(COMPUTER_20250124.actions) == {"zoom"}
    for spec in SPECS.values():
        assert len(set(spec.actions)) == len(spec.actions)


def test_sdk_has_no_toolset_member_we_lack() -> None:
    missing = set(BETA_COMPUTER_MEMBER_NAME_VALUES) - set(COMPUTER_TOOLSET_20260801.actions)
    assert not missing, f"SDK toolset members missing from our spec: {sorted(missing)}"
    assert set(COMPUTER_TOOLSET_20260801.actions) == set(BETA_COMPUTER_MEMBER_NAME_VALUES)


def test_toolset_member_configs_match_the_sdk() -> None:
    _, config_keys = typed_dict_keys(BetaComputerToolsetConfigsParam)
    assert config_keys == set(COMPUTER_TOOLSET_20260801.actions)


@pytest.mark.parametrize("spec", DATED, ids=lambda s: s.api_type)
def test_dated_definition_matches_sdk_typed_dict(spec: ComputerToolSpec) -> None:
    typed_dict = DATED_PARAMS[spec.api_type]
    required, allowed = typed_dict_keys(typed_dict)
    definition: Any = spec.tool_definition(
        display_width_px=1456, display_height_px=819, display_number=1
    )
    assert required <= set(definition) <= allowed
    assert TypeAdapter(typed_dict).validate_python(definition) == definition
    assert definition["type"] == spec.api_type
    assert definition["name"] == "computer"
    assert (definition["display_width_px"], definition["display_height_px"]) == (1456, 819)
    assert definition["display_number"] == 1


def test_display_number_is_optional() -> None:
    definition = COMPUTER_20250124.tool_definition(display_width_px=1024, display_height_px=768)
    assert "display_number" not in definition


def test_enable_zoom_only_for_20251124_with_zoom_on() -> None:
    def definition(spec: ComputerToolSpec, *, zoom: bool = True) -> Any:
        return spec.tool_definition(display_width_px=1280, display_height_px=800, zoom=zoom)

    assert definition(COMPUTER_20251124)["enable_zoom"] is True
    assert "enable_zoom" not in definition(COMPUTER_20251124, zoom=False)
    assert "enable_zoom" not in definition(COMPUTER_20250124)
    assert "enable_zoom" not in definition(COMPUTER_20241022)


def test_toolset_definition_has_only_type_by_default() -> None:
    definition = COMPUTER_TOOLSET_20260801.tool_definition(
        display_width_px=1456, display_height_px=819, display_number=1
    )
    assert definition == {"type": "computer_toolset_20260801"}


def test_toolset_configs_name_only_disabled_members() -> None:
    definition: Any = COMPUTER_TOOLSET_20260801.tool_definition(
        display_width_px=1456,
        display_height_px=819,
        zoom=False,
        disabled=["hold_key"],
    )
    assert definition == {
        "type": "computer_toolset_20260801",
        "configs": {"hold_key": {"enabled": False}, "zoom": {"enabled": False}},
    }
    required, allowed = typed_dict_keys(BetaComputerToolset20260801Param)
    assert required <= set(definition) <= allowed
    _, config_keys = typed_dict_keys(BetaComputerToolsetConfigsParam)
    _, member_keys = typed_dict_keys(BetaComputerZoomConfigParam)
    assert set(definition["configs"]) <= config_keys
    for config in definition["configs"].values():
        assert set(config) <= member_keys
    assert TypeAdapter(BetaComputerToolset20260801Param).validate_python(definition) == definition


def test_offered_actions() -> None:
    assert "zoom" in COMPUTER_20251124.offered_actions()
    assert "zoom" not in COMPUTER_20251124.offered_actions(zoom=False)
    assert COMPUTER_20250124.offered_actions(zoom=False) == COMPUTER_20250124.actions
    offered = COMPUTER_TOOLSET_20260801.offered_actions(disabled={"type", "key"})
    assert set(offered) == set(COMPUTER_TOOLSET_20260801.actions) - {"type", "key"}


def test_only_toolsets_can_disable_members() -> None:
    with pytest.raises(ValueError, match="only a toolset"):
        COMPUTER_20251124.tool_definition(
            display_width_px=10, display_height_px=10, disabled=["key"]
        )
    with pytest.raises(ValueError, match="no members"):
        COMPUTER_TOOLSET_20260801.offered_actions(disabled=["teleport"])


def test_display_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        COMPUTER_20250124.tool_definition(display_width_px=0, display_height_px=10)


def test_not_accepted_reasons() -> None:
    reason = COMPUTER_20241022.not_accepted_reason("left_click_drag", "start_coordinate")
    assert reason is not None and "current pointer position" in reason
    assert COMPUTER_20250124.not_accepted_reason("left_click_drag", "start_coordinate") is None
    assert COMPUTER_TOOLSET_20260801.not_accepted_reason("key", "repeat") is None


def test_specs_are_hashable_values() -> None:
    assert len({*SPECS.values(), *SPECS.values()}) == len(SPECS)
