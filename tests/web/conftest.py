"""Fixtures for the web UI's tests: the Messages-API emulator (shared with tests/emulator)."""

from emulator.conftest import emulator, emulator_server

__all__ = ["emulator", "emulator_server"]
