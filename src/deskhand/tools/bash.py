"""The bash tool: a persistent shell inside the desktop, for every bash tool version.

`bash_20241022` and `bash_20250124` have the same inputs (`command`, `restart`); their only
differences are data in `specs.py`. The shell lives in the guest (deskhand.guest.shell): it keeps
its working directory, variables and background jobs across calls and user messages, runs GUI
programs on the desktop the model sees, interrupts a command at the timeout (Ctrl-C) without
losing the shell, and caps output by keeping its head and tail.

What the model gets: stdout, then stderr under a `[stderr]` line, then `[exit status N]` when the
status is not 0. `is_error` is set only when the tool itself failed (timeout, a shell that had to
be replaced because it died or hung, bad input), never for a command's own non-zero exit: that is
an ordinary, fully reported outcome, as in a terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from deskhand.computer import DEADLINE_MARGIN, Computer, GuestConnectionLost, GuestError
from deskhand.safety.secrets import placeholder_refusal
from deskhand.tools.inputs import ToolInputError, preview
from deskhand.tools.results import ToolResult
from deskhand.tools.specs import CommandToolSpec, get_command_spec

DEFAULT_API_TYPE = "bash_20250124"
MAX_COMMAND_BYTES = 1_000_000
NO_COMMAND = "no command provided."
RESTARTED = "tool has been restarted."
_MAX_REPORTED_ERRORS = 3
_EXPECTED = {
    "command": "a string (the bash command to run)",
    "restart": "true or false",
}


class BashInput(BaseModel):
    """The input of every bash version; null means "not given", as the API's optional fields."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    command: str | None = None
    restart: bool | None = None


class BashTool:
    def __init__(
        self,
        computer: Computer,
        api_type: str = DEFAULT_API_TYPE,
        *,
        timeout: float = 120,
        max_output: int = 30_000,
        session: str = "default",
    ) -> None:
        spec = get_command_spec(api_type)
        if spec.family != "bash":
            raise ValueError(f"{api_type} is not a bash tool")
        if not 0 < timeout <= 3600:
            raise ValueError("timeout must be more than 0 and at most 3600 seconds")
        if max_output < 1:
            raise ValueError("max_output must be at least 1")
        self.computer = computer
        self.spec: CommandToolSpec = spec
        self.timeout = timeout
        self.max_output = max_output
        self.session = session

    @property
    def name(self) -> str:
        return self.spec.name

    def definition(self) -> dict[str, object]:
        """The `tools[]` entry to send to the API."""
        return self.spec.tool_definition()

    async def reset(self) -> None:
        """A fresh shell: what the old one started is killed, its cwd and variables are gone."""
        await self.computer.connection.call("shell.restart", session=self.session)

    async def run(self, name: str, tool_input: object) -> ToolResult:
        """Execute one tool_use. Bad input and guest refusals come back as error results."""
        try:
            params = self._parse(name, tool_input)
            command = _command(params)
        except ToolInputError as exc:
            return ToolResult.from_error(exc.message)
        if command is not None and (refusal := placeholder_refusal(command)):
            return ToolResult.from_error(refusal)  # a secret in a shell ends up in its history
        try:
            if params.restart:
                await self.reset()
                if command is None:
                    return ToolResult(system=RESTARTED)
            if command is None:
                return ToolResult.from_error(NO_COMMAND)
            reply, _ = await self.computer.connection.call(
                "shell.run",
                b"",
                self.timeout + DEADLINE_MARGIN,  # the guest's own timeout fires first
                session=self.session,
                command=command,
                timeout=self.timeout,
                max_output=self.max_output,
            )
        except GuestConnectionLost:
            raise  # the desktop is gone: not something the model can fix
        except GuestError as exc:
            return ToolResult.from_error(f"The desktop could not run the command: {exc.message}")
        result = self._render(reply)
        if params.restart:
            system = RESTARTED if result.system is None else f"{RESTARTED} {result.system}"
            return ToolResult(output=result.output, error=result.error, system=system)
        return result

    def _parse(self, name: str, tool_input: object) -> BashInput:
        if name != self.spec.name:
            raise ToolInputError(
                f"Unknown tool {preview(name)}; this bash tool is named {self.spec.name!r}"
            )
        if not isinstance(tool_input, Mapping):
            raise ToolInputError(f"Tool input must be a JSON object; got {preview(tool_input)}")
        bad_keys = [key for key in tool_input if not isinstance(key, str)]
        if bad_keys:
            raise ToolInputError(f"Parameter names must be strings; got {preview(bad_keys[0])}")
        try:
            return BashInput.model_validate(tool_input)
        except ValidationError as exc:
            raise self._error(_explain(tool_input, exc)) from None

    def _error(self, text: str) -> ToolInputError:
        return ToolInputError(f"Invalid input for bash ({self.spec.api_type}): {text}")

    def _render(self, reply: Mapping[str, Any]) -> ToolResult:
        stdout, stderr = str(reply.get("stdout", "")), str(reply.get("stderr", ""))
        exit_code = reply.get("exit_code")
        note = reply.get("note") or None
        parts = [stdout] if stdout else []
        if stderr:
            parts.append(f"[stderr]\n{stderr}")
        if exit_code not in (0, None):
            parts.append(f"[exit status {exit_code}]")
        text = "\n".join(parts) or None
        if reply.get("timed_out"):
            return ToolResult(output=text, error=self._timeout_message(note))
        if reply.get("restarted") and exit_code is None:
            return ToolResult(output=text, error=note)  # the shell died: a tool failure
        return ToolResult(output=text, system=note)

    def _timeout_message(self, note: str | None) -> str:
        head = f"timed out: the command did not finish within {self.timeout:g} seconds"
        if note:
            return f"{head}. {note}"
        return (
            f"{head} and was interrupted (Ctrl-C); the output printed so far is shown. The shell"
            " is still running, with its working directory and variables."
        )


def _command(params: BashInput) -> str | None:
    """The command to run, if any; refuses what bash cannot take."""
    command = params.command
    if command is None or not command.strip():
        return None
    if "\x00" in command:
        raise ToolInputError(
            f"command contains a NUL character at index {command.index(chr(0))};"
            " bash cannot pass NUL in a command line"
        )
    try:
        size = len(command.encode())
    except UnicodeEncodeError as exc:
        raise ToolInputError(
            f"command contains a lone surrogate (U+{ord(command[exc.start]):04X}) at index"
            f" {exc.start}, which is not valid Unicode"
        ) from None
    if size > MAX_COMMAND_BYTES:
        raise ToolInputError(
            f"command is {size:,} bytes long; the limit is {MAX_COMMAND_BYTES:,} bytes"
            " (write a long script to a file and run the file)"
        )
    return command


def _explain(tool_input: Mapping[Any, Any], exc: ValidationError) -> str:
    messages: list[str] = []
    for error in exc.errors(include_url=False):
        param = str(error["loc"][0]) if error["loc"] else ""
        if error["type"] == "extra_forbidden":
            messages.append(
                f"{preview(param)} is not a parameter of bash; bash accepts: command, restart"
            )
        else:
            received = preview(tool_input.get(param))
            messages.append(f"{param} must be {_EXPECTED.get(param, 'valid')}; got {received}")
    unique = list(dict.fromkeys(messages))
    if len(unique) > _MAX_REPORTED_ERRORS:
        more = len(unique) - _MAX_REPORTED_ERRORS
        unique = [*unique[:_MAX_REPORTED_ERRORS], f"and {more} more problems"]
    return "; ".join(unique)
