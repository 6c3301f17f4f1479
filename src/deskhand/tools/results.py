"""Tool results and their conversion to the API's tool_result block.

Unlike the reference demo, an error never hides the output or the screenshot (a warning on
stderr must not cost the model its view of the screen), a system note always reaches the model,
and a result with nothing in it still says so instead of sending empty content.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeGuard

from anthropic.types.beta import (
    BetaImageBlockParam,
    BetaTextBlockParam,
    BetaToolResultBlockParam,
)

from deskhand.tools.imaging import EncodedImage

NO_OUTPUT = "(no output)"


@dataclass(frozen=True)
class ToolResult:
    """What one tool call produced. Any combination of the fields may be set."""

    output: str | None = None
    error: str | None = None
    image: EncodedImage | None = None
    system: str | None = None
    # Added by the host after the tool ran (e.g. a prompt-injection warning); sent after the
    # image, since they speak about what came before.
    notes: tuple[str, ...] = ()

    @classmethod
    def from_error(cls, message: str) -> ToolResult:
        return cls(error=message)


def _has_text(text: str | None) -> TypeGuard[str]:
    return text is not None and bool(text.strip())


def _text_block(text: str) -> BetaTextBlockParam:
    # Lone surrogates (from odd program output) would break UTF-8 encoding of the request.
    safe = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return {"type": "text", "text": safe}


def _image_block(image: EncodedImage) -> BetaImageBlockParam:
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": image.media_type, "data": image.base64},
    }


def to_tool_result_block(
    tool_use_id: str, result: ToolResult, toolset_name: str | None = None
) -> BetaToolResultBlockParam:
    """Build the tool_result for one tool_use.

    Text blocks come first (the system note wrapped in <system> tags, then output, then error),
    then the image, then the host's notes. Blank texts are left out because the API rejects
    empty text blocks.
    `toolset_name` must be given for toolset members: their results have to carry it.
    """
    system = f"<system>{result.system}</system>" if _has_text(result.system) else None
    content: list[BetaTextBlockParam | BetaImageBlockParam] = [
        _text_block(text) for text in (system, result.output, result.error) if _has_text(text)
    ]
    if result.image is not None:
        content.append(_image_block(result.image))
    content.extend(_text_block(note) for note in result.notes if _has_text(note))
    if not content:
        content.append(_text_block(NO_OUTPUT))
    block: BetaToolResultBlockParam = {
        "type": "tool_result",
        "tool_use_id": tool_use_id,
        "content": content,
    }
    if result.error:
        block["is_error"] = True
    if toolset_name is not None:
        block["toolset_name"] = toolset_name
    return block
