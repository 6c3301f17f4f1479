"""A short human reading of one tool call, for terminals, prompts to approve and reports."""

from __future__ import annotations

import json
from typing import Any


def describe_action(name: str, tool_input: dict[str, Any]) -> str:
    """A short human reading of one tool call: `left_click (640, 400)`, `bash: ls -la`."""
    action = str(tool_input.get("action") or tool_input.get("command") or "")
    if name in ("bash",):
        return f"bash: {tool_input.get('command', '(restart)')}"
    if name in ("str_replace_editor", "str_replace_based_edit_tool"):
        return f"editor {action} {tool_input.get('path', '')}"
    label = action if name == "computer" else name
    details = [
        f"({v[0]}, {v[1]})"
        for k in ("start_coordinate", "coordinate")
        if isinstance(v := tool_input.get(k), list) and len(v) == 2
    ]
    if "text" in tool_input:
        details.append(json.dumps(tool_input["text"], ensure_ascii=False))
    for key in ("scroll_direction", "scroll_amount", "duration", "region"):
        if key in tool_input:
            details.append(f"{key}={tool_input[key]}")
    return " ".join([label, *details])
