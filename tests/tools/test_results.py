"""ToolResult -> tool_result block: nothing the model needs is dropped."""

from __future__ import annotations

import base64
from typing import Any, get_args, get_type_hints

from anthropic.types.beta import (
    BetaBase64ImageSourceParam,
    BetaImageBlockParam,
    BetaTextBlockParam,
    BetaToolResultBlockParam,
)

from deskhand.tools.imaging import EncodedImage
from deskhand.tools.results import NO_OUTPUT, ToolResult, to_tool_result_block

PNG = EncodedImage("image/png", b"\x89PNG fake", 4, 3)
IMAGE_BLOCK = {
    "type": "image",
    "source": {
        "type": "base64",
        "media_type": "image/png",
        "data": base64.b64encode(b"\x89PNG fake").decode(),
    },
}


def block(result: ToolResult, toolset_name: str | None = None) -> Any:
    built: Any = to_tool_result_block("toolu_1", result, toolset_name)
    assert_keys(built, BetaToolResultBlockParam)
    for item in built["content"]:
        if item["type"] == "text":
            assert_keys(item, BetaTextBlockParam)
        else:
            assert_keys(item, BetaImageBlockParam)
            assert_keys(item["source"], BetaBase64ImageSourceParam)
            media_types = get_args(get_type_hints(BetaBase64ImageSourceParam)["media_type"])
            assert item["source"]["media_type"] in media_types
    return built


def assert_keys(value: Any, typed_dict: Any) -> None:
    """The dict has every required key of the SDK TypedDict and no key it does not know."""
    required = set(typed_dict.__required_keys__)
    assert required <= set(value) <= required | set(typed_dict.__optional_keys__)


def text(value: str) -> dict[str, str]:
    return {"type": "text", "text": value}


def test_output_and_image() -> None:
    assert block(ToolResult(output="X=1,Y=2", image=PNG)) == {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "content": [text("X=1,Y=2"), IMAGE_BLOCK],
    }


def test_error_keeps_output_and_image() -> None:
    built = block(ToolResult(output="partial", error="warning: slow", image=PNG))
    assert built["is_error"] is True
    assert built["content"] == [text("partial"), text("warning: slow"), IMAGE_BLOCK]


def test_system_note_comes_first_in_tags() -> None:
    built = block(ToolResult(output="done", error="oops", system="screen may still be changing"))
    assert built["content"] == [
        text("<system>screen may still be changing</system>"),
        text("done"),
        text("oops"),
    ]


def test_system_note_alone_reaches_the_model() -> None:
    assert block(ToolResult(system="tool restarted"))["content"] == [
        text("<system>tool restarted</system>")
    ]


def test_empty_result_says_so() -> None:
    assert block(ToolResult())["content"] == [text(NO_OUTPUT)]
    assert block(ToolResult(output="", system="  \n"))["content"] == [text(NO_OUTPUT)]


def test_image_only() -> None:
    built = block(ToolResult(image=PNG))
    assert built["content"] == [IMAGE_BLOCK]
    assert "is_error" not in built


def test_from_error() -> None:
    result = ToolResult.from_error("Coordinate (5000, 1) is outside the screen")
    assert result == ToolResult(error="Coordinate (5000, 1) is outside the screen")
    built = block(result)
    assert built["is_error"] is True
    assert built["content"] == [text("Coordinate (5000, 1) is outside the screen")]


def test_toolset_name_is_copied_only_when_given() -> None:
    assert block(ToolResult(output="ok"), toolset_name="computer")["toolset_name"] == "computer"
    assert "toolset_name" not in block(ToolResult(output="ok"))


def test_lone_surrogates_are_escaped() -> None:
    built = block(ToolResult(output="bad \udcff byte"))
    assert built["content"] == [text("bad \\udcff byte")]
    built["content"][0]["text"].encode("utf-8")
