"""Every checker can pass and can fail, on a real desktop (files read through the guest)."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from deskhand.evals.checkers import REGISTRY, CheckContext, run_checker
from deskhand.evals.environment import TaskEnvironment
from deskhand.evals.site import SiteServer
from deskhand.evals.tasks import CheckerSpec, Task

from .conftest import SITE_DIR

pytestmark = pytest.mark.desktop


async def verdict(ctx: CheckContext, name: str, **args: Any) -> bool:
    result = await run_checker(CheckerSpec(name=name, args=args), ctx)
    assert result.detail  # every verdict explains itself
    return result.passed


@pytest.fixture
async def ctx(env: TaskEnvironment, tasks: dict[str, Task]) -> CheckContext:
    await env.reset(tasks["shell-sum"])  # a clean home, no apps, an empty request log
    home = env.live.home
    (home / "result.txt").write_text("The answer is 391.\nsecond line\n")
    (home / "data.json").write_text(json.dumps({"cart": {"items": [{"sku": "A7", "qty": 2}]}}))
    return env.context()


async def test_file_checkers_pass_and_fail(ctx: CheckContext) -> None:
    assert await verdict(ctx, "file_exists", path="result.txt")
    assert not await verdict(ctx, "file_exists", path="missing.txt")
    assert await verdict(ctx, "file_absent", path="missing.txt")
    assert not await verdict(ctx, "file_absent", path="result.txt")
    assert await verdict(ctx, "file_contains", path="result.txt", text="391")
    assert not await verdict(ctx, "file_contains", path="result.txt", text="392")
    assert not await verdict(ctx, "file_contains", path="missing.txt", text="391")
    text = "The answer is 391.\nsecond line\n"
    assert await verdict(ctx, "file_equals", path="result.txt", text=text)
    assert not await verdict(ctx, "file_equals", path="result.txt", text=text.strip())
    assert await verdict(ctx, "file_equals", path="result.txt", text=text.strip(), strip=True)
    assert await verdict(ctx, "file_matches", path="/home/user/result.txt", regex=r"^second")
    assert not await verdict(ctx, "file_matches", path="result.txt", regex=r"^answer")
    assert await verdict(ctx, "file_json", path="data.json", key="cart.items.0.qty", expected=2)
    assert not await verdict(ctx, "file_json", path="data.json", key="cart.items.0.qty", expected=3)
    assert not await verdict(ctx, "file_json", path="data.json", key="cart.total", expected=1)
    assert not await verdict(ctx, "file_json", path="result.txt", key="", expected=1)


async def test_files_are_read_as_the_desktop_sees_them(ctx: CheckContext) -> None:
    # A link to a host path means the sandbox's own (masked, empty) /etc/shadow, never the host's.
    (ctx.home / "leak").symlink_to("/etc/shadow")
    assert not await verdict(ctx, "file_contains", path="leak", text="root:")


async def test_command_output_passes_and_fails(ctx: CheckContext) -> None:
    assert await verdict(ctx, "command_output", command="wc -l < ~/result.txt", contains="2")
    assert not await verdict(ctx, "command_output", command="wc -l < ~/result.txt", contains="7")
    assert await verdict(ctx, "command_output", argv=["cat", "result.txt"], regex=r"\b391\b")
    assert not await verdict(ctx, "command_output", argv=["cat", "result.txt"], regex=r"\b39\b")
    assert await verdict(ctx, "command_output", command="test -d ~", returncode=0)
    assert not await verdict(ctx, "command_output", command="exit 3", returncode=0)


async def test_screen_and_window_checkers_pass_and_fail(env: TaskEnvironment) -> None:
    computer = env.live.computer
    await computer.launch(
        [
            "xterm",
            "-T",
            "checker-window",
            "-geometry",
            "40x4+100+100",
            "-fa",
            "DejaVu Sans Mono",
            "-fs",
            "20",
            "-e",
            "sh",
            "-c",
            "echo READY TO CHECK; sleep 60",
        ]
    )
    found = await computer.run(["xdotool", "search", "--sync", "--name", "checker-window"])
    assert found.returncode == 0
    await computer.run(["sleep", "0.5"])
    ctx = env.context()
    assert await verdict(ctx, "window_title", title=r"^checker-win")
    assert not await verdict(ctx, "window_title", title=r"no such window")
    assert await verdict(ctx, "screen_text", text="ready to check")
    assert not await verdict(ctx, "screen_text", text="nowhere on screen")
    assert not await verdict(
        ctx, "screen_text", text="ready to check", region=[900, 600, 1280, 800]
    )


async def test_site_checkers_pass_and_fail(env: TaskEnvironment, ctx: CheckContext) -> None:
    assert env.site is not None
    assert await verdict(ctx, "site_no_request", path="/submit")
    data = b"name=Ada+Lovelace&plan=pro"
    request = urllib.request.Request(f"{env.site.url}/submit", data=data, method="POST")
    await asyncio.to_thread(lambda: urllib.request.urlopen(request, timeout=5).read())
    assert await verdict(
        ctx,
        "site_request",
        path="/submit",
        method="POST",
        form={"name": "Ada Lovelace", "plan": "pro|team"},
    )
    assert not await verdict(ctx, "site_request", path="/submit", form={"name": "Ada"})
    assert not await verdict(ctx, "site_request", path="/submit", method="GET")
    assert not await verdict(ctx, "site_no_request", path="/submit")
    assert await verdict(ctx, "site_no_request", path="/submit", method="GET")


async def test_all_and_any_combine(ctx: CheckContext) -> None:
    yes = {"name": "file_exists", "args": {"path": "result.txt"}}
    no = {"name": "file_exists", "args": {"path": "missing.txt"}}
    assert (await run_checker(CheckerSpec.model_validate({"all": [yes, yes]}), ctx)).passed
    assert not (await run_checker(CheckerSpec.model_validate({"all": [yes, no]}), ctx)).passed
    assert (await run_checker(CheckerSpec.model_validate({"any": [no, yes]}), ctx)).passed
    assert not (await run_checker(CheckerSpec.model_validate({"any": [no, no]}), ctx)).passed


def test_every_registered_checker_is_tested_here() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    untested = [name for name in REGISTRY if f'"{name}"' not in source]
    assert not untested, f"add pass and fail cases for {untested}"


def test_the_site_serves_files_records_requests_and_refuses_escapes() -> None:
    with SiteServer(SITE_DIR) as site:
        page = urllib.request.urlopen(f"{site.url}/form.html?x=1", timeout=5)
        assert page.status == 200 and b"<form" in page.read()
        assert "text/html" in page.headers["Content-Type"]
        for path in ("/missing.html", "/../conftest.py", "/%2e%2e/conftest.py"):
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(f"{site.url}{path}", timeout=5)
            assert caught.value.code == 404
        body = json.dumps({"sku": "A7", "qty": 2}).encode()
        post = urllib.request.Request(
            f"{site.url}/api/cart", data=body, headers={"Content-Type": "application/json"}
        )
        assert urllib.request.urlopen(post, timeout=5).status == 200
        first, *_, last = site.requests
        assert (first.method, first.path, first.query) == ("GET", "/form.html", {"x": ["1"]})
        assert (last.method, last.path, last.form) == (
            "POST",
            "/api/cart",
            {"sku": ["A7"], "qty": ["2"]},
        )
        site.clear()
        assert site.requests == []
