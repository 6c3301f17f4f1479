"""Shared fixtures: real sandboxed desktops (Xvfb + bubblewrap + the guest daemon)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from deskhand.sandbox.desktop import Desktop, DesktopOptions

# A host variable that must never be visible inside a sandbox (checked by the sandbox tests).
os.environ["DESKHAND_TEST_CANARY"] = "host-secret"
# Runs made by tests are indexed in a throwaway place, never in the user's own run index.
os.environ["DESKHAND_HOME"] = tempfile.mkdtemp(prefix="deskhand-test-home-")
# The tests are automation: they consent the way `deskhand run --yes` does.
(Path(os.environ["DESKHAND_HOME"]) / "consent.json").write_text('{"version": 1, "how": "--yes"}')


@pytest.fixture(scope="session")
async def desktop() -> AsyncIterator[Desktop]:
    """One sandboxed 1280x800 desktop shared by the tests that only observe or drive it."""
    desk = await Desktop.start(DesktopOptions(width=1280, height=800))
    try:
        yield desk
    finally:
        await desk.stop()
