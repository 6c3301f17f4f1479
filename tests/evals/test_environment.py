"""Reset between tasks: the task's programs end, the home folder is pristine again, the setup
is applied, the desktop itself (Xvfb, WM, panel, guest) keeps running. Timings are printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskhand.evals.environment import SetupError, TaskEnvironment, ere_escape
from deskhand.evals.results import percentile
from deskhand.evals.tasks import Task, parse_task

pytestmark = pytest.mark.desktop


async def windows(env: TaskEnvironment) -> list[str]:
    script = "for w in $(xdotool search --onlyvisible --name .); do xdotool getwindowname $w; done"
    result = await env.live.computer.run(["bash", "-c", script])
    return result.stdout.splitlines()


async def zombies(env: TaskEnvironment) -> int:
    result = await env.live.computer.run(["ps", "-eo", "stat="])
    return sum(line.startswith("Z") for line in result.stdout.splitlines())


async def test_setup_places_files_runs_commands_and_launches_apps(
    env: TaskEnvironment, tasks: dict[str, Task]
) -> None:
    await env.reset(tasks["editor-note"])
    assert (env.live.home / "notes.txt").read_text() == "first line\n"
    assert any("notes.txt" in title for title in await windows(env))
    await env.reset(tasks["shell-sum"])
    assert (env.live.home / "data/numbers.txt").read_text() == "3\n4\n35\n"


async def test_reset_ends_apps_restores_home_and_keeps_the_desktop(
    env: TaskEnvironment, tasks: dict[str, Task]
) -> None:
    await env.reset(tasks["editor-note"])
    desktop = env.live
    # What a task may leave behind: files, a changed dotfile, windows, background jobs, shell
    # state, a folder replaced by a symlink to the host.
    (desktop.home / "left-over.txt").write_text("x")
    (desktop.home / ".config/openbox/menu.xml").write_text("broken")
    await desktop.computer.launch(["xterm", "-T", "left-over-window"])
    await desktop.computer.connection.call(
        "shell.run",
        session="default",
        command="cd /tmp; export LEFT=1; (sleep 300 &)",
        timeout=10,
        max_output=1000,
    )
    await desktop.computer.run(["xdotool", "search", "--sync", "--name", "left-over-window"])
    before = desktop.process.pid
    await env.reset(tasks["shell-sum"])
    assert desktop is env.live and desktop.process.pid == before and await env.healthy()
    assert not (desktop.home / "left-over.txt").exists()
    assert (desktop.home / ".config/openbox/menu.xml").read_text() != "broken"
    titles = await windows(env)
    assert not any("left-over" in t or "notes.txt" in t for t in titles), titles
    # Nothing of the task is left, not even as a zombie: the guest reaps what exits.
    procs = await desktop.computer.run(["ps", "-eo", "stat=,comm="])
    names = [line.split()[1] for line in procs.stdout.splitlines()]
    assert "sleep" not in names and "mousepad" not in names and "xterm" not in names
    assert {"Xvfb", "openbox", "tint2"} <= set(names)
    shell = await desktop.computer.connection.call(
        "shell.run",
        session="default",
        command="echo $PWD:${LEFT:-unset}",
        timeout=10,
        max_output=1000,
    )
    assert "/home/user:unset" in str(shell[0])


async def test_reset_speed(env: TaskEnvironment, tasks: dict[str, Task]) -> None:
    """Correctness only; the numbers are printed (the benchmark records them). The apps the
    setups start leave no zombies behind (the guest reaps them)."""
    zombies_before = await zombies(env)
    totals = []
    for _ in range(3):
        for task in tasks.values():
            times = await env.reset(task)
            totals.append(times.total)
            print(
                f"reset {task.id}: end apps {times.end_apps:.3f} s, home {times.home:.3f} s, "
                f"setup {times.setup:.3f} s"
            )
    print(f"reset p50 {percentile(totals, 50):.3f} s, p95 {percentile(totals, 95):.3f} s")
    assert await env.healthy()
    assert await zombies(env) <= zombies_before


async def test_wait_for_window_takes_a_literal_title_substring(env: TaskEnvironment) -> None:
    title = "Register - shop (test) v1.2 [a|b] $5"
    task = parse_task(
        {
            "id": "odd-title",
            "instruction": "x",
            "category": "terminal",
            "skills": ["bash"],
            "max_steps": 1,
            "setup": {
                "launch": [{"argv": ["xterm", "-T", title]}],
                "wait_for_window": "shop (test) v1.2 [a|b] $",
            },
            "checker": {"name": "file_exists", "args": {"path": "x"}},
        },
        Path("odd-title.yaml"),
    )
    await env.reset(task)
    assert any(title in t for t in await windows(env))
    missing = task.model_copy(
        update={"setup": task.setup.model_copy(update={"wait_for_window": "shop (test) v1.3"})}
    )
    with pytest.raises(SetupError, match="no window"):
        await env._wait_window(["--name", ere_escape("shop (test) v1.3")], missing, seconds=1)
