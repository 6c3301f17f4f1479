"""The `emulator` fixture: one Messages-API emulator server, reset for every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import Emulator


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture
def emulator(emulator_server: Emulator) -> Emulator:
    """Script turns with `emulator.script.add(...)`, point a client at `emulator.base_url`,
    read what it sent in `emulator.script.exchanges`. Script and prompt cache start empty."""
    emulator_server.reset()
    return emulator_server
