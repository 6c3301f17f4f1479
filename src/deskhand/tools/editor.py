"""The text editor tool: view, create, str_replace, insert (and undo_edit) on files in the sandbox.

`EditorTool.run(name, input)` serves every text_editor version in `specs.COMMAND_SPECS`. The guest
only reads, lists and atomically writes bytes (deskhand.guest.files); every editing rule is here:

- Text is decoded as it is stored and written back the same way: a byte-order mark selects UTF-8,
  UTF-16 or UTF-32; otherwise UTF-8, else Windows-1252 if the file uses its extra characters,
  else Latin-1 (which takes any byte). A file whose text holds NUL characters is binary: refused.
- Line endings and tabs are kept. `old_str` matches whatever line endings the file has (its "\\n"
  matches "\\r\\n" too), and new lines are written with the file's usual ending, so a CRLF file
  stays CRLF. A file without a final newline keeps lacking one. Tabs are never expanded.
- Lines are counted like `cat -n` does: a final newline ends the last line, it does not start an
  empty one. `insert` puts its text after `insert_line`; a single newline at the end of the
  inserted text ends its last line instead of adding an empty one.
- Paths must be absolute. They are resolved inside the sandbox like any program would (".." and
  symbolic links work); edits through a link change its target and keep the link. The sandbox is
  the security boundary, not the path syntax.
- Files over `max_file_bytes` are refused; views are clipped to `max_characters` (or a default
  that keeps a huge file out of the context) with a note saying how to see the rest.
- Every edit is checked against the bytes it was computed from, so a change another program made
  meanwhile is reported, not overwritten. `undo_edit` (where the version has it) restores the
  bytes before the last edit made with this tool instance, if the file has not changed since;
  `create` is not undone (that would mean deleting a file).

Messages follow Anthropic's reference implementation where its wording is good, so a model
trained on it behaves as usual, and give a better hint where the reference's does not help.
"""

from __future__ import annotations

import asyncio
import codecs
import hashlib
import posixpath
import re
from abc import abstractmethod
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, assert_never, cast

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from deskhand import wire
from deskhand.computer import Computer, GuestConnectionLost, GuestError
from deskhand.tools.inputs import ToolInputError, preview
from deskhand.tools.results import ToolResult
from deskhand.tools.specs import CommandToolSpec, get_command_spec

DEFAULT_API_TYPE = "text_editor_20250728"
MAX_FILE_BYTES = 10 * 1024 * 1024
# Without max_characters a view still stops here: a whole 10 MiB file would not fit a context.
DEFAULT_VIEW_CHARS = 100_000
MAX_LIST_ENTRIES = 1000
LIST_DEPTH = 2
SNIPPET_LINES = 4
MAX_PATH_CHARS = 4096
UNDO_BYTES_PER_FILE = 64 * 1024 * 1024
_ECHO_CHARS = 1000  # old_str shown back in errors (a huge one would only waste context)
_MAX_REPORTED_ERRORS = 3
_MAX_REPORTED_MATCHES = 100  # beyond that the model needs a different old_str anyway


# -- input models ----------------------------------------------------------------------------


def _check_text(text: str) -> str:
    nul = text.find("\x00")
    if nul >= 0:
        raise ValueError(
            f"contains a NUL character (U+0000) at index {nul}; the editor only handles text"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"contains an unpaired surrogate (U+{ord(text[exc.start]):04X}) at index"
            f" {exc.start}, which no file encoding can store"
        ) from None
    return text


def _check_path(path: str) -> str:
    if not path:
        raise ValueError("must not be empty; give an absolute path such as /home/user/notes.txt")
    return _check_text(path)


PathText = Annotated[
    str,
    Field(max_length=MAX_PATH_CHARS, description="an absolute path string"),
    AfterValidator(_check_path),
]
Text = Annotated[str, Field(description="a string"), AfterValidator(_check_text)]


