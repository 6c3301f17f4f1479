"""Keys sent right after a click reach the clicked window, even when the window manager is slow
to give it the focus: the guest waits (boundedly) for the focus before it answers the click.

The window manager is made slow for real: openbox is stopped (SIGSTOP) while the click happens
and continued 1 s later (longer than a loaded CI machine once kept it waiting). Without the
wait, the keys that follow go to the window that still has the focus, a second xterm, and the
file stays empty.
"""

from __future__ import annotations

import asyncio
import secrets

from deskhand.guest.events import Button, Key, Move, Text
from deskhand.sandbox.desktop import Desktop

STALL_S = 1.0
CONTROL_L = 0xFFE3


async def xterm(desktop: Desktop, title: str, command: str, geometry: str) -> tuple[int, str]:
    """Start an xterm running `command`; its PID and window id once it is visible."""
    pid = await desktop.computer.launch(
        ["xterm", "-T", title, "-geometry", geometry, "-e", "sh", "-c", command]
    )
    found = await desktop.computer.run(
        ["xdotool", "search", "--sync", "--onlyvisible", "--name", title], timeout=30
    )
    assert found.returncode == 0, found
    return pid, found.stdout.split()[0]


async def centre(desktop: Desktop, window: str) -> tuple[int, int]:
    shape = await desktop.computer.run(["xdotool", "getwindowgeometry", "--shell", window])
    geometry = dict(line.split("=", 1) for line in shape.stdout.split())
    return (
        int(geometry["X"]) + int(geometry["WIDTH"]) // 2,
        int(geometry["Y"]) + int(geometry["HEIGHT"]) // 2,
    )


async def focus_of(desktop: Desktop) -> str:
    return (await desktop.computer.run(["xdotool", "getwindowfocus"])).stdout.strip()


async def test_keys_after_a_click_reach_the_clicked_window_when_the_wm_is_slow(
    desktop: Desktop,
) -> None:
    token = secrets.token_hex(4)
    out = desktop.home / f"focus-{token}.txt"
    target_pid, target = await xterm(
        desktop, f"focus-target-{token}", f"cat > {out.name}", "50x6+100+100"
    )
    decoy_pid, decoy = await xterm(desktop, f"focus-decoy-{token}", "sleep 60", "50x6+600+400")
    try:
        for _ in range(100):  # the newest window gets the focus: the decoy
            if await focus_of(desktop) == decoy:
                break
            await asyncio.sleep(0.05)
        assert await focus_of(desktop) == decoy
        x, y = await centre(desktop, target)

        async def continue_openbox() -> None:
            await asyncio.sleep(STALL_S)
            await desktop.computer.run(["pkill", "-CONT", "-x", "openbox"])

        await desktop.computer.run(["pkill", "-STOP", "-x", "openbox"])
        resume = asyncio.create_task(continue_openbox())
        try:
            clicked = await desktop.computer.apply(
                [Move(x=x, y=y), Button(button=1, down=True), Button(button=1, down=False)]
            )
            await desktop.computer.apply([Text(text="after the click\n")])
        finally:
            await resume
        for _ in range(100):
            if out.exists() and out.read_text() == "after the click\n":
                break
            await asyncio.sleep(0.05)
        assert out.read_text() == "after the click\n", clicked
        assert clicked["focus_wait_ms"] >= STALL_S * 1000 * 0.5, clicked
        # A click where the focus already is costs nothing.
        again = await desktop.computer.apply([Move(x=x, y=y + 5), Button(button=1, down=True)])
        await desktop.computer.apply([Button(button=1, down=False)])
        assert again["focus_wait_ms"] < 100, again
        # openbox focuses on unmodified presses only: a ctrl+click leaves the focus where it
        # is, so the guest does not wait for it.
        decoy_x, decoy_y = await centre(desktop, decoy)
        modified = await desktop.computer.apply(
            [
                Move(x=decoy_x, y=decoy_y),
                Key(keysym=CONTROL_L, down=True),
                Button(button=1, down=True),
                Button(button=1, down=False),
                Key(keysym=CONTROL_L, down=False),
            ]
        )
        assert "focus_wait_ms" not in modified, modified
        assert await focus_of(desktop) == target
    finally:
        await desktop.computer.run(["pkill", "-CONT", "-x", "openbox"])
        await desktop.computer.run(["kill", str(target_pid), str(decoy_pid)])
