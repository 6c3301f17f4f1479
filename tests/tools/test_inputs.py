"""Action input parsing: strictness, version rules, model-facing messages, and fuzzing."""

from __future__ import annotations

import re
from typing import Any, get_args

import pytest
from anthropic.types.beta import BetaComputerMemberInput
from anthropic.types.beta.beta_computer_member_name import BETA_COMPUTER_MEMBER_NAME_VALUES
from hypothesis import given, settings
from hypothesis import strategies as st

from deskhand.tools.inputs import (
    ACTION_MODELS,
    MAX_TYPE_CHARS,
    ActionInput,
    ClickInput,
    DragInput,
    HoldKeyInput,
    KeyInput,
    NoInput,
    ScrollInput,
    ToolInputError,
    TypeInput,
    WaitInput,
    ZoomInput,
    parse_action,
    preview,
)
from deskhand.tools.specs import (
    COMPUTER_20241022,
    COMPUTER_20250124,
    COMPUTER_20251124,
    COMPUTER_TOOLSET_20260801,
    SPECS,
    ComputerToolSpec,
)

TOOLSET = COMPUTER_TOOLSET_20260801
ALL_SPECS = list(SPECS.values())


def parse(spec: ComputerToolSpec, action: str, **params: Any) -> ActionInput:
    """Parse as the model would send it for this version."""
    if spec.kind == "dated":
        name, model = parse_action(spec, "computer", {"action": action, **params})
    else:
        name, model = parse_action(spec, action, params)
    assert name == action
    return model


def error_for(spec: ComputerToolSpec, action: str, **params: Any) -> str:
    with pytest.raises(ToolInputError) as info:
        parse(spec, action, **params)
    return info.value.message


# --- the SDK contract ------------------------------------------------------------------------


def _member_name(sdk_class: type) -> str:
    core = sdk_class.__name__.removeprefix("BetaComputer").removesuffix("Input")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", core).lower()


SDK_MEMBER_INPUTS = {_member_name(cls): cls for cls in get_args(BetaComputerMemberInput)}


def test_sdk_member_inputs_cover_every_member() -> None:
    assert set(SDK_MEMBER_INPUTS) == set(BETA_COMPUTER_MEMBER_NAME_VALUES)


@pytest.mark.parametrize("member", sorted(SDK_MEMBER_INPUTS))
def test_our_model_matches_the_sdk_member_input(member: str) -> None:
    sdk_fields = SDK_MEMBER_INPUTS[member].model_fields
    ours = ACTION_MODELS[member].model_fields
    assert set(ours) == set(sdk_fields)
    for name, sdk_field in sdk_fields.items():
        assert ours[name].is_required() == sdk_field.is_required(), name


def test_every_action_of_every_version_has_a_model() -> None:
    for spec in ALL_SPECS:
        assert set(spec.actions) <= set(ACTION_MODELS)


def test_version_rules_name_real_actions_and_parameters() -> None:
    for spec in ALL_SPECS:
        for action, param, reason in spec.not_accepted:
            assert action in spec.actions
            assert param in ACTION_MODELS[action].model_fields
            assert reason
        for param in spec.integer_params:
            assert any(param in ACTION_MODELS[a].model_fields for a in spec.actions)


# --- accepted inputs ---------------------------------------------------------------------------


def test_dated_and_toolset_inputs_parse_to_the_same_models() -> None:
    for spec in (COMPUTER_20250124, COMPUTER_20251124, TOOLSET):
        assert parse(spec, "left_click", coordinate=[10, 20], text="shift") == ClickInput(
            coordinate=[10, 20], text="shift"
        )
        assert parse(spec, "scroll", scroll_direction="down", scroll_amount=3) == ScrollInput(
            scroll_direction="down", scroll_amount=3
        )
        assert parse(spec, "screenshot") == NoInput()
        drag = parse(spec, "left_click_drag", start_coordinate=[1, 2], coordinate=[3, 4])
        assert drag == DragInput(start_coordinate=[1, 2], coordinate=[3, 4])


def test_2024_drag_starts_at_the_pointer() -> None:
    drag = parse(COMPUTER_20241022, "left_click_drag", coordinate=[5, 6])
    assert drag == DragInput(start_coordinate=None, coordinate=[5, 6])


def test_2024_clicks_take_no_parameters() -> None:
    assert parse(COMPUTER_20241022, "left_click") == ClickInput()
    message = error_for(COMPUTER_20241022, "left_click", coordinate=[1, 2])
    assert "coordinate is not accepted by left_click in computer_20241022" in message
    assert "mouse_move" in message


