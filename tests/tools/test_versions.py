"""The version table covers every client-side tool version the SDK defines, and matches it."""

from __future__ import annotations

import re
import typing

import anthropic.types.beta as beta
import pytest
from anthropic.types.anthropic_beta_param import AnthropicBetaParam
from pydantic import TypeAdapter

from deskhand.tools.specs import COMMAND_SPECS, SPECS

# The SDK's tool definition params for the tools whose client side deskhand implements.
CLIENT_TOOL_PARAM = re.compile(
    r"BetaTool(Bash|TextEditor|ComputerUse)\d{8}Param|BetaComputerToolset\d{8}Param"
)


def _literal(param: type, field: str) -> str | None:
    hints = typing.get_type_hints(param, include_extras=True)
    if field not in hints:
        return None
    annotation = hints[field]
    while typing.get_origin(annotation) in (typing.Required, typing.NotRequired):
        annotation = typing.get_args(annotation)[0]
    (value,) = typing.get_args(annotation)
    return str(value)


SDK_PARAMS = {
    _literal(param, "type"): param
    for name in dir(beta)
    if CLIENT_TOOL_PARAM.fullmatch(name)
    for param in [getattr(beta, name)]
}


def test_the_sdk_offers_the_versions_this_test_expects() -> None:
    # Guards the enumeration itself: if the SDK renames its params, this test must not go blind.
    assert {"computer_20251124", "bash_20250124", "text_editor_20250728"} <= set(SDK_PARAMS)


def test_every_sdk_tool_version_is_in_the_table() -> None:
    """Fails when the SDK adds a computer, bash or text-editor version we do not handle."""
    ours = set(SPECS) | set(COMMAND_SPECS)
    missing = sorted(str(api_type) for api_type in set(SDK_PARAMS) - ours)
    assert not missing, f"SDK tool versions without a deskhand implementation: {missing}"
    assert ours <= set(SDK_PARAMS), "the table names a version the SDK does not define"


@pytest.mark.parametrize("api_type", sorted(COMMAND_SPECS))
def test_bash_and_editor_entries_match_the_sdk(api_type: str) -> None:
    spec = COMMAND_SPECS[api_type]
    param = SDK_PARAMS[api_type]
    assert spec.name == _literal(param, "name")
    assert spec.max_characters == ("max_characters" in typing.get_type_hints(param))
    definition = spec.tool_definition(max_characters=1000 if spec.max_characters else None)
    TypeAdapter(param).validate_python(definition)  # the SDK accepts what we send
    assert set(definition) <= set(typing.get_type_hints(param))


def _known_beta_flags() -> set[str]:
    flags: set[str] = set()
    for member in typing.get_args(AnthropicBetaParam):
        flags.update(str(value) for value in typing.get_args(member))
    return flags


@pytest.mark.parametrize("api_type", sorted(set(COMMAND_SPECS) | set(SPECS)))
def test_beta_flags_are_ones_the_sdk_knows(api_type: str) -> None:
    spec = COMMAND_SPECS.get(api_type) or SPECS[api_type]
    assert spec.beta_flag is None or spec.beta_flag in _known_beta_flags()
