"""Fixtures: a private Xvfb per test, the programs on it, and the guest's X helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deskhand.guest.capture import ScreenCapture
from deskhand.guest.settle import SettleWatcher
from deskhand.guest.xinput import InputInjector

from .xclients import Apps, xvfb


@pytest.fixture
def display() -> Iterator[str]:
    """A fresh 1280x800x24 Xvfb for this test alone, e.g. ":3"."""
    with xvfb() as name:
        yield name


@pytest.fixture
def apps(display: str, tmp_path: Path) -> Iterator[Apps]:
    launcher = Apps(display, tmp_path)
    try:
        yield launcher
    finally:
        launcher.stop_all()


@pytest.fixture
def injector(display: str) -> Iterator[InputInjector]:
    with InputInjector(display) as injector:
        yield injector


@pytest.fixture
def capture(display: str) -> Iterator[ScreenCapture]:
    with ScreenCapture(display) as capture:
        yield capture


@pytest.fixture
def watcher(display: str) -> Iterator[SettleWatcher]:
    with SettleWatcher(display) as watcher:
        yield watcher