class _Input(BaseModel):
    """Fields common to every command. Strict and closed: model output is untrusted JSON."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    path: PathText


class ViewInput(_Input):
    view_range: list[int] | None = Field(default=None, min_length=2, max_length=2)


class CreateInput(_Input):
    file_text: Text


class StrReplaceInput(_Input):
    old_str: Text
    new_str: Text | None = Field(default=None, description="a string")  # absent: delete old_str


class InsertInput(_Input):
    """`insert`; the text's parameter name depends on the version (see the subclasses)."""

    insert_line: int = Field(description="a line number (the text goes after it; 0 = at the top)")

    @property
    @abstractmethod
    def text(self) -> str:
        """The text to insert, whatever the version calls its parameter."""


class InsertNewStrInput(InsertInput):
    new_str: Text

    @property
    def text(self) -> str:
        return self.new_str


class InsertTextInput(InsertInput):
    insert_text: Text

    @property
    def text(self) -> str:
        return self.insert_text


class UndoInput(_Input):
    pass


EditorInput = ViewInput | CreateInput | StrReplaceInput | InsertInput | UndoInput


def command_models(spec: CommandToolSpec) -> dict[str, type[_Input]]:
    """The input model of each command this version offers."""
    insert = InsertNewStrInput if spec.insert_param == "new_str" else InsertTextInput
    models: dict[str, type[_Input]] = {
        "view": ViewInput,
        "create": CreateInput,
        "str_replace": StrReplaceInput,
        "insert": insert,
        "undo_edit": UndoInput,
    }
    return {command: models[command] for command in spec.commands}


# -- text encodings and lines ----------------------------------------------------------------


@dataclass(frozen=True)
class TextEncoding:
    codec: str
    bom: bytes
    label: str

    def encode(self, text: str) -> bytes:
        return self.bom + text.encode(self.codec)


# UTF-32 LE before UTF-16 LE: its mark starts with the UTF-16 LE one.
_MARKED = (
    TextEncoding("utf-8", codecs.BOM_UTF8, "UTF-8 with a byte-order mark"),
    TextEncoding("utf-32-le", codecs.BOM_UTF32_LE, "UTF-32 (little-endian)"),
    TextEncoding("utf-32-be", codecs.BOM_UTF32_BE, "UTF-32 (big-endian)"),
    TextEncoding("utf-16-le", codecs.BOM_UTF16_LE, "UTF-16 (little-endian)"),
    TextEncoding("utf-16-be", codecs.BOM_UTF16_BE, "UTF-16 (big-endian)"),
)
_UTF8 = TextEncoding("utf-8", b"", "UTF-8")
_CP1252 = TextEncoding("cp1252", b"", "Windows-1252")
_LATIN1 = TextEncoding("latin-1", b"", "Latin-1")
# Bytes that are control characters in Latin-1 but typographic ones (“ ” € …) in Windows-1252.
_C1_BYTES = re.compile(rb"[\x80-\x9f]")


def decode(data: bytes) -> tuple[str, TextEncoding] | None:
    """The text and how it was stored, or None for a binary file.

    Without a byte-order mark: UTF-8 if it decodes; else Windows-1252 if the file uses its extra
    characters; else Latin-1, which decodes any bytes and re-encodes them unchanged.
    """
    marked = [encoding for encoding in _MARKED if data.startswith(encoding.bom)]
    unmarked = (_UTF8, _CP1252, _LATIN1) if _C1_BYTES.search(data) else (_UTF8, _LATIN1)
    candidates = marked[:1] or unmarked
    for encoding in candidates:
        try:
            text = data[len(encoding.bom) :].decode(encoding.codec)
        except UnicodeDecodeError:
            continue
        return None if "\x00" in text else (text, encoding)
    return None


def newline_of(text: str) -> str:
    """The line ending new lines get: CRLF if most lines end so, else LF."""
    crlf = text.count("\r\n")
    return "\r\n" if crlf > text.count("\n") - crlf else "\n"


