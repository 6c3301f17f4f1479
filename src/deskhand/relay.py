"""Byte relays between streams (VNC from the sandbox to a loopback port or the web UI).

Hand-written because it is a dozen lines over asyncio streams; a proxy library would add a
dependency for no gain.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

Opener = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def splice(
    a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    b: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    """Copy bytes both ways until either side closes, then close both."""
    await asyncio.gather(_pump(a[0], b[1]), _pump(b[0], a[1]))
    for _, writer in (a, b):
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def relay_to(
    open_target: Opener,
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """A connection handler (for asyncio.start_server) that splices each client to a new target."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            target = await open_target()
        except OSError:
            writer.close()
            return
        await splice((reader, writer), target)

    return handle
