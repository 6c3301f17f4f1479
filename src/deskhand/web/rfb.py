"""The live view's VNC bridge: the browser's noVNC on one side, the desktop's x11vnc on the other.

The bridge is not a byte pipe. It speaks RFB 3.8 to both ends:

* to x11vnc (through the Unix socket the sandbox serves, see `Desktop.open_inside`) it
  authenticates with the VNC password, which therefore never reaches the browser;
* to the browser it offers "no authentication": the WebSocket it runs on is already
  authenticated by the app (token cookie and Origin check);
* after the handshake it parses every message the browser sends. Input (keys, pointer,
  clipboard) passes only while `allow_input()` says a person has the desktop; otherwise it is
  dropped here, on the host, whatever the page's JavaScript does. Messages that would change
  the server (resize, xvp power actions) never pass, and an unknown message type closes the
  connection (fail closed: its length cannot be known).

While input passes, `HumanRecorder` notes what the person did: clicks and drags with their
screen coordinates, key combinations, scrolls, and how many characters they typed (never the
text: a person who takes over to log in types a password).
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

VERSION = b"RFB 003.008\n"
MAX_CUT_TEXT = 1 << 20
MAX_ENCODINGS = 1024

Receive = Callable[[], Awaitable[bytes]]
Send = Callable[[bytes], Awaitable[None]]


class RfbError(Exception):
    """The peer broke the protocol or refused us; the bridge closes."""


def vnc_response(password: str, challenge: bytes) -> bytes:
    """VNC authentication: the challenge DES-encrypted with the password (8 bytes, each byte's
    bits reversed, as the original VNC did). Three equal keys make triple DES single DES."""
    key = bytes(int(f"{b:08b}"[::-1], 2) for b in password.encode("latin-1")[:8].ljust(8, b"\0"))
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()  # noqa: S305 (the protocol)
    return encryptor.update(challenge) + encryptor.finalize()


class ByteReader:
    """Exact reads over a source of chunks (WebSocket messages)."""

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.buffer = bytearray()

    async def read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = await self.receive()
            if not chunk:
                raise EOFError
            self.buffer += chunk
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data


async def upstream_handshake(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, password: str
) -> None:
    """Authenticate to the VNC server; after this the next bytes it expects are ClientInit."""
    version = await reader.readexactly(12)
    if not version.startswith(b"RFB 003."):
        raise RfbError(f"not a VNC server: {version!r}")
    writer.write(VERSION)
    (count,) = await reader.readexactly(1)
    if count == 0:
        (length,) = struct.unpack(">I", await reader.readexactly(4))
        reason = await reader.readexactly(min(length, 4096))
        raise RfbError(f"the VNC server refused: {reason.decode(errors='replace')}")
    types = await reader.readexactly(count)
    if 2 in types:
        writer.write(b"\x02")
        challenge = await reader.readexactly(16)
        writer.write(vnc_response(password, challenge))
    elif 1 in types:
        writer.write(b"\x01")
    else:
        raise RfbError(f"no security type we support among {list(types)}")
    await writer.drain()
    (result,) = struct.unpack(">I", await reader.readexactly(4))
    if result != 0:
        raise RfbError("VNC authentication failed")


async def browser_handshake(client: ByteReader, send: Send) -> bytes:
    """Offer the browser RFB 3.8 without authentication; returns its ClientInit."""
    await send(VERSION)
    version = await client.read(12)
    if not version.startswith(b"RFB 003."):
        raise RfbError("not a VNC client")
    await send(b"\x01\x01")  # one security type: None
    if await client.read(1) != b"\x01":
        raise RfbError("the client chose a security type we did not offer")
    await send(struct.pack(">I", 0))  # SecurityResult OK
    return await client.read(1)


# keysym -> name, for the record of what a person pressed (printable keys are only counted).
KEY_NAMES = {
    0xFF08: "BackSpace",
    0xFF09: "Tab",
    0xFF0D: "Return",
    0xFF1B: "Escape",
    0xFFFF: "Delete",
    0xFF50: "Home",
    0xFF51: "Left",
    0xFF52: "Up",
    0xFF53: "Right",
    0xFF54: "Down",
    0xFF55: "Page_Up",
    0xFF56: "Page_Down",
    0xFF57: "End",
    0xFF63: "Insert",
    0xFF8D: "KP_Enter",
    **{0xFFBE + i: f"F{i + 1}" for i in range(12)},
}
MODIFIERS = {
    0xFFE3: "ctrl",
    0xFFE4: "ctrl",
    0xFFE9: "alt",
    0xFFEA: "alt",
    0xFFE7: "alt",
    0xFFE8: "alt",
    0xFFEB: "super",
    0xFFEC: "super",
    0xFE03: "alt",  # ISO_Level3_Shift (AltGr): typing, but counted as a modifier
}
SHIFTS = {0xFFE1, 0xFFE2}


def _printable(keysym: int) -> str | None:
    if 0x20 <= keysym <= 0x7E or 0xA0 <= keysym <= 0xFF:
        return chr(keysym)
    if keysym & 0xFF000000 == 0x01000000:
        return chr(keysym & 0x00FFFFFF)
    return None


@dataclass
class HumanRecorder:
    """What a person does with the desktop, as a list of action dicts in screen pixels."""

    actions: list[dict[str, Any]] = field(default_factory=list)
    _mods: set[str] = field(default_factory=set)
    _mask: int = 0
    _pressed_at: tuple[int, int] | None = None
    _pointer: tuple[int, int] = (0, 0)

    def take(self) -> list[dict[str, Any]]:
        actions, self.actions = self.actions, []
        return actions

    def _add(self, action: dict[str, Any]) -> None:
        action["time"] = round(time.time(), 3)
        self.actions.append(action)

    def key(self, down: bool, keysym: int) -> None:
        if keysym in MODIFIERS:
            (self._mods.add if down else self._mods.discard)(MODIFIERS[keysym])
            return
        if not down or keysym in SHIFTS:
            return
        char = _printable(keysym)
        if char is not None and not self._mods:
            last = self.actions[-1] if self.actions else None
            if last is not None and last["action"] == "type":
                last["chars"] += 1
            else:
                self._add({"action": "type", "chars": 1})
            return
        name = KEY_NAMES.get(keysym) or (char.lower() if char else f"0x{keysym:x}")
        self._add({"action": "key", "key": "+".join([*sorted(self._mods), name])})

    def pointer(self, mask: int, x: int, y: int) -> None:
        pressed = mask & ~self._mask
        released = self._mask & ~mask
        self._mask = mask
        self._pointer = (x, y)
        for bit, direction in ((8, "up"), (16, "down"), (32, "left"), (64, "right")):
            if pressed & bit:
                last = self.actions[-1] if self.actions else None
                if last and last["action"] == "scroll" and last["direction"] == direction:
                    last["amount"] += 1
                else:
                    self._add({"action": "scroll", "direction": direction, "x": x, "y": y})
                    self.actions[-1]["amount"] = 1
        if pressed & 2:
            self._add({"action": "middle_click", "x": x, "y": y})
        if pressed & 4:
            self._add({"action": "right_click", "x": x, "y": y})
        if pressed & 1:
            self._pressed_at = (x, y)
        if released & 1 and self._pressed_at is not None:
            sx, sy = self._pressed_at
            self._pressed_at = None
            if abs(sx - x) + abs(sy - y) > 6:
                self._add({"action": "left_click_drag", "x": sx, "y": sy, "to_x": x, "to_y": y})
            else:
                self._add({"action": "left_click", "x": x, "y": y})


INPUT_TYPES = {4, 5, 6, 255}  # key, pointer, clipboard, QEMU extended key


async def _message(client: ByteReader) -> tuple[int, bytes]:
    """One client-to-server message, whole: (type, bytes)."""
    head = await client.read(1)
    kind = head[0]
    if kind == 0:  # SetPixelFormat
        return kind, head + await client.read(19)
    if kind == 2:  # SetEncodings
        rest = await client.read(3)
        (count,) = struct.unpack(">H", rest[1:])
        if count > MAX_ENCODINGS:
            raise RfbError("too many encodings")
        return kind, head + rest + await client.read(4 * count)
    if kind == 3:  # FramebufferUpdateRequest
        return kind, head + await client.read(9)
    if kind == 4:  # KeyEvent
        return kind, head + await client.read(7)
    if kind == 5:  # PointerEvent
        return kind, head + await client.read(5)
    if kind == 6:  # ClientCutText (a negative length is the extended clipboard format)
        rest = await client.read(7)
        (length,) = struct.unpack(">i", rest[3:])
        if abs(length) > MAX_CUT_TEXT:
            raise RfbError("clipboard text too long")
        return kind, head + rest + await client.read(abs(length))
    if kind == 150:  # EnableContinuousUpdates
        return kind, head + await client.read(9)
    if kind == 248:  # ClientFence
        rest = await client.read(8)
        return kind, head + rest + await client.read(rest[7])
    if kind == 250:  # xvp
        return kind, head + await client.read(3)
    if kind == 251:  # SetDesktopSize
        rest = await client.read(7)
        return kind, head + rest + await client.read(16 * rest[5])
    if kind == 255:  # QEMU client message; only the extended key event is known
        rest = await client.read(1)
        if rest[0] != 0:
            raise RfbError(f"unknown QEMU message {rest[0]}")
        return kind, head + rest + await client.read(10)
    raise RfbError(f"unknown client message type {kind}")


def _record(recorder: HumanRecorder, kind: int, data: bytes) -> None:
    if kind == 4:
        down, keysym = data[1] != 0, struct.unpack(">I", data[4:8])[0]
        recorder.key(down, keysym)
    elif kind == 5:
        mask, x, y = struct.unpack(">BHH", data[1:6])
        recorder.pointer(mask, x, y)
    elif kind == 255:
        down, keysym = struct.unpack(">HI", data[2:8])
        recorder.key(down != 0, keysym)
    elif kind == 6:
        recorder._add({"action": "paste", "chars": max(0, len(data) - 8)})


@dataclass
class BridgeStats:
    bytes_down: int = 0  # screen updates sent to the browser
    messages_up: int = 0
    dropped_input: int = 0


async def bridge(
    receive: Receive,
    send: Send,
    upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    password: str,
    allow_input: Callable[[], bool],
    recorder: HumanRecorder,
    stats: BridgeStats | None = None,
) -> None:
    """Run one browser's VNC session until either side closes."""
    stats = stats or BridgeStats()
    reader, writer = upstream
    client = ByteReader(receive)
    try:
        await upstream_handshake(reader, writer, password)
        await browser_handshake(client, send)  # the browser's ClientInit is replaced:
        writer.write(b"\x01")  # always shared, so other viewers of the run stay connected
        await writer.drain()

        async def down() -> None:
            while chunk := await reader.read(65536):
                stats.bytes_down += len(chunk)
                await send(chunk)

        async def up() -> None:
            while True:
                kind, data = await _message(client)
                stats.messages_up += 1
                if kind in (250, 251):
                    continue  # power actions and resizing: never
                if kind in INPUT_TYPES:
                    if not allow_input():
                        stats.dropped_input += 1
                        continue
                    _record(recorder, kind, data)
                writer.write(data)
                await writer.drain()

        tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                error = task.exception()
                if error is not None and not isinstance(
                    error, EOFError | ConnectionError | asyncio.IncompleteReadError
                ):
                    raise error
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        writer.close()
