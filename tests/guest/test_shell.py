"""The guest's persistent shells: state, streams, timeouts, recovery, clean-up.

These drive `ShellService` in the test process with real bash processes and only harmless
commands; fork bombs and memory hogs are tried inside a sandboxed desktop (tests/tools/test_bash).
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from deskhand.guest.shell import MAX_SESSIONS, ShellService


@pytest.fixture
async def shells(tmp_path: Path) -> AsyncIterator[ShellService]:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "XDG_RUNTIME_DIR": str(runtime),
    }
    service = ShellService(env, tmp_path)
    try:
        yield service
    finally:
        await service.close()


async def run(shells: ShellService, command: str, **args: Any) -> dict[str, Any]:
    """One shell.run request as the protocol delivers it."""
    result, blob = await shells.handlers()["shell.run"]({"command": command, **args})
    assert blob == b""
    return result


async def timed(shells: ShellService, command: str, **args: Any) -> tuple[dict[str, Any], float]:
    start = time.monotonic()
    result = await run(shells, command, **args)
    return result, time.monotonic() - start


def unique() -> str:
    """Digits to tell this test's `sleep` processes apart (`sleep 31.123456`)."""
    return str(secrets.randbelow(900_000) + 100_000)


def sleeping(token: str) -> list[int]:
    """PIDs of this host's `sleep` processes whose argument ends with `token`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"sleep") and len(argv) > 1 and argv[1].endswith(token.encode()):
            found.append(int(entry.name))
    return found


async def all_gone(token: str, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while sleeping(token):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


# --- state and streams -------------------------------------------------------------------------


async def test_state_persists_across_calls(shells: ShellService, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    first = await run(shells, "cd sub && export EXPORTED=1; LOCAL=2; f() { echo fn; }; false")
    assert first["exit_code"] == 1
    second = await run(shells, 'echo "$? $PWD $EXPORTED $LOCAL $(f)"; sh -c "echo $EXPORTED"')
    assert second["stdout"] == f"1 {tmp_path}/sub 1 2 fn\n1"
    assert second["exit_code"] == 0


async def test_stdout_stderr_and_exit_status_are_kept_apart(shells: ShellService) -> None:
    result = await run(
        shells, "echo out; echo err >&2; echo out2; exit_code() { return 7; }; exit_code"
    )
    assert result == {
        "stdout": "out\nout2",
        "stderr": "err",
        "exit_code": 7,
        "timed_out": False,
        "restarted": False,
        "note": None,
    }


async def test_environment_and_limits(shells: ShellService, tmp_path: Path) -> None:
    result = await run(
        shells, "echo $HOME $TERM $PAGER; cat /proc/self/oom_score_adj; ulimit -d; tty"
    )
    home, score, data_kib, tty = result["stdout"].splitlines()
    assert home == f"{tmp_path} dumb cat"
    assert score == "1000"
    assert 0 < int(data_kib) <= 8 * 1024 * 1024
    assert tty == "not a tty"


async def test_stdin_is_empty_so_readers_return_at_once(shells: ShellService) -> None:
    result, seconds = await timed(
        shells, "cat; read -r x; echo read=$?; python3 -c 'input()'", timeout=10
    )
    assert result["stdout"] == "read=1"
    assert "EOFError" in result["stderr"]
    assert seconds < 5  # stdin is /dev/null: nothing waits for the 10 s timeout


async def test_unterminated_quote_and_heredoc_are_errors_not_hangs(shells: ShellService) -> None:
    quote, seconds = await timed(shells, "echo 'unterminated", timeout=10)
    assert seconds < 5  # a syntax error, not a wait for the 10 s timeout
    assert quote["exit_code"] == 2
    assert quote["stderr"].startswith("bash: line 1: unexpected EOF while looking for matching")
    heredoc = await run(shells, "cat <<EOF\nbody")
    assert heredoc["stdout"] == "body"
    assert (await run(shells, "echo fine"))["stdout"] == "fine"


async def test_binary_invalid_utf8_and_escape_sequences_are_neutralised(
    shells: ShellService,
) -> None:
    result = await run(shells, r"printf '\xff\xfe \e[31mred\e[0m \e]0;title\a\x00\x07'")
    assert result["stdout"] == "\\xff\\xfe red \\x00\\x07"


async def test_output_is_capped_keeping_head_and_tail(shells: ShellService) -> None:
    result = await run(shells, "seq 1 200000", max_output=2000)
    out = result["stdout"]
    assert out.startswith("1\n2\n3\n") and out.endswith("199999\n200000")
    match = re.search(r"\[\.\.\. ([\d,]+) characters omitted \.\.\.\]", out)
    assert match and int(match.group(1).replace(",", "")) > 1_200_000
    assert len(out) < 2100


async def test_a_flood_does_not_grow_memory(shells: ShellService) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = await run(shells, "yes | head -c 100000000; echo end", max_output=1000)
    growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert result["stdout"].startswith("y\ny\n") and result["stdout"].endswith("y\nend")
    assert growth_kib < 20_000


async def test_exec_redirections_do_not_hide_the_end_of_a_command(shells: ShellService) -> None:
    assert (await run(shells, "exec 2>&1; echo moved >&2"))["stdout"] == "moved"
    silenced = await run(shells, "exec >/dev/null; echo gone")
    assert silenced["stdout"] == "" and silenced["exit_code"] == 0


async def test_an_interrupted_command_under_set_e_keeps_the_shell(shells: ShellService) -> None:
    assert (await run(shells, "set -e; sleep 5", timeout=0.3))["timed_out"]
    result = await run(shells, "echo status=$?")  # $? is 130 again: set -e must not fire
    assert result["stdout"] == "status=130" and not result["restarted"]


# --- background jobs ---------------------------------------------------------------------------


async def test_background_jobs_do_not_block_and_keep_running(shells: ShellService) -> None:
    token = unique()
    result, seconds = await timed(
        shells,
        f"sleep 31.{token} & nohup sleep 32.{token} >/dev/null 2>&1 & setsid sleep 33.{token} &"
        f" (sleep 34.{token} &); echo started",
    )
    assert result["stdout"] == "started" and seconds < 5  # far below any wait on the jobs
    await asyncio.sleep(0.1)
    assert len(sleeping(token)) == 4


async def test_background_output_shows_up_in_the_next_call(shells: ShellService) -> None:
    await run(shells, "(sleep 0.2; echo late) &")
    await asyncio.sleep(1.5)  # generous: the background echo must have run on a busy machine
    assert (await run(shells, "echo now"))["stdout"] == "late\nnow"


# --- timeouts ----------------------------------------------------------------------------------


async def test_timeout_interrupts_the_command_and_keeps_the_shell(shells: ShellService) -> None:
    await run(shells, "cd /tmp; KEPT=yes")
    result, seconds = await timed(shells, "echo before; sleep 60; echo after", timeout=1)
    assert result["timed_out"] and result["exit_code"] is None
    assert result["stdout"] == "before" and not result["restarted"]
    assert 1 <= seconds < 4
    assert (await run(shells, "echo $PWD $KEPT"))["stdout"] == "/tmp yes"


async def test_a_job_that_starts_after_the_ctrl_c_gets_its_own(shells: ShellService) -> None:
    """Ctrl-C escalates job by job. Here the first job ignores SIGINT and ends on its own, and
    the next one starts after the timeout's SIGINT (as a job forked just as the timeout fires
    does): it gets SIGINT before SIGTERM, so bash abandons the rest of the line. Killed by
    SIGTERM instead, it let bash go on to `echo after`."""
    command = "trap '' INT; sleep 0.8; trap - INT; sleep 60; echo after"
    result, seconds = await timed(shells, command, timeout=0.5)
    assert result["timed_out"] and not result["restarted"]
    assert result["stdout"] == "" and seconds < 4
    assert (await run(shells, "echo still here"))["stdout"] == "still here"


async def test_timeout_abandons_functions_and_loops_like_ctrl_c(shells: ShellService) -> None:
    result = await run(
        shells, "f() { for i in 1 2 3; do sleep 5; done; echo in-f; }; f; echo after", timeout=0.5
    )
    assert result["timed_out"] and result["stdout"] == ""
    looping, seconds = await timed(shells, "while :; do :; done", timeout=0.5)
    assert looping["timed_out"] and not looping["restarted"] and seconds < 4
    assert (await run(shells, "type f >/dev/null && echo still-defined"))["stdout"] == (
        "still-defined"
    )


async def test_a_job_ignoring_sigint_is_terminated(shells: ShellService) -> None:
    result, seconds = await timed(shells, "bash -c 'trap \"\" INT; sleep 30'", timeout=0.5)
    assert result["timed_out"] and not result["restarted"]
    assert seconds < 5  # TERM after the ignored INT, long before the 30 s sleep ends


async def test_an_unresponsive_shell_is_replaced_in_the_same_directory(
    shells: ShellService, tmp_path: Path
) -> None:
    await run(shells, "cd /tmp; GONE=1")
    result = await run(shells, "trap '' INT; while :; do :; done", timeout=0.5)
    assert result["timed_out"] and result["restarted"]
    assert "replaced" in result["note"] and "/tmp" in result["note"]
    assert (await run(shells, 'echo "$PWD [$GONE]"'))["stdout"] == "/tmp []"


async def test_a_late_prompt_from_an_interrupt_does_not_confuse_the_next_call(
    shells: ShellService,
) -> None:
    pid = int((await run(shells, "echo $$"))["stdout"])
    os.kill(pid, 2)  # SIGINT reaching an idle shell: it prints one more prompt
    await asyncio.sleep(0.2)
    assert await run(shells, "echo next") == {
        "stdout": "next",
        "stderr": "",
        "exit_code": 0,
        "timed_out": False,
        "restarted": False,
        "note": None,
    }


# --- the shell going away ----------------------------------------------------------------------


async def test_exit_reports_its_status_and_a_new_shell_takes_over(shells: ShellService) -> None:
    await run(shells, "cd /tmp; sleep 30 &")  # a job holding the pipes must not hide the exit
    result, seconds = await timed(shells, "echo bye; exit 3")
    assert result["stdout"] == "bye" and result["exit_code"] == 3 and result["restarted"]
    assert "exited with status 3" in result["note"] and "/tmp" in result["note"]
    assert seconds < 5  # the sleeping job holding the pipes is not waited for
    assert (await run(shells, "pwd"))["stdout"] == "/tmp"


async def test_set_e_failure_ends_the_shell_with_a_note(shells: ShellService) -> None:
    result = await run(shells, "set -e; false; echo not-reached")
    assert result["exit_code"] == 1 and result["restarted"]
    assert "set -e" in result["note"]
    assert (await run(shells, "echo $-"))["stdout"].count("e") == 0


async def test_restart_gives_a_fresh_shell_and_kills_everything_it_started(
    shells: ShellService, tmp_path: Path
) -> None:
    token = unique()
    await run(
        shells,
        f"cd /tmp; X=1; sleep 41.{token} & setsid sleep 42.{token} & (sleep 43.{token} &);"
        f" nohup sleep 44.{token} >/dev/null 2>&1 &",
    )
    await asyncio.sleep(0.1)
    assert len(sleeping(token)) == 4
    assert await shells.handlers()["shell.restart"]({}) == ({}, b"")
    assert await all_gone(token)
    assert (await run(shells, 'echo "$PWD [$X]"'))["stdout"] == f"{tmp_path} []"


async def test_close_kills_every_session_and_removes_its_files(tmp_path: Path) -> None:
    service = ShellService({"PATH": os.environ["PATH"], "HOME": str(tmp_path)}, tmp_path)
    token = unique()
    await run(service, f"setsid sleep 51.{token} &", session="one")
    await run(service, f"sleep 52.{token} &", session="two")
    await asyncio.sleep(0.1)
    assert len(sleeping(token)) == 2
    await service.close()
    assert await all_gone(token)
    assert not service.workdir.exists()


# --- sessions, concurrency, requests -----------------------------------------------------------


async def test_sessions_are_independent_and_run_in_parallel(shells: ShellService) -> None:
    await run(shells, "NAME=one", session="one")
    start = time.monotonic()
    one, two = await asyncio.gather(
        run(shells, "sleep 1; echo ${NAME:-unset}", session="one"),
        run(shells, "sleep 1; echo ${NAME:-unset}", session="two"),
    )
    assert (one["stdout"], two["stdout"]) == ("one", "unset")
    assert time.monotonic() - start < 1.8  # one after the other would take 2 s


async def test_calls_to_one_session_run_one_after_the_other(shells: ShellService) -> None:
    first, second = await asyncio.gather(
        run(shells, "sleep 0.3; N=1; echo first"), run(shells, "echo second $N")
    )
    assert (first["stdout"], second["stdout"]) == ("first", "second 1")


async def test_a_cancelled_request_does_not_leak_into_the_next(shells: ShellService) -> None:
    request = asyncio.ensure_future(run(shells, "sleep 0.5; echo abandoned"))
    await asyncio.sleep(0.1)
    request.cancel()
    result = await run(shells, "echo next")
    assert result["stdout"] == "next" and not result["restarted"]


@pytest.mark.parametrize(
    "args",
    [
        {"command": "echo a\x00b"},
        {"command": "echo \ud800"},
        {"command": 5},
        {},
        {"command": "true", "timeout": 0},
        {"command": "true", "timeout": "5"},
        {"command": "true", "max_output": 0},
        {"command": "true", "session": "../escape"},
        {"command": "true", "shell": "/bin/sh"},
        {"command": "x" * 1_000_001},
    ],
    ids=lambda args: ",".join(f"{k}={str(v)[:10]!r}" for k, v in args.items()) or "empty",
)
async def test_bad_requests_are_refused(shells: ShellService, args: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        await shells.handlers()["shell.run"](args)


async def test_the_number_of_sessions_is_bounded(shells: ShellService) -> None:
    for index in range(MAX_SESSIONS):
        await run(shells, "true", session=f"s{index}")
    with pytest.raises(ValueError, match="too many shell sessions"):
        await run(shells, "true", session="one-too-many")
