"""The text editor tool on a real sandboxed desktop: every command of every version.

Files are prepared and checked byte for byte from the host (`desktop.home`); the tool acts on them
inside the sandbox (`desktop.guest_home`) exactly as the model would ask. Expected messages are
spelled out here; those of the reference implementation are quoted from it.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_type_hints

import pytest
from anthropic.types.beta import (
    BetaToolTextEditor20241022Param,
    BetaToolTextEditor20250124Param,
    BetaToolTextEditor20250429Param,
    BetaToolTextEditor20250728Param,
)
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from deskhand.sandbox.desktop import Desktop
from deskhand.tools.editor import DEFAULT_VIEW_CHARS, EditorTool, decode, find_spans
from deskhand.tools.results import ToolResult, to_tool_result_block
from deskhand.tools.specs import COMMAND_SPECS

pytestmark = pytest.mark.desktop

SDK_PARAMS: dict[str, Any] = {
    "text_editor_20241022": BetaToolTextEditor20241022Param,
    "text_editor_20250124": BetaToolTextEditor20250124Param,
    "text_editor_20250429": BetaToolTextEditor20250429Param,
    "text_editor_20250728": BetaToolTextEditor20250728Param,
}
VERSIONS = list(SDK_PARAMS)
WITH_UNDO = ["text_editor_20241022", "text_editor_20250124"]
WITHOUT_UNDO = ["text_editor_20250429", "text_editor_20250728"]
MAKEFILE = (
    b"# build\r\nCC ?= gcc\n\n.PHONY: all clean\n\nall: app\n\napp: main.o util.o\n"
    b"\t$(CC) -o $@ $^\t# link\n\n%.o: %.c\n\t$(CC) -c $<  -o $@\n\nclean:\n\trm -f app *.o\n"
)


@dataclass
class Folder:
    """A fresh folder in the sandbox home: `host` to prepare and check, `guest` for the tool."""

    host: Path
    guest: str

    def put(self, name: str, data: bytes) -> str:
        (self.host / name).write_bytes(data)
        return f"{self.guest}/{name}"

    def read(self, name: str) -> bytes:
        return (self.host / name).read_bytes()


@pytest.fixture
def folder(desktop: Desktop) -> Iterator[Folder]:
    name = f"editor-{secrets.token_hex(4)}"
    (desktop.home / name).mkdir()
    yield Folder(desktop.home / name, f"{desktop.guest_home}/{name}")


def editor(desktop: Desktop, api_type: str = "text_editor_20250728", **options: Any) -> EditorTool:
    return EditorTool(desktop.computer, api_type, **options)


async def ok(tool: EditorTool, **tool_input: Any) -> str:
    result = await tool.run(tool.name, tool_input)
    assert result.error is None, result.error
    assert result.output is not None
    return result.output


async def fails(tool: EditorTool, **tool_input: Any) -> str:
    result = await tool.run(tool.name, tool_input)
    assert result.output is None, result.output
    assert result.error is not None
    return result.error


def cat_n(descriptor: str, lines: list[str], first: int = 1) -> str:
    body = "\n".join(f"{n:6}\t{line}" for n, line in enumerate(lines, first))
    return f"Here's the result of running `cat -n` on {descriptor}:\n{body}\n"


# -- definitions -----------------------------------------------------------------------------


@pytest.mark.parametrize("api_type", VERSIONS)
def test_definition_matches_the_sdk(desktop: Desktop, api_type: str) -> None:
    tool = editor(desktop, api_type)
    hints = get_type_hints(SDK_PARAMS[api_type])
    (name,) = get_args(hints["name"])  # Literal["..."] (get_type_hints drops Required)
    (type_,) = get_args(hints["type"])
    assert tool.definition() == {"type": type_, "name": name}
    assert tool.name == name == COMMAND_SPECS[api_type].name


def test_max_characters_only_where_the_version_has_it(desktop: Desktop) -> None:
    tool = editor(desktop, max_characters=500)
    assert tool.definition()["max_characters"] == 500
    with pytest.raises(ValueError, match="no max_characters"):
        editor(desktop, "text_editor_20250124", max_characters=500)
    with pytest.raises(ValueError, match="not a text editor"):
        editor(desktop, "bash_20250124")
    with pytest.raises(ValueError, match="Unknown"):
        editor(desktop, "text_editor_19990101")
    with pytest.raises(ValueError, match="max_file_bytes"):
        editor(desktop, max_file_bytes=0)


# -- every command of every version ----------------------------------------------------------


@pytest.mark.parametrize("api_type", VERSIONS)
async def test_every_command(desktop: Desktop, folder: Folder, api_type: str) -> None:
    tool = editor(desktop, api_type)
    path = f"{folder.guest}/notes.txt"
    assert await ok(tool, command="create", path=path, file_text="alpha\nbeta\n") == (
        f"File created successfully at: {path}"
    )
    assert await ok(tool, command="view", path=path) == cat_n(path, ["alpha", "beta"])
    out = await ok(tool, command="str_replace", path=path, old_str="beta", new_str="gamma")
    assert out == (
        f"The file {path} has been edited. "
        + cat_n(f"a snippet of {path}", ["alpha", "gamma"])
        + "Review the changes and make sure they are as expected. Edit the file again if"
        " necessary."
    )
    text_param = COMMAND_SPECS[api_type].insert_param
    out = await ok(tool, command="insert", path=path, insert_line=1, **{text_param: "middle"})
    assert out == (
        f"The file {path} has been edited. "
        + cat_n("a snippet of the edited file", ["alpha", "middle", "gamma"])
        + "Review the changes and make sure they are as expected (correct indentation, no"
        " duplicate lines, etc). Edit the file again if necessary."
    )
    assert folder.read("notes.txt") == b"alpha\nmiddle\ngamma\n"
    if api_type in WITH_UNDO:
        out = await ok(tool, command="undo_edit", path=path)
        assert out == f"Last edit to {path} undone successfully. " + cat_n(path, ["alpha", "gamma"])
        assert folder.read("notes.txt") == b"alpha\ngamma\n"
    else:
        assert await fails(tool, command="undo_edit", path=path) == (
            "Unrecognized command undo_edit. The allowed commands for the"
            " str_replace_based_edit_tool tool are: view, create, str_replace, insert"
        )
        assert folder.read("notes.txt") == b"alpha\nmiddle\ngamma\n"


# -- view ------------------------------------------------------------------------------------


async def test_view_ranges(desktop: Desktop, folder: Folder) -> None:
    tool = editor(desktop)
    path = folder.put("five.txt", b"1\n2\n3\n4\n5\n")
    assert await ok(tool, command="view", path=path, view_range=[2, 3]) == cat_n(
        path, ["2", "3"], 2
    )
    assert await ok(tool, command="view", path=path, view_range=[4, -1]) == cat_n(
        path, ["4", "5"], 4
    )
    assert await ok(tool, command="view", path=path, view_range=[5, 5]) == cat_n(path, ["5"], 5)


@pytest.mark.parametrize(
    ("view_range", "message"),
    [
        (
            [0, 2],
            "Invalid `view_range`: [0, 2]. Its first element `0` should be within the range of"
            " lines of the file: [1, 5]",
        ),
        (
            [6, -1],
            "Invalid `view_range`: [6, -1]. Its first element `6` should be within the range of"
            " lines of the file: [1, 5]",
        ),
        (
            [2, 9],
            "Invalid `view_range`: [2, 9]. Its second element `9` should be smaller than the"
            " number of lines in the file: `5`. Use [2, -1] to view through the end of the file.",
        ),
        (
            [4, 2],
            "Invalid `view_range`: [4, 2]. Its second element `2` should be larger or equal than"
            " its first `4`",
        ),
        ([1], "Invalid `view_range`. It should be a list of two integers. Got [1]."),
        ([1, 2, 3], "Invalid `view_range`. It should be a list of two integers. Got [1, 2, 3]."),
        (["1", 2], 'Invalid `view_range`. It should be a list of two integers. Got ["1", 2].'),
        ([True, 2], "Invalid `view_range`. It should be a list of two integers. Got [true, 2]."),
        ("1-2", 'Invalid `view_range`. It should be a list of two integers. Got "1-2".'),
    ],
)
async def test_view_range_errors(
    desktop: Desktop, folder: Folder, view_range: object, message: str
) -> None:
    path = folder.put("five.txt", b"1\n2\n3\n4\n5\n")
    assert await fails(editor(desktop), command="view", path=path, view_range=view_range) == message


async def test_view_keeps_tabs_and_hides_line_endings(desktop: Desktop, folder: Folder) -> None:
    path = folder.put("mixed.txt", b"a\tb\r\n\tindented\r\nlast line, no newline")
    assert await ok(editor(desktop), command="view", path=path) == cat_n(
        path, ["a\tb", "\tindented", "last line, no newline"]
    )


async def test_view_of_an_empty_file(desktop: Desktop, folder: Folder) -> None:
    path = folder.put("empty.txt", b"")
    assert await ok(editor(desktop), command="view", path=path, view_range=[1, -1]) == (
        f"Here's the result of running `cat -n` on {path}:\n(the file is empty)\n"
    )


async def test_directory_listing_two_levels_without_hidden(
    desktop: Desktop, folder: Folder
) -> None:
    for sub in ("src/pkg/deep", ".git/objects", "docs"):
        (folder.host / sub).mkdir(parents=True)
    for name in ("README.md", ".env", "src/main.py", "src/pkg/mod.py", ".git/HEAD", "src/.tmp"):
        (folder.host / name).write_text("x")
    tool = editor(desktop)
    g = folder.guest
    assert await ok(tool, command="view", path=g) == (
        f"Here's the files and directories up to 2 levels deep in {g}, excluding hidden items:\n"
        f"{g}\n{g}/README.md\n{g}/docs/\n{g}/src/\n{g}/src/main.py\n{g}/src/pkg/\n"
    )
    assert await fails(tool, command="view", path=g, view_range=[1, 2]) == (
        "The `view_range` parameter is not allowed when `path` points to a directory."
    )


async def test_huge_directory_listing_is_capped(desktop: Desktop, folder: Folder) -> None:
    for index in range(1005):
        (folder.host / f"f{index:04}").write_text("")
    out = await ok(editor(desktop), command="view", path=folder.guest + "/")
    lines = out.splitlines()
    assert lines[1] == folder.guest + "/" and lines[2] == f"{folder.guest}/f0000"
    assert lines[-1] == "(5 more entries not shown; view a subdirectory to see them)"
    assert len(lines) == 1 + 1 + 1000 + 1


async def test_max_characters_clips_views_with_a_note(desktop: Desktop, folder: Folder) -> None:
    path = folder.put("long.txt", "".join(f"line {n:02}\n" for n in range(1, 41)).encode())
    tool = editor(desktop, max_characters=40)  # each line is 7 characters + newline
    out = await ok(tool, command="view", path=path)
    shown = [f"line {n:02}" for n in range(1, 6)]
    assert out == cat_n(path, shown) + (
        "<response clipped><NOTE>To save on context, views show at most 40 characters and only"
        " lines 1-5 of 40 are shown. See the rest with `view_range` (e.g. [6, -1]) or search the"
        " file with `grep -n` to find the line numbers you need.</NOTE>\n"
    )
    out = await ok(tool, command="view", path=path, view_range=[38, -1])
    assert out == cat_n(path, ["line 38", "line 39", "line 40"], 38)
    one_line = folder.put("one-line.txt", b"x" * 100)
    out = await ok(tool, command="view", path=one_line)
    assert out.startswith(cat_n(one_line, ["x" * 40]) + "<response clipped><NOTE>")
    assert "line 1 is longer than that, so only its first 40 characters are shown" in out


async def test_views_are_clipped_by_default_too(desktop: Desktop, folder: Folder) -> None:
    path = folder.put("big.txt", b"0123456789abcdefghi\n" * 10_000)
    out = await ok(editor(desktop, "text_editor_20250124"), command="view", path=path)
    assert f"views show at most {DEFAULT_VIEW_CHARS:,} characters" in out
    assert "lines 1-5000 of 10000" in out


# -- create ----------------------------------------------------------------------------------


async def test_create_writes_exactly_the_text(desktop: Desktop, folder: Folder) -> None:
    tool = editor(desktop)
    text = "tabs\tstay\r\ncrlf as given\nno final newline: é ✓"
    await ok(tool, command="create", path=f"{folder.guest}/new.txt", file_text=text)
    assert folder.read("new.txt") == text.encode()
    await ok(tool, command="create", path=f"{folder.guest}/empty.txt", file_text="")
    assert folder.read("empty.txt") == b""


async def test_create_refuses_existing_paths_and_missing_folders(
    desktop: Desktop, folder: Folder
) -> None:
    tool = editor(desktop)
    path = folder.put("keep.txt", b"precious")
    assert await fails(tool, command="create", path=path, file_text="x") == (
        f"File already exists at: {path}. Cannot overwrite files using command `create`."
    )
    assert folder.read("keep.txt") == b"precious"
    assert await fails(tool, command="create", path=folder.guest, file_text="x") == (
        f"File already exists at: {folder.guest}. Cannot overwrite files using command `create`."
    )
    missing = f"{folder.guest}/no/such/dir/new.txt"
    assert await fails(tool, command="create", path=missing, file_text="x") == (
        f"Cannot create {missing}: the directory {folder.guest}/no/such/dir does not exist."
        " Create the directory first, then create the file."
    )
    below_file = f"{path}/new.txt"
    assert await fails(tool, command="create", path=below_file, file_text="x") == (
        f"Cannot create {below_file}: a part of {path} is a file, not a directory."
    )


async def test_read_only_places_give_the_os_reason(desktop: Desktop) -> None:
    error = await fails(editor(desktop), command="create", path="/usr/new.txt", file_text="x")
    assert error == "Ran into Read-only file system while trying to write to /usr/new.txt"


# -- str_replace -----------------------------------------------------------------------------


async def test_str_replace_no_match_and_several_matches(desktop: Desktop, folder: Folder) -> None:
    tool = editor(desktop)
    original = b"def f():\n    return 1\n\ndef g():\n    return 1\n"
    path = folder.put("code.py", original)
    assert await fails(tool, command="str_replace", path=path, old_str="return 2") == (
        f"No replacement was performed, old_str `return 2` did not appear verbatim in {path}."
    )
    assert await fails(tool, command="str_replace", path=path, old_str="return 1") == (
        "No replacement was performed. Multiple occurrences of old_str `return 1` in lines"
        " [2, 5]. Please ensure it is unique: include more of the surrounding text in old_str."
    )
    error = await fails(tool, command="str_replace", path=path, old_str=":\n    return 1\n")
    assert "in lines [1, 4]." in error  # multi-line old_str: the lines where matches start
    assert await fails(tool, command="str_replace", path=path, old_str="") == (
        "Parameter `old_str` must not be empty: give the exact text to replace (use the `insert`"
        " command to add text)."
    )
    assert folder.read("code.py") == original


async def test_str_replace_hints_for_near_misses(desktop: Desktop, folder: Folder) -> None:
    tool = editor(desktop)
    path = folder.put("Makefile", b"all:\n\tcc -o app main.c\n")
    error = await fails(tool, command="str_replace", path=path, old_str="    cc -o app")
    assert error.endswith(
        " It matches near line 2 if whitespace is ignored: view those lines and copy them exactly,"
        " tabs versus spaces included."
    )
    error = await fails(tool, command="str_replace", path=path, old_str="     2\tcc -o app")
    assert error.endswith(
        " old_str seems to start with a line number from the view output; leave the numbers and"
        " the tab after them out."
    )


async def test_str_replace_without_new_str_deletes(desktop: Desktop, folder: Folder) -> None:
    path = folder.put("f.txt", b"keep\ndrop me\nkeep\n")
    out = await ok(editor(desktop), command="str_replace", path=path, old_str="drop me\n")
    assert folder.read("f.txt") == b"keep\nkeep\n"
    assert cat_n(f"a snippet of {path}", ["keep", "keep"]) in out


async def test_str_replace_snippet_shows_four_lines_around(
    desktop: Desktop, folder: Folder
) -> None:
    path = folder.put("f.txt", "".join(f"{n}\n" for n in range(1, 21)).encode())
    out = await ok(
        editor(desktop), command="str_replace", path=path, old_str="10\n", new_str="X\nY\n"
    )
    assert (
        cat_n(f"a snippet of {path}", ["6", "7", "8", "9", "X", "Y", "11", "12", "13", "14"], 6)
        in out
    )


# -- insert ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (0, b"new\none\ntwo\nthree\n"),
        (2, b"one\ntwo\nnew\nthree\n"),
        (3, b"one\ntwo\nthree\nnew\n"),
    ],
)
async def test_insert_positions(
    desktop: Desktop, folder: Folder, line: int, expected: bytes
) -> None:
    path = folder.put("f.txt", b"one\ntwo\nthree\n")
    await ok(editor(desktop), command="insert", path=path, insert_line=line, insert_text="new")
    assert folder.read("f.txt") == expected


async def test_insert_out_of_range(desktop: Desktop, folder: Folder) -> None:
    tool = editor(desktop)
    path = folder.put("f.txt", b"one\ntwo\nthree\n")
    for line in (-1, 4, 10**30):
        assert await fails(
            tool, command="insert", path=path, insert_line=line, insert_text="x"
        ) == (
            f"Invalid `insert_line` parameter: {line}. It should be within the range of lines of"
            " the file: [0, 3]"
        )
    assert folder.read("f.txt") == b"one\ntwo\nthree\n"


async def test_insert_text_lines(desktop: Desktop, folder: Folder) -> None:
    tool = editor(desktop)
    path = folder.put("f.txt", b"a\nb\n")
    await ok(tool, command="insert", path=path, insert_line=1, insert_text="x\ny\n")
    assert folder.read("f.txt") == b"a\nx\ny\nb\n"  # the final newline ends "y", adds no line
    await ok(tool, command="insert", path=path, insert_line=0, insert_text="")
    assert folder.read("f.txt") == b"\na\nx\ny\nb\n"
    empty = folder.put("empty.txt", b"")
    await ok(tool, command="insert", path=empty, insert_line=0, insert_text="first")
    assert folder.read("empty.txt") == b"first\n"


# -- undo_edit -------------------------------------------------------------------------------


async def test_undo_steps_back_through_every_edit(desktop: Desktop, folder: Folder) -> None:
    tool = editor(desktop, "text_editor_20250124")
    path = folder.put("f.txt", b"v0\n")
    assert await fails(tool, command="undo_edit", path=path) == f"No edit history found for {path}."
    versions = [b"v0\n"]
    for step in range(1, 4):
        await ok(tool, command="str_replace", path=path, old_str=f"v{step - 1}", new_str=f"v{step}")
        versions.append(f"v{step}\n".encode())
    await ok(tool, command="insert", path=path, insert_line=1, new_str="tail")
    versions.append(b"v3\ntail\n")
    for expected in reversed(versions[:-1]):
        await ok(tool, command="undo_edit", path=path)
        assert folder.read("f.txt") == expected
    assert await fails(tool, command="undo_edit", path=path) == f"No edit history found for {path}."


async def test_undo_refuses_to_discard_changes_made_since(desktop: Desktop, folder: Folder) -> None:
    tool = editor(desktop, "text_editor_20241022")
    path = folder.put("f.txt", b"a\n")
    await ok(tool, command="str_replace", path=path, old_str="a", new_str="b")
    (folder.host / "f.txt").write_bytes(b"b\nchanged by a program\n")
    error = await fails(tool, command="undo_edit", path=path)
    assert error.startswith(f"The file {path} has changed since the last edit made with this tool")
    assert folder.read("f.txt") == b"b\nchanged by a program\n"


async def test_undo_history_is_per_file_and_per_tool(desktop: Desktop, folder: Folder) -> None:
    first, second = editor(desktop, "text_editor_20250124"), editor(desktop, "text_editor_20250124")
    a, b = folder.put("a.txt", b"a\n"), folder.put("b.txt", b"b\n")
    await ok(first, command="str_replace", path=a, old_str="a", new_str="A")
    assert await fails(first, command="undo_edit", path=b) == f"No edit history found for {b}."
    assert await fails(second, command="undo_edit", path=a) == f"No edit history found for {a}."
    await ok(first, command="undo_edit", path=a)
    assert folder.read("a.txt") == b"a\n"


# -- paths and files the editor refuses ------------------------------------------------------


async def test_relative_paths_get_an_absolute_suggestion(desktop: Desktop) -> None:
    tool = editor(desktop)
    home = str(desktop.guest_home)
    for path, meant in {
        "notes.txt": f"{home}/notes.txt",
        "./src/../notes.txt": f"{home}/notes.txt",
        "~/notes.txt": f"{home}/notes.txt",
    }.items():
        assert await fails(tool, command="view", path=path) == (
            f"The path {path} is not an absolute path, it should start with `/`. Maybe you meant"
            f" {meant}?"
        )


async def test_paths_that_are_not_editable_text_files(desktop: Desktop, folder: Folder) -> None:
    tool = editor(desktop, max_file_bytes=1000)
    g = folder.guest
    folder.put("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    folder.put("big.txt", b"x" * 1001)
    os.mkfifo(folder.host / "pipe")
    assert await fails(tool, command="str_replace", path=g, old_str="x") == (
        f"The path {g} is a directory and only the `view` command can be used on directories"
    )
    assert await fails(tool, command="view", path=f"{g}/missing.txt") == (
        f"The path {g}/missing.txt does not exist. Please provide a valid path."
    )
    binary = f"{g}/image.png"
    assert await fails(tool, command="insert", path=binary, insert_line=0, insert_text="x") == (
        f"The file {binary} is a binary file (it is not text in any encoding the editor knows);"
        " the editor only works on text files."
    )
    assert await fails(tool, command="view", path=f"{g}/big.txt") == (
        f"The file {g}/big.txt is too large for the editor (1,001 bytes; the limit is 1,000"
        " bytes). Look at parts of it with other tools, e.g. `grep -n` or `sed -n '1,100p'` in a"
        " shell."
    )
    assert await fails(tool, command="view", path=f"{g}/pipe") == (
        f"The path {g}/pipe is not a regular file (it is a device, pipe or socket); the editor"
        " only works on text files."
    )
    error = await fails(tool, command="create", path=f"{g}/new.txt", file_text="y" * 1001)
    assert error == (
        "Parameter `file_text` is too long (1,001 characters); the editor handles files of up to"
        " 1,000 bytes."
    )
    error = await fails(tool, command="create", path=f"{g}/new.txt", file_text="é" * 501)
    assert error == (
        f"No change was made: {g}/new.txt would be 1,002 bytes, over the editor's limit of 1,000"
        " bytes."
    )


async def test_unreadable_files_and_folders(desktop: Desktop, folder: Folder) -> None:
    # Inside the sandbox the tool runs without capabilities, so mode 000 stops it even here.
    folder.put("secret.txt", b"x")
    (folder.host / "secret.txt").chmod(0)
    (folder.host / "locked").mkdir(mode=0)
    tool, g = editor(desktop), folder.guest
    try:
        assert await fails(tool, command="view", path=f"{g}/secret.txt") == (
            f"Ran into Permission denied while trying to read {g}/secret.txt"
        )
        assert await ok(tool, command="view", path=g) == (
            f"Here's the files and directories up to 2 levels deep in {g}, excluding hidden"
            f" items:\n{g}\n{g}/locked/\n{g}/secret.txt\n"
            f"{g}/locked/ (could not be listed: Permission denied)\n"
        )
    finally:
        (folder.host / "locked").chmod(0o700)  # so the desktop's folder can be removed


async def test_dot_dot_paths_act_on_the_file_they_resolve_to(
    desktop: Desktop, folder: Folder
) -> None:
    (folder.host / "sub").mkdir()
    folder.put("f.txt", b"old\n")
    path = f"{folder.guest}/sub/../f.txt"
    await ok(editor(desktop), command="str_replace", path=path, old_str="old", new_str="new")
    assert folder.read("f.txt") == b"new\n"


async def test_symlinks_edit_their_target_and_stay_links(desktop: Desktop, folder: Folder) -> None:
    tool = editor(desktop, "text_editor_20250124")
    folder.put("real.txt", b"a = 1\n")
    (folder.host / "link.txt").symlink_to("real.txt")
    link = f"{folder.guest}/link.txt"
    await ok(tool, command="str_replace", path=link, old_str="1", new_str="2")
    assert (folder.host / "link.txt").is_symlink()
    assert folder.read("real.txt") == b"a = 2\n"
    # Undo history follows the real file, whichever name was used.
    await ok(tool, command="undo_edit", path=f"{folder.guest}/real.txt")
    assert folder.read("real.txt") == b"a = 1\n"
    (folder.host / "dangling").symlink_to("gone.txt")
    (folder.host / "loop").symlink_to("loop")
    assert await fails(tool, command="view", path=f"{folder.guest}/dangling") == (
        f"The path {folder.guest}/dangling does not exist. Please provide a valid path. It is a"
        " symbolic link to gone.txt, which does not exist."
    )
    assert await fails(tool, command="view", path=f"{folder.guest}/loop") == (
        f"Ran into Too many levels of symbolic links while trying to read {folder.guest}/loop"
    )


# -- files keep their bytes ------------------------------------------------------------------


async def test_makefile_survives_an_edit_byte_for_byte(desktop: Desktop, folder: Folder) -> None:
    path = folder.put("Makefile", MAKEFILE)
    tool = editor(desktop)
    await ok(
        tool, command="str_replace", path=path, old_str="\t$(CC) -c $<", new_str="\t$(CC) -O2 -c $<"
    )
    assert folder.read("Makefile") == MAKEFILE.replace(b"$(CC) -c $<", b"$(CC) -O2 -c $<")


async def test_crlf_files_stay_crlf(desktop: Desktop, folder: Folder) -> None:
    tool = editor(desktop)
    path = folder.put("win.txt", b"one\r\ntwo\r\nthree\r\n")
    await ok(tool, command="str_replace", path=path, old_str="one\ntwo", new_str="1\n2\n2.5")
    assert folder.read("win.txt") == b"1\r\n2\r\n2.5\r\nthree\r\n"
    await ok(tool, command="insert", path=path, insert_line=4, insert_text="four\nfive")
    assert folder.read("win.txt") == b"1\r\n2\r\n2.5\r\nthree\r\nfour\r\nfive\r\n"
    # Mixed endings: a match spans either kind; new lines get the most common one (CRLF here).
    mixed = folder.put("mixed.txt", b"a\r\nb\nc\r\n")
    await ok(tool, command="str_replace", path=mixed, old_str="a\nb\nc", new_str="x\ny")
    assert folder.read("mixed.txt") == b"x\r\ny\r\n"
    folder.put("mixed.txt", b"a\r\nb\nc\r\n")
    await ok(tool, command="str_replace", path=mixed, old_str="b\n", new_str="B\n")
    assert folder.read("mixed.txt") == b"a\r\nB\r\nc\r\n"


async def test_missing_final_newline_stays_missing(desktop: Desktop, folder: Folder) -> None:
    tool = editor(desktop)
    path = folder.put("f.txt", b"a\nb")
    await ok(tool, command="str_replace", path=path, old_str="b", new_str="B")
    assert folder.read("f.txt") == b"a\nB"
    await ok(tool, command="insert", path=path, insert_line=2, insert_text="c")
    assert folder.read("f.txt") == b"a\nB\nc"


@pytest.mark.parametrize(
    ("name", "codec", "bom"),
    [
        ("latin1.txt", "latin-1", b""),
        ("cp1252.txt", "cp1252", b""),
        ("utf8-bom.txt", "utf-8", codecs.BOM_UTF8),
        ("utf16le.txt", "utf-16-le", codecs.BOM_UTF16_LE),
        ("utf16be.txt", "utf-16-be", codecs.BOM_UTF16_BE),
    ],
)
async def test_files_keep_their_encoding(
    desktop: Desktop, folder: Folder, name: str, codec: str, bom: bytes
) -> None:
    tool = editor(desktop)
    special = "“café”" if codec == "cp1252" else "café"
    path = folder.put(name, bom + f"menu:\r\n{special}\r\n".encode(codec))
    assert await ok(tool, command="view", path=path) == cat_n(path, ["menu:", special])
    await ok(tool, command="str_replace", path=path, old_str=special, new_str="naïve crème")
    assert folder.read(name) == bom + "menu:\r\nnaïve crème\r\n".encode(codec)


async def test_characters_the_encoding_lacks_are_refused(desktop: Desktop, folder: Folder) -> None:
    path = folder.put("latin1.txt", "café\n".encode("latin-1"))
    error = await fails(editor(desktop), command="str_replace", path=path, old_str="é", new_str="€")
    assert error == (
        f"No change was made: {path} is stored as Latin-1, which cannot hold the character '€'"
        " (U+20AC). Use characters that Latin-1 has."
    )
    assert folder.read("latin1.txt") == "café\n".encode("latin-1")


async def test_permissions_survive_edits(desktop: Desktop, folder: Folder) -> None:
    path = folder.put("run.sh", b"#!/bin/sh\necho hi\n")
    (folder.host / "run.sh").chmod(0o755)
    await ok(editor(desktop), command="str_replace", path=path, old_str="hi", new_str="hello")
    assert stat.S_IMODE((folder.host / "run.sh").stat().st_mode) == 0o755
    assert sorted(p.name for p in folder.host.iterdir()) == ["run.sh"]  # no temporary file left


async def test_parallel_edits_of_one_file_all_apply(desktop: Desktop, folder: Folder) -> None:
    path = folder.put("f.txt", "".join(f"k{n}=0\n" for n in range(20)).encode())
    tool = editor(desktop)
    results = await asyncio.gather(
        *(
            tool.run(
                tool.name,
                {
                    "command": "str_replace",
                    "path": path,
                    "old_str": f"k{n}=0",
                    "new_str": f"k{n}=1",
                },
            )
            for n in range(20)
        )
    )
    assert all(r.error is None for r in results)
    assert folder.read("f.txt") == "".join(f"k{n}=1\n" for n in range(20)).encode()


# -- bad input -------------------------------------------------------------------------------

NEW = "text_editor_20250728"
OLD = "text_editor_20250124"
NEW_COMMANDS = (
    "The allowed commands for the str_replace_based_edit_tool tool are: view, create,"
    " str_replace, insert"
)
LINE_NUMBER = "a line number (the text goes after it; 0 = at the top)"
BAD_INPUTS: list[tuple[str, object, str]] = [
    (NEW, "not a dict", 'Tool input must be a JSON object; got "not a dict"'),
    (NEW, {"path": "/x"}, f"Parameter `command` is required. {NEW_COMMANDS}"),
    (NEW, {"command": "delete", "path": "/x"}, f"Unrecognized command delete. {NEW_COMMANDS}"),
    (
        OLD,
        {"command": 7, "path": "/x"},
        "Unrecognized command 7. The allowed commands for the str_replace_editor tool are: view,"
        " create, str_replace, insert, undo_edit",
    ),
    (NEW, {"command": "view"}, "Parameter `path` is required for command: view"),
    (
        NEW,
        {"command": "create", "path": "/x"},
        "Parameter `file_text` is required for command: create",
    ),
    (
        NEW,
        {"command": "str_replace", "path": "/x", "new_str": "y"},
        "Parameter `old_str` is required for command: str_replace",
    ),
    (
        NEW,
        {"command": "insert", "path": "/x", "insert_text": "y"},
        "Parameter `insert_line` is required for command: insert",
    ),
    (
        NEW,
        {"command": "insert", "path": "/x", "insert_line": 1, "new_str": "y"},
        "Parameter `new_str` is not accepted by `insert` in text_editor_20250728: the text to"
        " insert goes in `insert_text`.",
    ),
    (
        OLD,
        {"command": "insert", "path": "/x", "insert_line": 1, "insert_text": "y"},
        "Parameter `insert_text` is not accepted by `insert` in text_editor_20250124: the text to"
        " insert goes in `new_str`.",
    ),
    (
        NEW,
        {"command": "insert", "path": "/x", "insert_line": "1", "insert_text": "y"},
        f'Parameter `insert_line` must be {LINE_NUMBER}; got "1".',
    ),
    (
        NEW,
        {"command": "insert", "path": "/x", "insert_line": True, "insert_text": "y"},
        f"Parameter `insert_line` must be {LINE_NUMBER}; got true.",
    ),
    (
        NEW,
        {"command": "insert", "path": "/x", "insert_line": 1, "new_str": "y", "insert_text": "y"},
        'Parameter "new_str" is not accepted by command `insert`; it takes: `path`,'
        " `insert_line`, `insert_text`.",
    ),
    (
        NEW,
        {"command": "view", "path": 5},
        "Parameter `path` must be an absolute path string; got 5.",
    ),
    (
        NEW,
        {"command": "view", "path": ""},
        "Parameter `path` must not be empty; give an absolute path such as /home/user/notes.txt.",
    ),
    (
        NEW,
        {"command": "view", "path": "/x\x00y"},
        "Parameter `path` contains a NUL character (U+0000) at index 2; the editor only handles"
        " text.",
    ),
    (
        NEW,
        {"command": "create", "path": "/x", "file_text": "a\ud800"},
        "Parameter `file_text` contains an unpaired surrogate (U+D800) at index 1, which no file"
        " encoding can store.",
    ),
    (
        NEW,
        {"command": "create", "path": "/x", "file_text": ["a"]},
        'Parameter `file_text` must be a string; got ["a"].',
    ),
    (
        NEW,
        {"command": "view", "path": "/x", "old_str": "y"},
        'Parameter "old_str" is not accepted by command `view`; it takes: `path`, `view_range`.',
    ),
    (
        NEW,
        {"command": "view", "path": "/" + "a" * 5000},
        "Parameter `path` is too long (at most 4096 characters).",
    ),
    (
        NEW,
        {"command": "create", "file_text": 1, "view_range": 2},
        "Parameter `path` is required for command: create\nParameter `file_text` must be a"
        ' string; got 1.\nParameter "view_range" is not accepted by command `create`; it takes:'
        " `path`, `file_text`.",
    ),
]


@pytest.mark.parametrize(("api_type", "tool_input", "message"), BAD_INPUTS)
async def test_bad_input_gets_a_clear_error(
    desktop: Desktop, api_type: str, tool_input: object, message: str
) -> None:
    tool = editor(desktop, api_type)
    result = await tool.run(tool.name, tool_input)
    assert result == ToolResult(error=message)
    assert to_tool_result_block("toolu_1", result)["is_error"] is True


async def test_unknown_tool_name_and_null_parameters(desktop: Desktop, folder: Folder) -> None:
    tool = editor(desktop)
    result = await tool.run("str_replace_editor", {"command": "view", "path": "/"})
    assert result.error == (
        'Unknown tool "str_replace_editor"; this text editor tool is named'
        " 'str_replace_based_edit_tool'"
    )
    path = folder.put("f.txt", b"a\n")
    # null is "not given": view_range null views the whole file, new_str null deletes.
    assert await ok(tool, command="view", path=path, view_range=None) == cat_n(path, ["a"])
    await ok(tool, command="str_replace", path=path, old_str="a\n", new_str=None)
    assert folder.read("f.txt") == b""


# -- property: any input, no exception, nothing lost ----------------------------------------

# Each command's (required, optional) parameters; insert's text goes under the version's name.
SCHEMA = {
    "view": ((), ("view_range",)),
    "create": (("file_text",), ()),
    "str_replace": (("old_str",), ("new_str",)),
    "insert": (("insert_line", "text"), ()),
    "undo_edit": ((), ()),
}
FUZZ_NAMES = ("a.txt", "crlf.txt", "latin1.txt")
FUZZ_CONTENTS = (b"alpha\nbeta\nalpha\n", b"one\r\ntwo\r\n", "café\n".encode("latin-1"))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=30),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
texts = st.sampled_from(
    ["alpha", "beta", "two", "one\ntwo", "caf", "é", "€", "", "\x00", "a\ud800"]
) | st.text(max_size=20)


def mostly(
    strategy: st.SearchStrategy[object], other: st.SearchStrategy[object] = json_values
) -> st.SearchStrategy[object]:
    """`strategy` five times in six, `other` otherwise (one_of would merge repeated branches)."""
    return st.sampled_from([strategy] * 5 + [other]).flatmap(lambda chosen: chosen)


PARAM_VALUES = {
    "view_range": mostly(st.lists(st.integers(-3, 6), min_size=2, max_size=2)),
    "insert_line": mostly(st.integers(-2, 6)),
    **{name: mostly(texts) for name in ("file_text", "old_str", "new_str", "text")},
}


@pytest.fixture(scope="module")
def fuzz_folder(desktop: Desktop) -> Folder:
    host = desktop.home / f"fuzz-{secrets.token_hex(4)}"
    (host / "sub").mkdir(parents=True)
    (host / "link.txt").symlink_to("a.txt")
    return Folder(host, f"{desktop.guest_home}/{host.name}")


def tool_inputs(guest: str, api_type: str) -> st.SearchStrategy[object]:
    """Mostly schema-shaped inputs (so edits do happen), some of any shape at all."""
    text_name = COMMAND_SPECS[api_type].insert_param
    files = st.sampled_from([f"{guest}/{name}" for name in (*FUZZ_NAMES, "link.txt", "new.txt")])
    odd = (f"{guest}/{name}" for name in ("sub", "sub/../a.txt", "missing/x", "a\x00"))
    paths = mostly(files, st.sampled_from([*odd, "a.txt", "~/a.txt", "", "/"]))

    def for_command(command: str) -> st.SearchStrategy[dict[str, object]]:
        required, optional = SCHEMA[command]
        fields = {"command": st.just(command), "path": mostly(paths)}
        fields |= {text_name if k == "text" else k: PARAM_VALUES[k] for k in required}
        extra = {text_name if k == "text" else k: PARAM_VALUES[k] for k in optional}
        return st.fixed_dictionaries(fields, optional=extra)

    shaped = st.sampled_from(list(SCHEMA)).flatmap(for_command)
    keys = st.sampled_from(["command", "path", *PARAM_VALUES, "insert_text", "extra"])
    anything = st.dictionaries(keys | st.text(max_size=5), json_values | paths, max_size=5)
    return mostly(shaped, anything | json_values)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), api_type=st.sampled_from(VERSIONS))
async def test_any_input_gives_a_result_and_errors_change_nothing(
    desktop: Desktop, fuzz_folder: Folder, data: st.DataObject, api_type: str
) -> None:
    for name, content in zip(FUZZ_NAMES, FUZZ_CONTENTS, strict=True):
        fuzz_folder.put(name, content)
    (fuzz_folder.host / "new.txt").unlink(missing_ok=True)
    tool = editor(desktop, api_type)
    await ok(tool, command="str_replace", path=f"{fuzz_folder.guest}/a.txt", old_str="beta")
    fuzz_folder.put("a.txt", FUZZ_CONTENTS[0])  # an undo_edit now has history to refuse to use
    before = {p.name: p.read_bytes() for p in fuzz_folder.host.iterdir() if p.is_file()}
    result = await tool.run(tool.name, data.draw(tool_inputs(fuzz_folder.guest, api_type)))
    event("error" if result.error else "success")
    assert (result.output is None) != (result.error is None)
    assert to_tool_result_block("toolu_1", result)["content"]
    after = {p.name: p.read_bytes() for p in fuzz_folder.host.iterdir() if p.is_file()}
    if result.error is not None:
        assert after == before, result.error
    for name, content in after.items():  # whatever changed is still text in its encoding
        if name in FUZZ_NAMES:
            content.decode("latin-1" if name == "latin1.txt" else "utf-8")
    assert not [name for name in os.listdir(fuzz_folder.host) if ".deskhand-" in name]


# -- properties of the text layer (no desktop needed) ---------------------------------------


@given(st.binary(max_size=300))
def test_any_bytes_decode_to_text_that_encodes_back_the_same_or_are_binary(data: bytes) -> None:
    decoded = decode(data)
    if decoded is not None:
        text, encoding = decoded
        assert encoding.encode(text) == data


@given(
    lines=st.lists(st.text(alphabet="ab \t\r", max_size=4), min_size=1, max_size=8),
    crlf=st.lists(st.booleans(), min_size=8, max_size=8),
    data=st.data(),
)
def test_matches_ignore_line_ending_kinds(
    lines: list[str], crlf: list[bool], data: st.DataObject
) -> None:
    raw = "".join(line + ("\r\n" if crlf[i] else "\n") for i, line in enumerate(lines))
    flat = raw.replace("\r\n", "\n")
    start = data.draw(st.integers(0, len(flat)))
    old = flat[start : data.draw(st.integers(start, len(flat)))]
    needle = old.replace("\r\n", "\n")  # what old_str means, whatever endings it was sent with
    if needle:
        spans = find_spans(raw, old, 100)
        assert len(spans) == min(flat.count(needle), 100)
        assert all(raw[s:e].replace("\r\n", "\n") == needle for s, e in spans)
