"""The guest's file operations: bytes in and out, atomic writes, listings, clear failures.

Most tests call the operations' handlers in this process on a real temporary folder, exactly as
the daemon calls them; the last ones go through a real sandboxed guest (the request body on the
wire, and a guest killed in the middle of 200 writes).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import signal
import stat
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from deskhand.computer import GuestConnectionLost, GuestError
from deskhand.guest import processes
from deskhand.guest.files import FileService
from deskhand.sandbox.desktop import Desktop, DesktopOptions

TEMP_NAME = re.compile(r"^\..+\.deskhand-[0-9a-f]{8}\.tmp$")
HANDLERS = FileService(Path("/home/user")).handlers()


async def op(name: str, **args: Any) -> tuple[dict[str, Any], bytes]:
    result, blob = await HANDLERS[name](args)
    return result, bytes(blob)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".deskhand-" in p.name)


# -- read ----------------------------------------------------------------------------------


async def test_read_returns_the_exact_bytes_and_the_real_path(tmp_path: Path) -> None:
    data = b"\xef\xbb\xbfline\r\n\tmore\x00\xff"
    (tmp_path / "f.bin").write_bytes(data)
    (tmp_path / "link").symlink_to("f.bin")
    result, blob = await op("file.read", path=f"{tmp_path}/link", max_bytes=100)
    assert blob == data
    assert result == {"size": len(data), "real_path": str(tmp_path / "f.bin")}


async def test_read_refuses_files_over_the_limit_and_says_their_size(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * 101)
    result, blob = await op("file.read", path=f"{tmp_path}/big", max_bytes=100)
    assert (result["error"], result["size"], blob) == ("too_large", 101, b"")
    result, _ = await op("file.read", path=f"{tmp_path}/big", max_bytes=101)
    assert result["size"] == 101


async def test_read_failures_have_codes(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    os.mkfifo(tmp_path / "fifo")  # must not hang waiting for a writer
    (tmp_path / "dangling").symlink_to("nowhere/at/all")
    (tmp_path / "loop").symlink_to("loop")
    cases = {
        "dir": "is_directory",
        "fifo": "not_regular",
        "missing": "not_found",
        "file/below": "not_directory",
        "loop": "os_error",
    }
    for name, code in cases.items():
        result, _ = await op("file.read", path=f"{tmp_path}/{name}", max_bytes=10)
        assert result["error"] == code, (name, result)
        assert result["message"]
    result, _ = await op("file.read", path=f"{tmp_path}/dangling", max_bytes=10)
    assert result == {
        "error": "not_found",
        "message": "No such file or directory",
        "link_target": "nowhere/at/all",
    }


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
async def test_unreadable_file_is_a_permission_problem(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("x")
    secret.chmod(0)
    result, _ = await op("file.read", path=str(secret), max_bytes=10)
    assert result["error"] == "permission"


# -- write ---------------------------------------------------------------------------------


async def test_replace_keeps_the_mode_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_bytes(b"old")
    script.chmod(0o750)
    inode = script.stat().st_ino
    result, _ = await op("file.write", path=str(script), blob=b"#!/bin/sh\nnew\n")
    assert result == {"size": 14, "real_path": str(script)}
    assert script.read_bytes() == b"#!/bin/sh\nnew\n"
    assert stat.S_IMODE(script.stat().st_mode) == 0o750
    assert script.stat().st_ino != inode  # a new file renamed into place, never rewritten
    assert leftovers(tmp_path) == []


async def test_writing_through_a_symlink_changes_the_target_and_keeps_the_link(
    tmp_path: Path,
) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "config.ini"
    target.write_text("a=1\n")
    link = tmp_path / "config.ini"
    link.symlink_to("real/config.ini")
    result, _ = await op("file.write", path=str(link), blob=b"a=2\n")
    assert result["real_path"] == str(target)
    assert link.is_symlink() and os.readlink(link) == "real/config.ini"
    assert target.read_text() == "a=2\n"
    assert leftovers(tmp_path / "real") == []


async def test_replace_refuses_when_the_file_changed_since_it_was_read(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"edited by someone else")
    result, _ = await op("file.write", path=str(path), blob=b"mine", expected_sha256=sha(b"old"))
    assert result["error"] == "changed"
    assert path.read_bytes() == b"edited by someone else"
    result, _ = await op(
        "file.write", path=str(path), blob=b"mine", expected_sha256=sha(b"edited by someone else")
    )
    assert "error" not in result and path.read_bytes() == b"mine"
    assert leftovers(tmp_path) == []


async def test_replace_needs_an_existing_regular_file(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    for name, code in {"missing": "not_found", "dir": "is_directory"}.items():
        result, _ = await op("file.write", path=f"{tmp_path}/{name}", blob=b"x")
        assert result["error"] == code
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir"]


async def test_create_makes_a_new_file_with_the_umask_mode(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    result, _ = await op("file.write", path=f"{tmp_path}/new.txt", blob=b"hello\n", create=True)
    assert result == {"size": 6, "real_path": str(tmp_path / "new.txt")}
    assert (tmp_path / "new.txt").read_bytes() == b"hello\n"
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o666 & ~umask
    result, _ = await op("file.write", path=f"{tmp_path}/empty", blob=b"", create=True)
    assert (tmp_path / "empty").read_bytes() == b""
    assert leftovers(tmp_path) == []


async def test_create_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "exists.txt").write_bytes(b"keep me")
    (tmp_path / "dir").mkdir()
    (tmp_path / "link").symlink_to("exists.txt")
    for name in ("exists.txt", "dir", "link"):
        result, _ = await op("file.write", path=f"{tmp_path}/{name}", blob=b"x", create=True)
        assert result["error"] == "exists", name
    assert (tmp_path / "exists.txt").read_bytes() == b"keep me"
    assert leftovers(tmp_path) == []


async def test_create_in_a_missing_folder_or_below_a_file_fails(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    cases = {"no/such/dir/f.txt": "not_found", "file/f.txt": "not_directory"}
    for name, code in cases.items():
        result, _ = await op("file.write", path=f"{tmp_path}/{name}", blob=b"x", create=True)
        assert result["error"] == code, name


async def test_create_through_a_dangling_link_creates_its_target(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to("target.txt")
    await op("file.write", path=f"{tmp_path}/link", blob=b"x", create=True)
    assert (tmp_path / "target.txt").read_bytes() == b"x"
    assert (tmp_path / "link").is_symlink()


async def test_long_names_get_short_enough_temporary_names(tmp_path: Path) -> None:
    path = tmp_path / ("é" * 127)  # 254 bytes: the longest name most file systems take
    path.write_bytes(b"old")
    result, _ = await op("file.write", path=str(path), blob=b"new")
    assert "error" not in result and path.read_bytes() == b"new"


# -- list ----------------------------------------------------------------------------------


async def test_list_two_levels_in_name_order_without_hidden_entries(tmp_path: Path) -> None:
    for folder in ("b/deep/deeper", "a", ".hidden/inner", "b/.cache"):
        (tmp_path / folder).mkdir(parents=True)
    for name in ("z.txt", ".env", "a/x.txt", "b/deep/y.txt", ".hidden/inner/s.txt", "b/.k"):
        (tmp_path / name).write_text("x")
    (tmp_path / "ln").symlink_to("b")  # listed, not entered
    result, _ = await op("file.list", path=str(tmp_path))
    assert result["entries"] == [
        {"path": "a", "dir": True},
        {"path": "a/x.txt", "dir": False},
        {"path": "b", "dir": True},
        {"path": "b/deep", "dir": True},
        {"path": "ln", "dir": False},
        {"path": "z.txt", "dir": False},
    ]
    assert (result["total"], result["errors"]) == (6, [])
    deeper, _ = await op("file.list", path=str(tmp_path), depth=3)
    assert {"path": "b/deep/deeper", "dir": True} in deeper["entries"]


async def test_list_caps_entries_but_counts_them_all(tmp_path: Path) -> None:
    for index in range(30):
        (tmp_path / f"f{index:02}").write_text("x")
    result, _ = await op("file.list", path=str(tmp_path), max_entries=10)
    assert [e["path"] for e in result["entries"]] == [f"f{i:02}" for i in range(10)]
    assert result["total"] == 30


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
async def test_list_reports_unreadable_folders(tmp_path: Path) -> None:
    (tmp_path / "locked").mkdir(mode=0)
    try:
        result, _ = await op("file.list", path=str(tmp_path))
    finally:
        (tmp_path / "locked").chmod(0o700)
    assert result["entries"] == [{"path": "locked", "dir": True}]
    assert result["errors"] == [{"path": "locked/", "message": "Permission denied"}]


async def test_list_needs_a_folder(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert (await op("file.list", path=f"{tmp_path}/file"))[0]["error"] == "not_directory"
    assert (await op("file.list", path=f"{tmp_path}/missing"))[0]["error"] == "not_found"


# -- arguments -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("file.read", {"path": "relative.txt", "max_bytes": 10}),
        ("file.read", {"path": "/x\x00y", "max_bytes": 10}),
        ("file.read", {"path": "/x", "max_bytes": -1}),
        ("file.read", {"path": "/x", "max_bytes": "10"}),
        ("file.read", {"path": "/x"}),
        ("file.write", {"path": "/x", "blob": "text is not bytes"}),
        ("file.write", {"path": "/x", "expected_sha256": "abc"}),
        ("file.list", {"path": "/x", "depth": 9}),
        ("file.home", {"extra": 1}),
    ],
)
async def test_bad_arguments_are_refused_before_touching_anything(
    name: str, args: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        await HANDLERS[name](args)


async def test_home_is_reported() -> None:
    assert (await op("file.home"))[0] == {"home": "/home/user"}


# -- through a real sandbox ----------------------------------------------------------------


async def test_request_bodies_reach_file_writes_and_no_other_operation(desktop: Desktop) -> None:
    connection = desktop.computer.connection
    path = f"{desktop.guest_home}/wire-body.bin"
    data = bytes(range(256)) * 1000
    result, _ = await connection.call("file.write", data, path=path, create=True)
    assert result["size"] == len(data)
    assert (desktop.home / "wire-body.bin").read_bytes() == data
    _, blob = await connection.call("file.read", path=path, max_bytes=len(data))
    assert blob == data
    with pytest.raises(GuestError) as refused:
        await connection.call("health", b"unexpected body")
    assert refused.value.code == "bad_request" and "blob" in refused.value.message


def _guest_pid(desktop: Desktop) -> int:
    for pid in processes.descendants(desktop.process.pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"deskhand.guest" in cmdline and b"bwrap" not in cmdline.split(b"\0")[0]:
            return pid
    raise AssertionError("no guest process found")


async def test_killing_the_guest_mid_writes_leaves_every_file_old_or_new() -> None:
    """200 files rewritten at once from A to B; the guest is SIGKILLed after 20 replies."""
    count, size = 200, 64 * 1024
    old = [(f"{i:03} old ".encode() * size)[:size] for i in range(count)]
    new = [(f"{i:03} NEW ".encode() * size)[:size] for i in range(count)]
    desktop = await Desktop.start(DesktopOptions(keep_files=True))
    folder = desktop.home / "atomic"
    try:
        folder.mkdir()
        for index, data in enumerate(old):
            (folder / f"file{index:03}.txt").write_bytes(data)
        connection = desktop.computer.connection
        done: set[int] = set()
        enough = asyncio.Event()

        async def rewrite(index: int) -> None:
            path = f"{desktop.guest_home}/atomic/file{index:03}.txt"
            await connection.call("file.write", new[index], path=path)
            done.add(index)
            if len(done) >= 20:
                enough.set()

        tasks = [asyncio.create_task(rewrite(index)) for index in range(count)]
        await asyncio.wait_for(enough.wait(), 30)
        os.kill(_guest_pid(desktop), signal.SIGKILL)
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        await desktop.stop()
        lost = [o for o in outcomes if isinstance(o, BaseException)]
        assert all(isinstance(o, GuestConnectionLost) for o in lost), lost
        states = []
        for index in range(count):
            data = (folder / f"file{index:03}.txt").read_bytes()
            assert data in (old[index], new[index]), f"file{index:03} is torn"
            if index in done:
                assert data == new[index]  # acknowledged writes are on disk
            states.append(data == new[index])
        assert lost, "every write finished before the kill: the test proved nothing"
        assert not all(states)
        strays = [p.name for p in folder.iterdir() if not p.name.startswith("file")]
        assert all(TEMP_NAME.match(name) for name in strays), strays
    finally:
        await desktop.stop()
        shutil.rmtree(desktop.paths.root, ignore_errors=True)