def test_parameter_from_another_version_is_explained() -> None:
    message = error_for(
        COMPUTER_20241022, "left_click_drag", start_coordinate=[1, 2], coordinate=[3, 4]
    )
    assert (
        "start_coordinate is not accepted by left_click_drag in computer_20241022"
        " (it drags from the current pointer position" in message
    )
    assert "repeat is not accepted by key in computer_20251124" in error_for(
        COMPUTER_20251124, "key", text="a", repeat=2
    )


def test_toolset_key_repeat() -> None:
    assert parse(TOOLSET, "key", text="Down", repeat=3) == KeyInput(text="Down", repeat=3)
    for bad in (0, 101, True, 2.0, "3"):
        assert "repeat" in error_for(TOOLSET, "key", text="Down", repeat=bad)


def test_durations_by_version() -> None:
    assert parse(COMPUTER_20250124, "wait", duration=0) == WaitInput(duration=0)
    assert parse(COMPUTER_20250124, "wait", duration=1.5) == WaitInput(duration=1.5)
    assert parse(COMPUTER_20250124, "hold_key", text="shift", duration=0.5) == HoldKeyInput(
        text="shift", duration=0.5
    )
    assert parse(TOOLSET, "wait", duration=2) == WaitInput(duration=2)
    message = error_for(TOOLSET, "wait", duration=1.5)
    assert "duration must be a whole number of seconds in computer_toolset_20260801" in message
    assert "got 1.5" in message
    for bad in (-1, 100.5, 1000, True, "2", float("inf"), float("nan")):
        assert "duration" in error_for(COMPUTER_20250124, "wait", duration=bad)
    assert "duration" in error_for(COMPUTER_20250124, "hold_key", text="a", duration=0)


def test_scroll_amount_bounds() -> None:
    assert parse(TOOLSET, "scroll", scroll_direction="up", scroll_amount=0)
    assert parse(TOOLSET, "scroll", scroll_direction="up", scroll_amount=100)
    message = error_for(TOOLSET, "scroll", scroll_direction="up", scroll_amount=10_000)
    assert "scroll_amount must be an integer from 0 to 100" in message
    assert "got 10000" in message


def test_scroll_direction_is_exact() -> None:
    message = error_for(TOOLSET, "scroll", scroll_direction="UP", scroll_amount=1)
    assert "scroll_direction must be one of 'up', 'down', 'left', 'right'" in message
    assert 'got "UP"' in message


def test_null_optional_parameter_means_absent() -> None:
    assert parse(TOOLSET, "left_click", coordinate=None, text=None) == ClickInput()


def test_null_required_parameter_is_refused() -> None:
    message = error_for(TOOLSET, "left_click_drag", start_coordinate=None, coordinate=[1, 1])
    assert "start_coordinate is required" in message
    assert "got null" in message


def test_zoom_region() -> None:
    assert parse(COMPUTER_20251124, "zoom", region=[0, 0, 10, 20]) == ZoomInput(
        region=[0, 0, 10, 20]
    )
    assert "x0 < x1 and y0 < y1" in error_for(TOOLSET, "zoom", region=[10, 0, 10, 20])
    assert "region" in error_for(TOOLSET, "zoom", region=[0, 0, 10])
    assert "region" in error_for(TOOLSET, "zoom", region=[0, -1, 10, 10])


# --- strictness and messages -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("coordinate", "shown"),
    [
        (["5", 3], '["5", 3]'),
        ([True, 3], "[true, 3]"),
        ([1.5, 3], "[1.5, 3]"),
        ([1, 2, 3], "[1, 2, 3]"),
        ([-1, 2], "[-1, 2]"),
        ("10,20", '"10,20"'),
        ({"x": 1, "y": 2}, '{"x": 1, "y": 2}'),
    ],
)
def test_coordinates_are_strict(coordinate: object, shown: str) -> None:
    message = error_for(TOOLSET, "mouse_move", coordinate=coordinate)
    assert message.startswith("Invalid input for mouse_move (computer_toolset_20260801): ")
    assert "coordinate must be a list of two non-negative integers [x, y]" in message
    assert f"got {shown}" in message


def test_missing_parameter_names_the_parameter_and_type() -> None:
    message = error_for(COMPUTER_20250124, "mouse_move")
    assert "coordinate is required: expected a list of two non-negative integers" in message


def test_unknown_parameter_lists_the_accepted_ones() -> None:
    message = error_for(COMPUTER_20250124, "left_click", button="left")
    assert '"button" is not a parameter of left_click; left_click accepts: coordinate, text' in (
        message
    )
    assert "screenshot takes no parameters" in error_for(TOOLSET, "screenshot", quality=5)


