"""The bash tool against a real sandboxed desktop: what the model sees, bad input, hostile commands.

Most tests share the session's desktop, each in its own shell session restarted first. Fork bombs,
memory hogs and floods run inside the sandbox and must leave the desktop and the host responsive;
the last test stops a desktop of its own and checks on the host that nothing the shell started
(setsid, nohup, double-forked, GUI) survives it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deskhand.guest import processes
from deskhand.sandbox.desktop import Desktop, DesktopOptions
from deskhand.tools.bash import BashTool
from deskhand.tools.results import ToolResult, to_tool_result_block

pytestmark = pytest.mark.desktop

MARKER = re.compile(r"\[\.\.\. ([\d,]+) characters omitted \.\.\.\]")


async def fresh(desktop: Desktop, session: str, **options: Any) -> BashTool:
    """A bash tool on its own shell session, restarted so that earlier tests leave nothing."""
    tool = BashTool(desktop.computer, session=session, **options)
    assert (await tool.run("bash", {"restart": True})).system == "tool has been restarted."
    return tool


async def output(tool: BashTool, command: str) -> str:
    result = await tool.run("bash", {"command": command})
    assert result.error is None, result
    return result.output or ""


@pytest.fixture
async def bash(desktop: Desktop) -> AsyncIterator[BashTool]:
    yield await fresh(desktop, "tools", timeout=1)


def guest_rss_kib(desktop: Desktop) -> int:
    """Resident memory of the guest daemon, read from the host."""
    for pid in processes.descendants(desktop.process.pid):
        try:
            if b"deskhand.guest" in Path(f"/proc/{pid}/cmdline").read_bytes():
                status = Path(f"/proc/{pid}/status").read_text()
                return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
        except OSError:
            continue
    raise AssertionError("guest daemon not found")


# --- the contract ------------------------------------------------------------------------------


@pytest.mark.parametrize("api_type", ["bash_20241022", "bash_20250124"])
def test_both_versions_share_one_implementation(desktop: Desktop, api_type: str) -> None:
    tool = BashTool(desktop.computer, api_type)
    assert tool.name == "bash"
    assert tool.definition() == {"type": api_type, "name": "bash"}


@pytest.mark.parametrize("api_type", ["bash_20990101", "text_editor_20250728"])
def test_other_tool_types_are_refused(desktop: Desktop, api_type: str) -> None:
    with pytest.raises(ValueError, match="bash"):
        BashTool(desktop.computer, api_type)


async def test_state_persists_across_calls_and_tool_instances(
    desktop: Desktop, bash: BashTool
) -> None:
    assert await output(bash, "mkdir -p work && cd work && export GREETING=hi; COUNT=1") == ""
    assert await output(bash, "COUNT=$((COUNT + 1)); echo $PWD $GREETING $COUNT") == (
        f"{desktop.guest_home}/work hi 2"
    )
    # A later user message may build new tool objects: the session's shell is the same.
    again = BashTool(desktop.computer, "bash_20241022", session="tools")
    assert await output(again, "echo $PWD $COUNT") == f"{desktop.guest_home}/work 2"


async def test_stdout_stderr_and_a_failing_status_all_reach_the_model(bash: BashTool) -> None:
    result = await bash.run("bash", {"command": "echo out; echo err >&2; ls /nonexistent"})
    assert result.error is None and result.system is None
    assert result.output == (
        "out\n[stderr]\nerr\nls: cannot access '/nonexistent': No such file or directory\n"
        "[exit status 2]"
    )
    block = to_tool_result_block("id", result)
    assert "is_error" not in block  # a command's failure is reported, not a tool error
    assert await output(bash, "true") == ""
    assert to_tool_result_block("id", await bash.run("bash", {"command": "true"}))["content"] == [
        {"type": "text", "text": "(no output)"}
    ]


async def test_unknown_commands_read_like_bash(bash: BashTool) -> None:
    result = await bash.run("bash", {"command": "no-such-program --flag"})
    assert result.output == (
        "[stderr]\nbash: no-such-program: command not found\n[exit status 127]"
    )


async def test_timeout_interrupts_and_the_shell_stays_usable(bash: BashTool) -> None:
    await output(bash, "cd /tmp; KEPT=yes")
    start = time.monotonic()
    result = await bash.run("bash", {"command": "echo partial; sleep 60"})
    assert 1 <= time.monotonic() - start < 4
    assert result.output == "partial"
    assert result.error is not None and result.error.startswith("timed out:")
    assert "interrupted" in result.error and "still running" in result.error
    assert to_tool_result_block("id", result)["is_error"] is True
    assert await output(bash, "echo $PWD $KEPT") == "/tmp yes"


async def test_a_hung_shell_is_replaced_and_the_model_is_told(bash: BashTool) -> None:
    await output(bash, "cd /tmp; GONE=1")
    result = await bash.run("bash", {"command": "trap '' INT; while :; do :; done"})
    assert result.error is not None and "timed out" in result.error
    assert "new shell was started in /tmp" in result.error
    assert await output(bash, 'echo "$PWD [$GONE]"') == "/tmp []"


async def test_exit_is_reported_and_a_new_shell_follows(bash: BashTool) -> None:
    await output(bash, "cd /tmp")
    result = await bash.run("bash", {"command": "exit 4"})
    assert result.error is None
    assert result.output == "[exit status 4]"
    assert result.system is not None and "exited with status 4" in result.system
    assert await output(bash, "pwd") == "/tmp"


async def test_long_output_keeps_its_head_and_tail(desktop: Desktop) -> None:
    bash = await fresh(desktop, "tools")
    text = await output(bash, "seq 1 200000")
    full = "".join(f"{i}\n" for i in range(1, 200001))
    match = MARKER.search(text)
    assert match is not None
    first, last = text[: match.start()], text[match.end() + 1 :]  # the marker has its own line
    assert full.startswith(first) and full.endswith(f"{last}\n")  # the final newline is trimmed
    assert first.startswith("1\n2\n3\n") and last.endswith("199999\n200000")
    assert len(first) + len(last) <= 30_000
    omitted = int(match.group(1).replace(",", ""))
    assert omitted == len(full) - len(first) - len(last) - 1


async def test_invalid_utf8_binary_and_escapes_are_shown_safely(bash: BashTool) -> None:
    text = await output(bash, r"printf '\xff\xfe|\e[31mred\e[0m \e]0;title\a|\x00\x01'")
    assert text == "\\xff\\xfe|red |\\x00\\x01"
    binary = await output(bash, "head -c 3000 /usr/bin/bash")
    assert binary.startswith("\\x7fELF") and "\x00" not in binary


async def test_background_jobs_and_stdin_readers_return_at_once(bash: BashTool) -> None:
    start = time.monotonic()
    pid = await output(bash, "sleep 100 & echo $!")
    assert await output(bash, "cat; read -r line; echo read=$?") == "read=1"
    assert time.monotonic() - start < 5  # output() also fails on a timed-out call
    assert await output(bash, f"kill -0 {pid} && echo alive") == "alive"


async def test_gui_programs_started_from_bash_appear_on_the_desktop(
    desktop: Desktop,
) -> None:
    bash = await fresh(desktop, "gui", timeout=15)
    before = (await desktop.computer.screenshot()).pixels
    assert await output(bash, "echo $DISPLAY") == desktop.display
    found = await output(
        bash,
        "xterm -T bash-tool-window -geometry 60x20+100+100 2>/dev/null & "
        "xdotool search --sync --name bash-tool-window",
    )
    assert re.fullmatch(r"\d+", found), found
    await asyncio.sleep(0.3)
    after = (await desktop.computer.screenshot()).pixels
    assert np.count_nonzero((before != after).any(axis=2)) > 10_000  # a whole window's worth
    await bash.run("bash", {"restart": True})  # and restarting closes it
    gone = await desktop.computer.run(["xdotool", "search", "--name", "bash-tool-window"])
    assert gone.stdout.strip() == ""


async def test_restart_gives_a_fresh_shell(desktop: Desktop, bash: BashTool) -> None:
    await output(bash, "cd /tmp; X=1")
    restarted = await bash.run("bash", {"restart": True})
    assert restarted == ToolResult(system="tool has been restarted.")
    block = to_tool_result_block("id", restarted)
    assert block["content"] == [
        {"type": "text", "text": "<system>tool has been restarted.</system>"}
    ]
    assert await output(bash, 'echo "$PWD [$X]"') == f"{desktop.guest_home} []"
    both = await bash.run("bash", {"restart": True, "command": "echo ran"})
    assert both == ToolResult(output="ran", system="tool has been restarted.")


# --- bad input ---------------------------------------------------------------------------------

BAD_INPUT = [
    ("no-command", {}, "no command provided."),
    ("null-command", {"command": None}, "no command provided."),
    ("blank-command", {"command": "  \n"}, "no command provided."),
    ("restart-false", {"restart": False}, "no command provided."),
    ("not-an-object", "ls", "must be a JSON object"),
    ("list", ["ls"], "must be a JSON object"),
    ("command-number", {"command": 5}, "command must be a string"),
    ("command-list", {"command": ["ls", "-l"]}, "command must be a string"),
    ("restart-string", {"restart": "true"}, "restart must be true or false"),
    ("restart-number", {"restart": 1}, "restart must be true or false"),
    ("unknown-param", {"command": "ls", "timeout": 5}, '"timeout" is not a parameter of bash'),
    ("key-not-string", {1: "ls"}, "parameter names must be strings"),
    ("nul", {"command": "echo a\x00b"}, "NUL character at index 6"),
    ("surrogate", {"command": "echo \ud83d"}, "lone surrogate (U+D83D) at index 5"),
    ("huge", {"command": "#" * 1_000_001}, "1,000,001 bytes long; the limit is 1,000,000"),
]


@pytest.mark.parametrize(
    ("tool_input", "words"), [b[1:] for b in BAD_INPUT], ids=[b[0] for b in BAD_INPUT]
)
async def test_bad_input_gets_a_clear_error_and_loses_nothing(
    bash: BashTool, tool_input: object, words: str
) -> None:
    await output(bash, "KEPT=1")
    result = await bash.run("bash", tool_input)
    assert result.error is not None and words.lower() in result.error.lower(), result.error
    assert result.output is None
    assert await output(bash, "echo $KEPT") == "1"


async def test_a_wrong_tool_name_is_refused(bash: BashTool) -> None:
    result = await bash.run("shell", {"command": "true"})
    assert result.error == "Unknown tool \"shell\"; this bash tool is named 'bash'"


async def test_guest_refusals_become_error_results(desktop: Desktop) -> None:
    tool = BashTool(desktop.computer, session="not a valid name")
    result = await tool.run("bash", {"command": "true"})
    assert result.error is not None
    assert result.error.startswith("The desktop could not run the command: ")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
KEYS = st.sampled_from(["command", "restart", "cmd", "timeout", ""]) | st.text(max_size=10)
COMMANDS = st.sampled_from(["echo hi", "false", "cd /tmp", "sleep 5", "exit 1", "ls"]) | st.text(
    max_size=40
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    tool_input=st.fixed_dictionaries(
        {}, optional={"command": COMMANDS | JSON, "restart": st.booleans() | JSON}
    )
    | st.dictionaries(KEYS, JSON | COMMANDS, max_size=4)
    | JSON
)
async def test_fuzzed_input_never_raises(desktop: Desktop, tool_input: object) -> None:
    tool = BashTool(desktop.computer, session="fuzz", timeout=0.5)
    result = await tool.run("bash", tool_input)
    assert isinstance(result, ToolResult) and result.image is None
    for text in (result.output, result.error, result.system):
        assert text is None or not re.search(r"Traceback \(most|object at 0x", text), text
    to_tool_result_block("id", result)  # always a valid block


# --- hostile commands inside the sandbox ------------------------------------------------------


async def test_a_fork_bomb_is_contained(desktop: Desktop) -> None:
    bash = await fresh(desktop, "bomb", timeout=5)
    start = time.monotonic()
    notes = []
    result = await bash.run("bash", {"command": ":(){ :|:& };:"})
    while time.monotonic() - start < 20:
        notes += [text for text in (result.error, result.system) if text]
        if any("fork bomb" in note for note in notes):
            break
        await asyncio.sleep(0.2)
        result = await bash.run("bash", {"command": "echo ok"})
    assert any("fork bomb" in note for note in notes), notes
    assert await output(bash, "echo ok") == "ok"
    count = await output(bash, "ls /proc | grep -c '^[0-9]'")
    assert int(count) < 40  # every bomb process is gone, zombies included
    assert (await desktop.computer.health())["ok"]
    assert (await desktop.computer.screenshot()).width == 1280


async def test_a_memory_hog_fails_inside_and_the_desktop_lives(desktop: Desktop) -> None:
    bash = await fresh(desktop, "hog", timeout=30)
    result = await bash.run("bash", {"command": "python3 -c 'x = bytearray(30 * 2**30)'"})
    assert result.error is None
    assert result.output is not None and "MemoryError" in result.output
    assert result.output.endswith("[exit status 1]")
    assert int(await output(bash, "ulimit -d")) <= 8 * 1024 * 1024
    assert (await desktop.computer.health())["ok"]


async def test_a_flood_is_capped_and_memory_stays_bounded(desktop: Desktop) -> None:
    bash = await fresh(desktop, "flood", timeout=1)
    rss_before = guest_rss_kib(desktop)
    flood = await bash.run("bash", {"command": "yes"})
    assert flood.error is not None and flood.error.startswith("timed out:")
    assert flood.output is not None and MARKER.search(flood.output)
    assert len(flood.output) < 30_100
    piped = await output(bash, "yes | head -c 5000000")  # 5 MB: far past the cap, well within 1 s
    assert MARKER.search(piped) and len(piped) < 30_100
    assert guest_rss_kib(desktop) - rss_before < 50_000


async def test_nothing_the_shell_started_outlives_the_desktop() -> None:
    desk = await Desktop.start(DesktopOptions(width=640, height=480))
    try:
        bash = BashTool(desk.computer, timeout=10)
        await output(
            bash,
            "setsid sleep 301 & nohup sleep 302 >/dev/null 2>&1 & (sleep 303 &); sleep 304 &"
            " xterm -T outlive 2>/dev/null & xdotool search --sync --name outlive >/dev/null",
        )
        pids = processes.descendants(desk.process.pid)
        names = {Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] for pid in pids}
        started = [
            pid for pid in pids if b"sleep\x0030" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(started) == 4 and b"xterm" in names
    finally:
        await desk.stop()
    assert await asyncio.to_thread(all_gone, pids)


def all_gone(pids: list[int], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while any(Path(f"/proc/{pid}").exists() for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
