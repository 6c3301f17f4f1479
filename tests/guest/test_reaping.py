"""The guest reaps the orphans it inherits as a subreaper, and only those.

Programs that double-fork, `setsid -f`, or outlive a killed shell are re-parented to the guest;
they must leave the process table when they exit, not stay zombies until the desktop stops. The
guest's own children stay its owners' to collect: their exit codes come back intact and asyncio
never finds one of them reaped behind its back.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import sys
import time

import pytest

from deskhand.sandbox.desktop import Desktop, DesktopOptions

STOLEN = "Unknown child process"  # what asyncio logs when someone else reaped its child


async def guest_pid(desktop: Desktop) -> int:
    """The guest's PID as seen inside the desktop: the parent of what it runs."""
    result = await desktop.computer.run([sys.executable, "-c", "import os; print(os.getppid())"])
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


async def children(desktop: Desktop, guest: int) -> list[tuple[str, str]]:
    """(state, command line) of each child of the guest, the `ps` that looks excluded."""
    result = await desktop.computer.run(["ps", "-o", "stat=,args=", "--ppid", str(guest)])
    rows = [line.strip().split(None, 1) for line in result.stdout.splitlines()]
    return [(row[0], row[1] if len(row) > 1 else "") for row in rows if row[-1:] != ["ps"]]


async def shell(desktop: Desktop, op: str, **args: object) -> None:
    await desktop.computer.connection.call(op, session="reaping", **args)


@pytest.mark.parametrize("sandbox", [True, False], ids=["bubblewrap", "no-sandbox"])
async def test_orphans_are_reaped_and_exit_codes_are_kept(sandbox: bool) -> None:
    desktop = await Desktop.start(
        DesktopOptions(width=640, height=480, sandbox=sandbox, keep_files=True)
    )
    # Long enough to see them run; unique to this run (a --no-sandbox guest shares the host's
    # process table).
    sleep = f"3.{secrets.randbelow(9000) + 1000}"
    try:
        guest = await guest_pid(desktop)
        # Orphans: a background job of a shell that exited, a program that forked itself away
        # (setsid -f)...
        await desktop.computer.launch(["sh", "-c", f"sleep {sleep} & exit 0"])
        await desktop.computer.launch(["setsid", "-f", "sleep", sleep])
        deadline = time.monotonic() + 2
        adopted: list[str] = []
        while len(adopted) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            adopted = [s for s, args in await children(desktop, guest) if args.endswith(sleep)]
        assert [state[0] for state in adopted] == ["S", "S"], adopted  # re-parented, running
        # ...and a job of a persistent shell that was restarted: killed, then re-parented to the
        # guest as a zombie.
        await shell(desktop, "shell.run", command=f"sleep {sleep} &", timeout=10, max_output=100)
        await shell(desktop, "shell.restart")

        # While those exit, the guest's own children keep their real exit status, even when
        # each leaves an orphan behind that exits at about the same time (a reaping pass each).
        codes = range(1, 25)
        results = await asyncio.gather(
            *(
                desktop.computer.run(["sh", "-c", f"sleep 0.0{code % 5} >&- 2>&- & exit {code}"])
                for code in codes
            )
        )
        assert [result.returncode for result in results] == list(codes)

        # No zombie stays: the orphans leave the process table within a moment of their exit.
        deadline = time.monotonic() + float(sleep) + 3
        while True:
            left = await children(desktop, guest)
            if not any(state.startswith("Z") or args.endswith(sleep) for state, args in left):
                break
            assert time.monotonic() < deadline, f"left as children of the guest: {left}"
            await asyncio.sleep(0.1)
        assert {"Xvfb", "openbox", "tint2"} <= {args.split()[0] for _, args in left}
        assert (await desktop.computer.run(["sh", "-c", "exit 42"])).returncode == 42
    finally:
        await desktop.stop()  # its shutdown reaps too: the log below covers it
        log = desktop.log_path.read_text(errors="replace")
        shutil.rmtree(desktop.paths.root, ignore_errors=True)
    assert STOLEN not in log, log
