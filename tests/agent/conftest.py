"""The Messages-API emulator's fixtures, shared with tests/emulator."""

from emulator.conftest import emulator, emulator_server

__all__ = ["emulator", "emulator_server"]
