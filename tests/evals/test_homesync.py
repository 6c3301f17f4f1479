"""The home reset copies only what changed and never follows a symlink planted in the home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deskhand.evals.homesync import snapshot, sync_tree, write_file


def make_home(root: Path) -> Path:
    home = root / "home"
    (home / ".config/app").mkdir(parents=True)
    (home / ".config/app/settings.ini").write_text("a=1\n")
    (home / "notes.txt").write_text("keep\n")
    os.symlink("notes.txt", home / "link")
    return home


def tree(path: Path) -> dict[str, str]:
    out = {}
    for item in sorted(path.rglob("*")):
        key = str(item.relative_to(path))
        if item.is_symlink():
            out[key] = "-> " + os.readlink(item)
        elif item.is_file():
            out[key] = item.read_text()
        else:
            out[key] = "/"
    return out


def test_restore_undoes_additions_changes_and_removals(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    template = tmp_path / "template"
    snapshot(home, template)
    pristine = tree(home)
    (home / "new.txt").write_text("added")
    (home / ".config/app/settings.ini").write_text("a=2\n")
    (home / "notes.txt").unlink()
    (home / "link").unlink()
    os.symlink("/etc", home / "link")
    (home / "deep/er").mkdir(parents=True)
    assert sync_tree(template, home) > 0
    assert tree(home) == pristine
    assert sync_tree(template, home) == 0  # nothing left to do


def test_a_planted_symlink_is_replaced_not_followed(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    template = tmp_path / "template"
    snapshot(home, template)
    outside = tmp_path / "outside"
    (outside / "app").mkdir(parents=True)
    (outside / "app/settings.ini").write_text("host file\n")
    (outside / "precious").write_text("host data\n")
    # The sandbox replaces ~/.config with a link to a host folder and adds a link to a file.
    import shutil

    shutil.rmtree(home / ".config")
    os.symlink(outside, home / ".config")
    os.symlink(outside / "precious", home / "extra")
    sync_tree(template, home)
    assert (outside / "app/settings.ini").read_text() == "host file\n"
    assert (outside / "precious").read_text() == "host data\n"
    assert not (home / ".config").is_symlink()
    assert (home / ".config/app/settings.ini").read_text() == "a=1\n"
    assert not (home / "extra").exists()


def test_write_file_creates_folders_and_refuses_escapes(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    write_file(home, "a/b/c.txt", b"data", 0o600)
    assert (home / "a/b/c.txt").read_bytes() == b"data"
    assert (home / "a/b/c.txt").stat().st_mode & 0o777 == 0o600
    for bad in ("../x", "/etc/x", ""):
        with pytest.raises(ValueError):
            write_file(home, bad, b"")
    os.symlink(tmp_path, home / "out")
    with pytest.raises(OSError):
        write_file(home, "out/evil.txt", b"x")
    assert not (tmp_path / "evil.txt").exists()
    os.symlink(tmp_path / "target.txt", home / "file-link")
    with pytest.raises(OSError):
        write_file(home, "file-link", b"x")
    assert not (tmp_path / "target.txt").exists()
