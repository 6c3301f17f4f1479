"""Secrets: the vault, placeholders, typing a secret the model never sees, refusing it in bash."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from deskhand.computer import Computer, Frame, GuestError, SettleParams
from deskhand.guest.events import InputEvent, Text
from deskhand.safety.secrets import (
    BASH_REFUSAL,
    SecretError,
    UnknownSecretError,
    Vault,
    VaultFileError,
    find_placeholders,
    placeholder_refusal,
)
from deskhand.sandbox.desktop import Desktop
from deskhand.tools.bash import BashTool
from deskhand.tools.computer import ComputerTool
from deskhand.tools.results import ToolResult, to_tool_result_block
from deskhand.tools.scaling import ScreenGeometry
from deskhand.tools.specs import get_spec

VALUE = "S3cr3t-Pa55w0rd!-über"


def write_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


# -- the vault ---------------------------------------------------------------------------------


def test_load_from_a_toml_file_and_the_environment(tmp_path: Path) -> None:
    file = write_file(tmp_path / "s.toml", 'github_password = "from-file-1"\ndemo = "file-demo"\n')
    env = {"DESKHAND_SECRET_DEMO": "env-demo-value", "DESKHAND_SECRET_API_TOKEN": "tok-123456"}
    vault = Vault.load(file, env=env)
    assert vault.names == ("api_token", "demo", "github_password")
    assert vault.resolve("{{secret:demo}}") == "env-demo-value"  # the environment wins
    assert set(vault.values) == {"from-file-1", "env-demo-value", "tok-123456"}
    assert vault.placeholder("demo") == "{{secret:demo}}"
    assert "from-file-1" not in repr(vault) and "env-demo-value" not in str(vault)


def test_load_from_json_and_the_default_locations(tmp_path: Path) -> None:
    file = write_file(tmp_path / "s.json", json.dumps({"wifi": "correct horse"}))
    assert Vault.load(file, env={}).resolve("{{secret:wifi}}") == "correct horse"
    assert Vault.load(env={"DESKHAND_SECRETS_FILE": str(file)}).names == ("wifi",)
    home = tmp_path / "home"
    home.mkdir()
    assert not Vault.load(env={"DESKHAND_HOME": str(home)})  # no file there: an empty vault
    write_file(home / "secrets.toml", 'mail = "mail-pass"')
    assert Vault.load(env={"DESKHAND_HOME": str(home)}).names == ("mail",)
    with pytest.raises(VaultFileError, match="does not exist"):
        Vault.load(tmp_path / "missing.toml", env={})


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o620])
def test_a_file_others_can_read_or_write_is_refused(tmp_path: Path, mode: int) -> None:
    file = write_file(tmp_path / "s.toml", 'demo = "value-1234"', mode)
    with pytest.raises(VaultFileError, match="chmod 600") as info:
        Vault.load(file, env={})
    assert "value-1234" not in info.value.message


def test_malformed_files_are_refused_without_quoting_a_value(tmp_path: Path) -> None:
    file = write_file(tmp_path / "s.toml", 'demo = "unterminated-secret-value\n')
    with pytest.raises(VaultFileError, match="not valid TOML") as info:
        Vault.load(file, env={})
    assert "unterminated" not in str(info.value)
    write_file(file, "demo = 12345")
    with pytest.raises(VaultFileError, match="not a string"):
        Vault.load(file, env={})
    write_file(tmp_path / "s.json", '["a"]')
    with pytest.raises(VaultFileError, match="table"):
        Vault.load(tmp_path / "s.json", env={})


@pytest.mark.parametrize(
    ("secrets_", "match"),
    [
        ({"GitHub": "value-1234"}, "bad secret name"),
        ({"has-dash": "value-1234"}, "bad secret name"),
        ({"": "value-1234"}, "bad secret name"),
        ({"ok": ""}, "empty"),
        ({"ok": "abc"}, "shorter than"),
        ({"ok": "line\nbreak"}, "control character"),
        ({"ok": "tab\there"}, "control character"),
    ],
)
def test_bad_names_and_values_are_refused(secrets_: dict[str, str], match: str) -> None:
    with pytest.raises(SecretError, match=match) as info:
        Vault(secrets_)
    for value in secrets_.values():
        if len(value) > 3:
            assert value not in info.value.message


def test_bad_environment_names_are_refused() -> None:
    with pytest.raises(SecretError, match="bad secret name"):
        Vault.load(env={"DESKHAND_SECRET_": "value-1234"})


def test_placeholders_are_found_and_resolved() -> None:
    vault = Vault({"user": "alice-smith", "pass": VALUE})
    text = "{{secret:user}}\t{{ secret:pass }}\n{{secret:user}}"
    assert [p.name for p in find_placeholders(text)] == ["user", "pass", "user"]
    assert vault.resolve(text) == f"alice-smith\t{VALUE}\nalice-smith"
    assert vault.resolve("no placeholders {{ at all }}") == "no placeholders {{ at all }}"
    assert vault.mask(f"echo {VALUE}") == "echo {{secret:pass}}"


def test_unknown_placeholders_name_names_never_values() -> None:
    vault = Vault({"demo": VALUE})
    with pytest.raises(UnknownSecretError) as info:
        vault.resolve("{{secret:demo}} {{secret:nope}} {{secret:Bad-Name}}")
    assert info.value.names == ("nope", "Bad-Name")
    assert "{{secret:nope}}" in info.value.message and "{{secret:demo}}" in info.value.message
    assert VALUE not in info.value.message
    with pytest.raises(UnknownSecretError, match="no secrets are configured"):
        Vault().resolve("{{secret:demo}}")
    with pytest.raises(UnknownSecretError):
        vault.placeholder("nope")


def test_the_prompt_lists_names_not_values() -> None:
    vault = Vault({"github_password": VALUE, "github_user": "octocat-1"})
    text = vault.describe_for_prompt()
    assert "{{secret:github_password}}" in text and "{{secret:github_user}}" in text
    assert VALUE not in text and "octocat-1" not in text
    assert Vault().describe_for_prompt() == ""


def test_placeholders_in_shell_commands_are_refused() -> None:
    assert placeholder_refusal("echo hi") is None
    assert placeholder_refusal("curl -u me:{{secret:demo}} x") == BASH_REFUSAL
    assert placeholder_refusal("echo {{ secret:whatever }}") == BASH_REFUSAL


# -- the computer tool, with a fake desktop ----------------------------------------------------


class FakeComputer(Computer):
    """Records input events; answers with a black screen; can be told to fail."""

    def __init__(self, fail: str | None = None) -> None:  # no guest connection
        self.applied: list[list[InputEvent]] = []
        self.fail = fail

    async def size(self) -> tuple[int, int]:
        return 1280, 800

    async def apply(
        self, events: Sequence[InputEvent], settle: SettleParams | None = None
    ) -> dict[str, Any]:
        self.applied.append(list(events))
        if self.fail:
            raise GuestError("internal", self.fail)
        return {"input_ms": 1.0, "settle": {"settled_ms": 1.0}}

    async def screenshot(self, cursor: bool = True) -> Frame:
        return Frame(np.zeros((800, 1280, 4), dtype=np.uint8))


def fake_tool(computer: Computer, vault: Vault | None) -> ComputerTool:
    return ComputerTool(
        computer, get_spec("computer_20251124"), ScreenGeometry(1280, 800), secrets=vault
    )


def everything_the_model_gets(result: ToolResult) -> str:
    block = to_tool_result_block("toolu_01", result)
    return json.dumps(block, ensure_ascii=False) + repr(result)


async def test_typing_a_placeholder_sends_the_value_only_to_the_guest() -> None:
    computer = FakeComputer()
    result = await fake_tool(computer, Vault({"demo": VALUE})).run(
        "computer", {"action": "type", "text": "pw: {{secret:demo}}\n"}
    )
    assert computer.applied == [[Text(text=f"pw: {VALUE}\n")]]
    assert result.error is None and result.image is not None
    assert VALUE not in everything_the_model_gets(result)


async def test_unknown_placeholders_type_nothing() -> None:
    computer = FakeComputer()
    tool = fake_tool(computer, Vault({"demo": VALUE}))
    result = await tool.run("computer", {"action": "type", "text": "{{secret:other}}"})
    assert result.error is not None and "Unknown secret {{secret:other}}" in result.error
    assert "available: {{secret:demo}}" in result.error and "Nothing was typed" in result.error
    assert computer.applied == [] and VALUE not in everything_the_model_gets(result)
    no_vault = await fake_tool(computer, None).run(
        "computer", {"action": "type", "text": "{{secret:demo}}"}
    )
    assert no_vault.error is not None and "no secrets are configured" in no_vault.error
    assert computer.applied == []


async def test_text_without_placeholders_is_typed_as_before() -> None:
    computer = FakeComputer()
    await fake_tool(computer, None).run("computer", {"action": "type", "text": "{{plain}}"})
    assert computer.applied == [[Text(text="{{plain}}")]]


async def test_a_guest_error_quoting_the_text_does_not_leak_the_value() -> None:
    computer = FakeComputer(fail=f"cannot type {VALUE!r}")
    result = await fake_tool(computer, Vault({"demo": VALUE})).run(
        "computer", {"action": "type", "text": "{{secret:demo}}"}
    )
    assert result.error is not None and "secret values are not shown" in result.error
    assert "{{secret:demo}}" in result.error and VALUE not in everything_the_model_gets(result)


async def test_an_unexpected_failure_while_typing_a_secret_carries_no_value() -> None:
    class Broken(FakeComputer):
        async def apply(
            self, events: Sequence[InputEvent], settle: SettleParams | None = None
        ) -> dict[str, Any]:
            raise ValueError(f"boom {events}")

    with pytest.raises(RuntimeError) as info:
        await fake_tool(Broken(), Vault({"demo": VALUE})).run(
            "computer", {"action": "type", "text": "{{secret:demo}}"}
        )
    assert VALUE not in str(info.value)
    assert info.value.__context__ is None and info.value.__cause__ is None


async def test_too_long_once_filled_in_is_refused() -> None:
    computer = FakeComputer()
    long_value = "x" * 60_000
    result = await fake_tool(computer, Vault({"big": long_value})).run(
        "computer", {"action": "type", "text": "{{secret:big}}{{secret:big}}"}
    )
    assert result.error is not None and "once its secrets are filled in" in result.error
    assert computer.applied == []


async def test_bash_refuses_placeholders_before_anything_runs() -> None:
    computer = FakeComputer()  # any call to the guest would fail: it has no connection
    result = await BashTool(computer).run("bash", {"command": "echo {{secret:demo}}"})
    assert result.error == BASH_REFUSAL


# -- end to end, on a real sandboxed desktop ---------------------------------------------------


async def wait_until(check: Callable[[], bool], what: Callable[[], str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {what()}")
        await asyncio.sleep(0.05)


@pytest.mark.desktop
async def test_a_secret_typed_into_a_real_xterm_reaches_the_file_and_nothing_else(
    desktop: Desktop, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    value = "Dh-" + secrets.token_urlsafe(12).replace("-", "x") + "-é"
    vault = Vault.load(env={"DESKHAND_SECRET_DEMO": value})
    tool = await ComputerTool.create(desktop.computer, "computer_20251124", secrets=vault)
    token = secrets.token_hex(4)
    title, out = f"deskhand-secret-{token}", desktop.home / f"secret-{token}.txt"
    xterm = ["xterm", "-u8", "-T", title, "-geometry", "60x8+200+150"]
    xterm += ["-e", "sh", "-c", f"cat > {out.name}"]
    argv = ["sh", "-c", 'export LANG=C.UTF-8 LC_ALL=C.UTF-8; exec "$@"', "sh", *xterm]
    pid = await desktop.computer.launch(argv)
    results: list[ToolResult] = []

    async def act(**tool_input: Any) -> ToolResult:
        result = await tool.run("computer", tool_input)
        assert result.error is None, result.error
        results.append(result)
        return result

    try:
        found = await desktop.computer.run(
            ["xdotool", "search", "--sync", "--onlyvisible", "--name", title], timeout=30
        )
        assert found.returncode == 0, found
        window = found.stdout.split()[0]
        shape = await desktop.computer.run(["xdotool", "getwindowgeometry", "--shell", window])
        geometry = dict(line.split("=", 1) for line in shape.stdout.split())
        centre = tool.geometry.to_model(
            int(geometry["X"]) + int(geometry["WIDTH"]) // 2,
            int(geometry["Y"]) + int(geometry["HEIGHT"]) // 2,
        )
        await wait_until(out.exists, lambda: "cat to create its file", 10)
        await act(action="left_click", coordinate=list(centre))
        await act(action="type", text="{{secret:demo}}")
        await act(action="key", text="Return")
        await wait_until(
            lambda: out.read_text(encoding="utf-8") == value + "\n",
            lambda: f"the file holds {out.read_text(encoding='utf-8')!r}",
            10,
        )
        unknown = await tool.run("computer", {"action": "type", "text": "{{secret:nope}}"})
        assert unknown.error is not None and "Unknown secret" in unknown.error
        results.append(unknown)
        await act(action="key", text="ctrl+d")
    finally:
        await desktop.computer.run(["kill", str(pid)])
    assert out.read_text(encoding="utf-8") == value + "\n"  # unknown placeholder: nothing typed

    # Nothing the model gets, and nothing logged on the host or by the guest, holds the value.
    for result in results:
        assert value not in everything_the_model_gets(result)
        for text in (result.output, result.error, result.system):
            assert text is None or value not in text
    assert value not in caplog.text
    assert value.encode() not in desktop.log_path.read_bytes()
    assert value not in repr(tool.last_timing) and value not in repr(tool.__dict__)
    # The bash tool refuses the placeholder, and a shell in the sandbox has not seen the value.
    bash = BashTool(desktop.computer, session=f"secret-{token}")
    refused = await bash.run("bash", {"command": "echo {{secret:demo}}"})
    assert refused.error == BASH_REFUSAL
    env = await bash.run("bash", {"command": "env; cat ~/.bash_history 2>/dev/null; true"})
    assert env.output is not None and value not in env.output


# -- masking screenshots -----------------------------------------------------------------------


def test_near_matches_allow_a_misread_character_in_six() -> None:
    from deskhand.safety.secrets import _contains_nearly

    assert _contains_nearly("password:hunter2-abc", "hunter2-abc")
    assert _contains_nearly("password:hunter2-abc", "hunterz-abc")  # one misread in 11
    assert not _contains_nearly("password:hxntxr2-abc", "hunter2-abc")  # two: not the value
    assert not _contains_nearly("short", "hunter2-abc")


def render(lines: list[str]) -> bytes:
    import io

    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", 22)
    picture = Image.new("RGB", (900, 60 + 50 * len(lines)), "white")
    draw = ImageDraw.Draw(picture)
    for n, line in enumerate(lines):
        draw.text((30, 30 + 50 * n), line, fill="black", font=font)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def test_mask_secrets_blacks_out_the_lines_that_show_a_value() -> None:
    from deskhand.safety.screening import ocr
    from deskhand.safety.secrets import mask_secrets

    value = "Tr0ub4dor-Horse-88"
    shot = render(["Welcome to the login page", f"$ echo {value}", "Another ordinary line"])
    try:
        before = " ".join(line.text for line in ocr.read_text(shot))
    except ocr.OcrUnavailable as exc:
        pytest.skip(f"no OCR: {exc}")
    assert value in before.replace(" ", "")
    masked = mask_secrets(shot, [value, "not-on-screen-123"])
    assert masked[:8] == b"\x89PNG\r\n\x1a\n" and masked != shot
    after = " ".join(line.text for line in ocr.read_text(masked))
    assert "Tr0ub" not in after and "Horse" not in after
    assert "Welcome" in after and "ordinary" in after  # other lines are left alone
    assert mask_secrets(shot, ["nothing-like-this"]) == shot  # no match: the same bytes
    assert mask_secrets(shot, []) == shot