def display_lines(text: str) -> list[str]:
    """The lines as `cat -n` numbers them, without their line endings."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # a final newline ends the last line; it does not start another
    return [line.removesuffix("\r") for line in lines]


def find_spans(text: str, old: str, limit: int) -> list[tuple[int, int]]:
    """Where `old` occurs in `text` (at most `limit` times, not overlapping), as (start, end).

    Line breaks match whatever ending the file uses: both sides are searched with CRLF made LF,
    and positions are mapped back to `text` (plain str.find, so a huge old_str stays fast).
    """
    flat = text.replace("\r\n", "\n")
    needle = old.replace("\r\n", "\n")
    # Where each CRLF's "\n" sits in `flat`: the k-th one has lost k earlier "\r"s.
    crlfs = [match.start() - k for k, match in enumerate(re.finditer("\r\n", text))]
    spans: list[tuple[int, int]] = []
    start = flat.find(needle)
    while start >= 0 and len(spans) < limit:
        end = start + len(needle)
        spans.append((start + bisect_left(crlfs, start), end + bisect_left(crlfs, end)))
        start = flat.find(needle, end)
    return spans


def line_numbers(text: str, offsets: list[int]) -> list[int]:
    """The 1-based line of each offset; offsets ascend, so each newline is counted once."""
    numbers: list[int] = []
    line, previous = 1, 0
    for offset in offsets:
        line += text.count("\n", previous, offset)
        previous = offset
        numbers.append(line)
    return numbers


def with_newlines(text: str, newline: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", newline)


def line_offset(text: str, line: int) -> int:
    """Where line number `line + 1` starts (just after the `line`-th newline)."""
    offset = 0
    for _ in range(line):
        offset = text.index("\n", offset) + 1
    return offset


def _squeeze(text: str) -> str:
    """Whitespace runs made single spaces, line by line (line count kept): for hints only."""
    return "\n".join(" ".join(line.split()) for line in text.split("\n"))


def _echo(text: str) -> str:
    if len(text) <= _ECHO_CHARS:
        return text
    return f"{text[:_ECHO_CHARS]}… ({len(text):,} characters in all)"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- results ---------------------------------------------------------------------------------


def cat_n(lines: list[str], descriptor: str, first: int, limit: int) -> str:
    """Numbered lines like `cat -n` (the reference's format), clipped to `limit` characters."""
    shown, note = _clip(lines, first, limit)
    body = "\n".join(f"{number:6}\t{line}" for number, line in enumerate(shown, first))
    return f"Here's the result of running `cat -n` on {descriptor}:\n{body}\n{note}"


def _clip(lines: list[str], first: int, limit: int) -> tuple[list[str], str]:
    """The lines that fit in `limit` characters, and the note saying what was left out."""
    used = 0
    for index, line in enumerate(lines):
        used += len(line) + 1
        if used <= limit:
            continue
        cut = index == 0
        shown = [line[:limit]] if cut else lines[:index]
        last = first + len(shown) - 1
        part = (
            f"line {first} is longer than that, so only its first {limit:,} characters are shown"
            if cut
            else f"only lines {first}-{last} of {first + len(lines) - 1} are shown"
        )
        return shown, (
            f"<response clipped><NOTE>To save on context, views show at most {limit:,}"
            f" characters and {part}. See the rest with `view_range` (e.g. [{last + 1}, -1]) or"
            " search the file with `grep -n` to find the line numbers you need.</NOTE>\n"
        )
    return lines, ""


# -- talking to the guest --------------------------------------------------------------------


class FileProblem(Exception):
    """The guest reported a file-level failure (see deskhand.guest.files for the codes)."""

    def __init__(self, result: Mapping[str, Any]) -> None:
        super().__init__(result.get("message", ""))
        self.code = str(result.get("error"))
        self.message = str(result.get("message", ""))
        self.result = result


@dataclass(frozen=True)
class StoredFile:
    """A file as read: what the path resolves to, its bytes, and the decoded text."""

    path: str
    real_path: str
    data: bytes
    text: str
    encoding: TextEncoding


@dataclass(frozen=True)
class _Edit:
    before: bytes
    after_sha256: str


class EditorTool:
    """The text editor tool of one API version, acting on files inside the sandbox."""

    def __init__(
        self,
        computer: Computer,
        api_type: str = DEFAULT_API_TYPE,
        *,
        max_characters: int | None = None,
        max_file_bytes: int = MAX_FILE_BYTES,
    ) -> None:
        self.spec = get_command_spec(api_type)
        if self.spec.family != "editor":
            raise ValueError(f"{api_type} is not a text editor tool")
        if not 1 <= max_file_bytes <= wire.MAX_BLOB_BYTES:
            raise ValueError(f"max_file_bytes must be within 1..{wire.MAX_BLOB_BYTES}")
        self._definition = self.spec.tool_definition(max_characters=max_characters)
        self.computer = computer
        self.max_file_bytes = max_file_bytes
        self.view_limit = max_characters or DEFAULT_VIEW_CHARS
        self.models = command_models(self.spec)
        self._history: dict[str, list[_Edit]] = {}  # by real path, oldest first
        self._home: str | None = None
        # One command at a time: parallel tool calls on one file then each see the other's edit.
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return self.spec.name

    def definition(self) -> dict[str, object]:
        """The `tools[]` entry to send to the API."""
        return dict(self._definition)

    async def run(self, name: str, tool_input: object) -> ToolResult:
        """Execute one tool_use. Every problem the model can fix comes back as an error result."""
        try:
            params = self._parse(name, tool_input)
            async with self._lock:
                return await self._execute(params)
        except ToolInputError as exc:
            return ToolResult.from_error(exc.message)
        except GuestConnectionLost:
            raise  # the desktop is gone: not something the model can fix
        except GuestError as exc:
            return ToolResult.from_error(f"The editor failed inside the desktop: {exc.message}")

    # -- input ---------------------------------------------------------------------------------

    def _parse(self, name: str, tool_input: object) -> EditorInput:
        if name != self.spec.name:
            raise ToolInputError(
                f"Unknown tool {preview(name)}; this text editor tool is named {self.spec.name!r}"
            )
        if not isinstance(tool_input, Mapping) or not all(isinstance(k, str) for k in tool_input):
            raise ToolInputError(f"Tool input must be a JSON object; got {preview(tool_input)}")
        # null means "not given", as the reference treats it.
        params = {key: value for key, value in tool_input.items() if value is not None}
        command = params.pop("command", None)
        allowed = ", ".join(self.spec.commands)
        if command is None:
            raise ToolInputError(
                f"Parameter `command` is required. The allowed commands for the {self.name}"
                f" tool are: {allowed}"
            )
        if not isinstance(command, str) or command not in self.models:
            shown = command if isinstance(command, str) else preview(command)
            raise ToolInputError(
                f"Unrecognized command {_echo(shown)}. The allowed commands for the {self.name}"
                f" tool are: {allowed}"
            )
        self._check_insert_name(command, params)
        model = self.models[command]
        try:
            parsed = model.model_validate(params)
        except ValidationError as exc:
            raise self._explain(command, model, params, exc) from None
        self._check_sizes(parsed)
        return cast(EditorInput, parsed)

    def _explain(
        self,
        command: str,
        model: type[_Input],
        params: Mapping[str, object],
        exc: ValidationError,
    ) -> ToolInputError:
        errors = exc.errors(include_url=False)
        messages = [self._explain_one(command, model, params, e) for e in errors]
        # Deduplicated in order: a list with two bad items reports the list once.
        unique = list(dict.fromkeys(messages))
        shown = unique[:_MAX_REPORTED_ERRORS]
        if len(unique) > len(shown):
            shown.append(f"({len(unique) - len(shown)} more problems)")
        return ToolInputError("\n".join(shown))

    def _explain_one(
        self,
        command: str,
        model: type[_Input],
        params: Mapping[str, object],
        error: ErrorDetails,
    ) -> str:
        param = str(error["loc"][0]) if error["loc"] else ""
        kind = error["type"]
        if param == "view_range" and kind != "extra_forbidden":
            return (
                "Invalid `view_range`. It should be a list of two integers."
                f" Got {preview(params.get(param))}."
            )
        if kind == "missing":
            return f"Parameter `{param}` is required for command: {command}"
        if kind == "extra_forbidden":
            return self._unexpected(command, model, param)
        if kind == "value_error":
            message = str(error.get("ctx", {}).get("error", error["msg"]))
            return f"Parameter `{param}` {message}."
        if kind == "string_too_long":
            limit = error.get("ctx", {}).get("max_length")
            return f"Parameter `{param}` is too long (at most {limit} characters)."
        field = model.model_fields.get(param)
        expected = (field.description if field else None) or "a valid value"
        return f"Parameter `{param}` must be {expected}; got {preview(params.get(param))}."

    def _check_insert_name(self, command: str, params: Mapping[str, object]) -> None:
        """Name the right parameter when insert's text comes under the other version's name."""
        right = self.spec.insert_param
        wrong = "insert_text" if right == "new_str" else "new_str"
        if command == "insert" and wrong in params and right not in params:
            raise ToolInputError(
                f"Parameter `{wrong}` is not accepted by `insert` in {self.spec.api_type}: the"
                f" text to insert goes in `{right}`."
            )

    @staticmethod
    def _unexpected(command: str, model: type[_Input], param: str) -> str:
        takes = ", ".join(f"`{name}`" for name in model.model_fields)
        return (
            f"Parameter {preview(param)} is not accepted by command `{command}`; it takes: {takes}."
        )

    def _check_sizes(self, parsed: _Input) -> None:
        """Refuse texts that could never fit in a file the editor accepts."""
        for param, value in parsed.model_dump(exclude={"path"}).items():
            if isinstance(value, str) and len(value) > self.max_file_bytes:
                raise ToolInputError(
                    f"Parameter `{param}` is too long ({len(value):,} characters); the editor"
                    f" handles files of up to {self.max_file_bytes:,} bytes."
                )

    async def _require_absolute(self, path: str) -> None:
        """Refuse a relative path, suggesting the absolute one it most likely meant."""
        if path.startswith("/"):
            return
        if self._home is None:
            result, _ = await self.computer.connection.call("file.home")
            self._home = str(result["home"])
        if path == "~" or path.startswith("~/"):
            suggestion = self._home + path[1:]
        else:
            suggestion = posixpath.normpath(posixpath.join(self._home, path))
        raise ToolInputError(
            f"The path {path} is not an absolute path, it should start with `/`."
            f" Maybe you meant {suggestion}?"
        )

    # -- commands ------------------------------------------------------------------------------

    async def _execute(self, params: EditorInput) -> ToolResult:
        path = params.path
        await self._require_absolute(path)
        match params:
            case ViewInput():
                return await self._view(path, params.view_range)
            case CreateInput():
                return await self._create(path, params.file_text)
            case StrReplaceInput():
                return await self._str_replace(path, params.old_str, params.new_str or "")
            case InsertInput():
                return await self._insert(path, params.insert_line, params.text)
            case UndoInput():
                return await self._undo(path)
            case _:
                assert_never(params)

    async def _view(self, path: str, view_range: list[int] | None) -> ToolResult:
        try:
            stored = await self._load(path)
        except FileProblem as problem:
            if problem.code != "is_directory":
                raise _read_error(problem, path, self.max_file_bytes) from None
            if view_range is not None:
                raise ToolInputError(
                    "The `view_range` parameter is not allowed when `path` points to a directory."
                ) from None
            return await self._list(path)
        lines = display_lines(stored.text)
        if not lines:
            return ToolResult(
                output=f"Here's the result of running `cat -n` on {path}:\n(the file is empty)\n"
            )
        first, last = _check_view_range(view_range, len(lines))
        return ToolResult(output=cat_n(lines[first - 1 : last], path, first, self.view_limit))

    async def _list(self, path: str) -> ToolResult:
        try:
            result, _ = await self._call(
                "file.list", path=path, depth=LIST_DEPTH, max_entries=MAX_LIST_ENTRIES
            )
        except FileProblem as problem:  # e.g. the folder went away since it was read
            raise _read_error(problem, path, self.max_file_bytes) from None
        base = path.rstrip("/")
        lines = [path]
        lines += [f"{base}/{e['path']}{'/' if e['dir'] else ''}" for e in result["entries"]]
        lines += [
            f"{base}/{e['path']} (could not be listed: {e['message']})" for e in result["errors"]
        ]
        hidden = int(result["total"]) - len(result["entries"])
        if hidden:
            lines.append(f"({hidden:,} more entries not shown; view a subdirectory to see them)")
        listing = "\n".join(lines)
        return ToolResult(
            output=f"Here's the files and directories up to {LIST_DEPTH} levels deep in {path},"
            f" excluding hidden items:\n{listing}\n"
        )

    async def _create(self, path: str, file_text: str) -> ToolResult:
        data = file_text.encode("utf-8")
        self._check_new_size(path, data)
        try:
            await self._call("file.write", blob=data, path=path, create=True)
        except FileProblem as problem:
            raise _create_error(problem, path) from None
        return ToolResult(output=f"File created successfully at: {path}")

    async def _str_replace(self, path: str, old: str, new: str) -> ToolResult:
        if not old:
            raise ToolInputError(
                "Parameter `old_str` must not be empty: give the exact text to replace"
                " (use the `insert` command to add text)."
            )
        stored = await self._load_for_edit(path)
        text = stored.text
        matches = find_spans(text, old, _MAX_REPORTED_MATCHES)
        if not matches:
            raise ToolInputError(
                f"No replacement was performed, old_str `{_echo(old)}` did not appear verbatim"
                f" in {path}.{_no_match_hint(text, old)}"
            )
        if len(matches) > 1:
            lines = list(dict.fromkeys(line_numbers(text, [start for start, _ in matches])))
            more = " and more" if len(matches) == _MAX_REPORTED_MATCHES else ""
            raise ToolInputError(
                f"No replacement was performed. Multiple occurrences of old_str `{_echo(old)}`"
                f" in lines {lines}{more}. Please ensure it is unique: include more of the"
                " surrounding text in old_str."
            )
        ((start, end),) = matches
        replacement = with_newlines(new, newline_of(text))
        updated = text[:start] + replacement + text[end:]
        await self._save(stored, updated)
        line = text.count("\n", 0, start)
        start = max(0, line - SNIPPET_LINES)
        stop = line + replacement.count("\n") + SNIPPET_LINES + 1
        snippet = self._edited(path, updated, start, stop, f"a snippet of {path}")
        return ToolResult(
            output=f"{snippet}Review the changes and make sure they are as expected. Edit the"
            " file again if necessary."
        )

    async def _insert(self, path: str, insert_line: int, new_text: str) -> ToolResult:
        stored = await self._load_for_edit(path)
        text = stored.text
        count = len(display_lines(text))
        if not 0 <= insert_line <= count:
            raise ToolInputError(
                f"Invalid `insert_line` parameter: {insert_line}. It should be within the range"
                f" of lines of the file: {[0, count]}"
            )
        newline = newline_of(text)
        # A newline closing the inserted text ends its last line; it does not add an empty one.
        block = with_newlines(new_text.removesuffix("\n"), newline)
        if insert_line == count and count and not text.endswith("\n"):
            updated = text + newline + block  # still without a final newline, as before
        else:
            offset = line_offset(text, insert_line)
            updated = text[:offset] + block + newline + text[offset:]
        await self._save(stored, updated)
        start = max(0, insert_line - SNIPPET_LINES)
        stop = insert_line + block.count("\n") + 1 + SNIPPET_LINES
        snippet = self._edited(path, updated, start, stop, "a snippet of the edited file")
        return ToolResult(
            output=f"{snippet}Review the changes and make sure they are as expected (correct"
            " indentation, no duplicate lines, etc). Edit the file again if necessary."
        )

    async def _undo(self, path: str) -> ToolResult:
        try:
            current, real_path = await self._fetch(path)
        except FileProblem as problem:
            raise _read_error(problem, path, self.max_file_bytes) from None
        history = self._history.get(real_path)
        if not history:
            raise ToolInputError(f"No edit history found for {path}.")
        edit = history[-1]
        if _sha256(current) != edit.after_sha256:
            raise ToolInputError(
                f"The file {path} has changed since the last edit made with this tool, so"
                " undo_edit would discard those changes; nothing was done. View the file and"
                " edit it directly instead."
            )
        await self._write(path, edit.before, _sha256(current))
        history.pop()
        decoded = decode(edit.before)
        assert decoded is not None  # it was decoded before the edit
        lines = display_lines(decoded[0])
        view = cat_n(lines, path, 1, self.view_limit)
        return ToolResult(output=f"Last edit to {path} undone successfully. {view}")

    # -- reading and writing -------------------------------------------------------------------

    async def _call(
        self, op: str, *, blob: bytes = b"", **args: Any
    ) -> tuple[dict[str, Any], bytes]:
        """One guest file operation; a file-level failure raises FileProblem."""
        result, data = await self.computer.connection.call(op, blob, **args)
        if "error" in result:
            raise FileProblem(result)
        return result, data

    async def _fetch(self, path: str) -> tuple[bytes, str]:
        """The file's bytes and the path it really is (symbolic links followed)."""
        result, data = await self._call("file.read", path=path, max_bytes=self.max_file_bytes)
        return data, str(result["real_path"])

    async def _load(self, path: str) -> StoredFile:
        """Read and decode a text file; FileProblem for the caller to explain, or an error."""
        data, real_path = await self._fetch(path)
        decoded = decode(data)
        if decoded is None:
            raise ToolInputError(
                f"The file {path} is a binary file (it is not text in any encoding the editor"
                " knows); the editor only works on text files."
            )
        text, encoding = decoded
        return StoredFile(path, real_path, data, text, encoding)

    async def _load_for_edit(self, path: str) -> StoredFile:
        try:
            return await self._load(path)
        except FileProblem as problem:
            raise _read_error(problem, path, self.max_file_bytes) from None

    async def _save(self, stored: StoredFile, text: str) -> None:
        """Write the edited text in the file's own encoding and remember the edit for undo."""
        try:
            data = stored.encoding.encode(text)
        except UnicodeEncodeError as exc:
            char = exc.object[exc.start]
            raise ToolInputError(
                f"No change was made: {stored.path} is stored as {stored.encoding.label}, which"
                f" cannot hold the character {char!r} (U+{ord(char):04X}). Use characters that"
                f" {stored.encoding.label} has."
            ) from None
        self._check_new_size(stored.path, data)
        await self._write(stored.path, data, _sha256(stored.data))
        history = self._history.setdefault(stored.real_path, [])
        history.append(_Edit(stored.data, _sha256(data)))
        while len(history) > 1 and sum(len(edit.before) for edit in history) > UNDO_BYTES_PER_FILE:
            history.pop(0)

    async def _write(self, path: str, data: bytes, expected_sha256: str) -> None:
        """Replace the file, unless it no longer holds the bytes the edit was made from."""
        try:
            await self._call("file.write", blob=data, path=path, expected_sha256=expected_sha256)
        except FileProblem as problem:
            if problem.code == "changed":
                raise ToolInputError(
                    f"The file {path} was changed by another program while this edit was being"
                    " made; nothing was written. View the file again and redo the edit."
                ) from None
            raise ToolInputError(
                f"Ran into {problem.message} while trying to write to {path}"
            ) from None

    def _check_new_size(self, path: str, data: bytes) -> None:
        if len(data) > self.max_file_bytes:
            raise ToolInputError(
                f"No change was made: {path} would be {len(data):,} bytes, over the editor's"
                f" limit of {self.max_file_bytes:,} bytes."
            )

    def _edited(self, path: str, text: str, start: int, stop: int, descriptor: str) -> str:
        """The reference's success message: the edit's surroundings, numbered from `start` + 1."""
        snippet = cat_n(display_lines(text)[start:stop], descriptor, start + 1, self.view_limit)
        return f"The file {path} has been edited. {snippet}"


def _check_view_range(view_range: list[int] | None, count: int) -> tuple[int, int]:
    """The first and last line to show (1-based, inclusive); the reference's messages."""
    if view_range is None:
        return 1, count
    first, last = view_range
    if not 1 <= first <= count:
        raise ToolInputError(
            f"Invalid `view_range`: {view_range}. Its first element `{first}` should be within"
            f" the range of lines of the file: {[1, count]}"
        )
    if last > count:
        raise ToolInputError(
            f"Invalid `view_range`: {view_range}. Its second element `{last}` should be smaller"
            f" than the number of lines in the file: `{count}`. Use [{first}, -1] to view through"
            " the end of the file."
        )
    if last != -1 and last < first:
        raise ToolInputError(
            f"Invalid `view_range`: {view_range}. Its second element `{last}` should be larger or"
            f" equal than its first `{first}`"
        )
    return first, count if last == -1 else last


def _no_match_hint(text: str, old: str) -> str:
    """Why old_str may have missed: line numbers copied from a view, or different whitespace."""
    if re.match(r"\s*\d+\t", old):
        return (
            " old_str seems to start with a line number from the view output; leave the numbers"
            " and the tab after them out."
        )
    squeezed = _squeeze(old)
    where = _squeeze(text).find(squeezed) if squeezed.strip() else -1
    if where < 0:
        return ""
    line = _squeeze(text).count("\n", 0, where) + 1
    return (
        f" It matches near line {line} if whitespace is ignored: view those lines and copy them"
        " exactly, tabs versus spaces included."
    )


def _read_error(problem: FileProblem, path: str, max_bytes: int) -> ToolInputError:
    """What a failed read means for the model, in the reference's words where it has them."""
    code = problem.code
    if code == "not_found":
        target = problem.result.get("link_target")
        link = f" It is a symbolic link to {target}, which does not exist." if target else ""
        return ToolInputError(f"The path {path} does not exist. Please provide a valid path.{link}")
    if code == "not_directory":
        return ToolInputError(
            f"The path {path} does not exist: a part of it before the last `/` is a file, not a"
            " directory."
        )
    if code == "is_directory":
        return ToolInputError(
            f"The path {path} is a directory and only the `view` command can be used on directories"
        )
    if code == "not_regular":
        return ToolInputError(
            f"The path {path} is not a regular file (it is a device, pipe or socket); the editor"
            " only works on text files."
        )
    if code == "too_large":
        size = int(problem.result.get("size", 0))
        return ToolInputError(
            f"The file {path} is too large for the editor ({size:,} bytes; the limit is"
            f" {max_bytes:,} bytes). Look at parts of it with other tools, e.g. `grep -n` or"
            " `sed -n '1,100p'` in a shell."
        )
    return ToolInputError(f"Ran into {problem.message} while trying to read {path}")


def _create_error(problem: FileProblem, path: str) -> ToolInputError:
    parent = posixpath.dirname(path.rstrip("/")) or "/"
    if problem.code == "exists":
        return ToolInputError(
            f"File already exists at: {path}. Cannot overwrite files using command `create`."
        )
    if problem.code == "not_found":
        return ToolInputError(
            f"Cannot create {path}: the directory {parent} does not exist. Create the directory"
            " first, then create the file."
        )
    if problem.code == "not_directory":
        return ToolInputError(
            f"Cannot create {path}: a part of {parent} is a file, not a directory."
        )
    return ToolInputError(f"Ran into {problem.message} while trying to write to {path}")