def test_unknown_action_lists_valid_actions() -> None:
    with pytest.raises(ToolInputError) as info:
        parse_action(COMPUTER_20241022, "computer", {"action": "hover"})
    message = info.value.message
    assert 'Unknown action "hover"' in message
    for action in COMPUTER_20241022.actions:
        assert action in message


def test_action_from_a_newer_version_says_so() -> None:
    with pytest.raises(ToolInputError, match='"triple_click" is not available in computer_20241'):
        parse_action(COMPUTER_20241022, "computer", {"action": "triple_click"})


def test_disabled_action() -> None:
    offered = COMPUTER_20251124.offered_actions(zoom=False)
    with pytest.raises(ToolInputError, match="disabled"):
        parse_action(
            COMPUTER_20251124,
            "computer",
            {"action": "zoom", "region": [0, 0, 1, 1]},
            offered=offered,
        )


def test_missing_or_bad_action_field() -> None:
    with pytest.raises(ToolInputError, match="Missing 'action'; valid actions"):
        parse_action(COMPUTER_20250124, "computer", {"coordinate": [1, 1]})
    with pytest.raises(ToolInputError, match="'action' must be a string"):
        parse_action(COMPUTER_20250124, "computer", {"action": 3})


def test_dated_tool_name_is_checked() -> None:
    with pytest.raises(ToolInputError, match="named 'computer'"):
        parse_action(COMPUTER_20250124, "bash", {"action": "screenshot"})


def test_toolset_input_has_no_action_field() -> None:
    with pytest.raises(ToolInputError, match='"action" is not a parameter of screenshot'):
        parse_action(TOOLSET, "screenshot", {"action": "screenshot"})


@pytest.mark.parametrize("raw", [None, [1, 2], "screenshot", 5, {1: "x"}])
def test_input_must_be_an_object_with_string_keys(raw: object) -> None:
    with pytest.raises(ToolInputError):
        parse_action(TOOLSET, "screenshot", raw)


def test_modifier_text_must_name_keys() -> None:
    message = error_for(TOOLSET, "left_click", coordinate=[1, 1], text="shfit")
    assert "Unknown key name 'shfit'" in message
    assert "'shift'" in message
    assert "Unknown key name" in error_for(TOOLSET, "key", text="ctrl+s; reboot")


def test_type_text_rules() -> None:
    assert parse(TOOLSET, "type", text="line 1\n\tline 2 – ünïcode 😀") == TypeInput(
        text="line 1\n\tline 2 – ünïcode 😀"
    )
    assert parse(TOOLSET, "type", text="x" * MAX_TYPE_CHARS)
    message = error_for(TOOLSET, "type", text="ab\x00c")
    assert "control character U+0000 at index 2" in message
    assert "U+001B at index 0" in error_for(TOOLSET, "type", text="\x1b[A")
    assert "U+000D at index 1" in error_for(TOOLSET, "type", text="a\r\n")
    surrogate = error_for(TOOLSET, "type", text="a\ud800")
    assert "valid string" in surrogate
    assert '"a\\ud800"' in surrogate
    assert "text" in error_for(TOOLSET, "type", text="")


def test_huge_values_are_truncated_in_messages() -> None:
    message = error_for(TOOLSET, "type", text="x" * (MAX_TYPE_CHARS + 1))
    assert "(100001 characters)" in message
    assert len(message) < 400
    for huge in (list(range(100_000)), 10**5000, {"k" * 10_000: "v" * 10_000}, [[[[[[1]]]]]]):
        assert len(error_for(TOOLSET, "mouse_move", coordinate=huge)) < 400


def test_preview_renders_json_like_values() -> None:
    assert preview(None) == "null"
    assert preview(True) == "true"
    assert preview("a\ud800") == '"a\\ud800"'
    assert preview(2**100) == "an integer of 101 bits"
    assert preview(object()) == "a object"
    assert len(preview("y" * 1000)) <= 80


# --- fuzzing -----------------------------------------------------------------------------------

FIELD_NAMES = sorted({name for model in ACTION_MODELS.values() for name in model.model_fields})
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["up", "ctrl+s", "Return", "shift", "left_click"])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
param_names = st.sampled_from([*FIELD_NAMES, "action"]) | st.text(max_size=12)
action_names = st.sampled_from(sorted(ACTION_MODELS)) | st.text(max_size=12)


def assert_parses_or_refuses(spec: ComputerToolSpec, name: str, raw: object) -> None:
    try:
        action, model = parse_action(spec, name, raw)
    except ToolInputError as exc:
        assert exc.message
        assert len(exc.message) < 2000
        exc.message.encode("utf-8")  # must survive the API request
        return
    assert action in spec.offered_actions()
    assert isinstance(model, ACTION_MODELS[action])


@settings(max_examples=300)
@given(
    spec=st.sampled_from(ALL_SPECS),
    name=action_names,
    action=action_names,
    raw=st.dictionaries(param_names, json_values, max_size=6),
)
def test_arbitrary_json_never_escapes_as_another_exception(
    spec: ComputerToolSpec, name: str, action: str, raw: dict[str, object]
) -> None:
    if spec.kind == "dated":
        assert_parses_or_refuses(spec, "computer", {"action": action, **raw})
        assert_parses_or_refuses(spec, "computer", raw)
    else:
        assert_parses_or_refuses(spec, name, raw)


@given(spec=st.sampled_from(ALL_SPECS), raw=json_values)
def test_non_object_input_is_refused(spec: ComputerToolSpec, raw: object) -> None:
    assert_parses_or_refuses(spec, spec.name or "screenshot", raw)


pixel = st.integers(0, 4000)
coordinates = st.lists(pixel, min_size=2, max_size=2)
regions = st.tuples(
    st.lists(pixel, min_size=2, max_size=2, unique=True).map(sorted),
    st.lists(pixel, min_size=2, max_size=2, unique=True).map(sorted),
).map(lambda xy: [xy[0][0], xy[1][0], xy[0][1], xy[1][1]])
key_combos = st.sampled_from(["a", "Return", "ctrl+s", "alt+Tab", "ctrl+shift+Escape", "+"])
typed_texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")) | st.sampled_from("\n\t"),
    min_size=1,
    max_size=40,
)


def seconds(spec: ComputerToolSpec, *, allow_zero: bool) -> st.SearchStrategy[Any]:
    whole = st.integers(0 if allow_zero else 1, 100)
    if "duration" in spec.integer_params:
        return whole
    return whole | st.floats(0, 100, exclude_min=not allow_zero, allow_nan=False)


def field_strategy(spec: ComputerToolSpec, action: str, field: str) -> st.SearchStrategy[Any]:
    if field in ("coordinate", "start_coordinate"):
        return coordinates
    if field == "text":
        return typed_texts if action == "type" else key_combos
    if field == "duration":
        return seconds(spec, allow_zero=action == "wait")
    return {
        "region": regions,
        "repeat": st.integers(1, 100),
        "scroll_amount": st.integers(0, 100),
        "scroll_direction": st.sampled_from(["up", "down", "left", "right"]),
    }[field]


@st.composite
def valid_calls(draw: st.DrawFn) -> tuple[ComputerToolSpec, str, dict[str, Any]]:
    spec = draw(st.sampled_from(ALL_SPECS))
    action = draw(st.sampled_from(spec.offered_actions()))
    params: dict[str, Any] = {}
    for field, info in ACTION_MODELS[action].model_fields.items():
        if spec.not_accepted_reason(action, field) is not None:
            continue
        if info.is_required() or draw(st.booleans()):
            params[field] = draw(field_strategy(spec, action, field))
    return spec, action, params


@given(valid_calls())
def test_valid_inputs_parse_and_keep_their_values(
    call: tuple[ComputerToolSpec, str, dict[str, Any]],
) -> None:
    spec, action, params = call
    model = parse(spec, action, **params)
    assert model.model_dump(include=set(params)) == params


@st.composite
def mutated_calls(draw: st.DrawFn) -> tuple[ComputerToolSpec, str, dict[str, Any]]:
    spec, action, params = draw(valid_calls())
    mutation = draw(st.sampled_from(["drop", "add", "replace", "retype"]))
    if mutation == "drop" and params:
        del params[draw(st.sampled_from(sorted(params)))]
    elif mutation == "add":
        params[draw(param_names)] = draw(json_values)
    elif mutation == "replace" and params:
        params[draw(st.sampled_from(sorted(params)))] = draw(json_values)
    elif mutation == "retype":
        action = draw(action_names)
    return spec, action, params


@settings(max_examples=300)
@given(mutated_calls())
def test_mutated_valid_inputs_parse_or_raise_tool_input_error(
    call: tuple[ComputerToolSpec, str, dict[str, Any]],
) -> None:
    spec, action, params = call
    if spec.kind == "dated":
        assert_parses_or_refuses(spec, "computer", {"action": action, **params})
    else:
        assert_parses_or_refuses(spec, action, params)
