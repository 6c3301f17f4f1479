"""The VNC bridge at the protocol level: it authenticates to the server with the password (the
browser never sees it), drops input unless a person has the desktop, never passes resize or
power messages, closes on anything it cannot parse, and records what a person did without the
text they typed. Checked against a scripted RFB 3.8 server on a socket pair."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable

import pytest

from deskhand.web.rfb import BridgeStats, HumanRecorder, RfbError, bridge, vnc_response

PASSWORD = "s3cret!x"
CHALLENGE = bytes(range(16))


class FakeServer:
    """An RFB 3.8 server that wants VNC authentication and records the client's messages."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.authenticated = asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"RFB 003.008\n")
        assert await reader.readexactly(12) == b"RFB 003.008\n"
        writer.write(b"\x01\x02")  # one security type: VNC authentication
        assert await reader.readexactly(1) == b"\x02"
        writer.write(CHALLENGE)
        ok = await reader.readexactly(16) == vnc_response(PASSWORD, CHALLENGE)
        writer.write(struct.pack(">I", 0 if ok else 1))
        if not ok:
            writer.close()
            return
        assert await reader.readexactly(1) == b"\x01"  # ClientInit: shared
        writer.write(b"SERVERINIT")
        self.authenticated.set()
        while chunk := await reader.read(4096):
            self.received += chunk


class Browser:
    """The browser's side: what it sent, what it got."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self.outbox = bytearray()

    async def receive(self) -> bytes:
        return await self.inbox.get()

    async def send(self, data: bytes) -> None:
        self.outbox += data

    def put(self, data: bytes) -> None:
        self.inbox.put_nowait(data)


async def open_bridge(
    allow: Callable[[], bool], password: str = PASSWORD
) -> tuple[FakeServer, Browser, HumanRecorder, BridgeStats, asyncio.Task[None]]:
    server = FakeServer()
    listening = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    upstream = await asyncio.open_connection("127.0.0.1", port)
    browser, recorder, stats = Browser(), HumanRecorder(), BridgeStats()
    task = asyncio.create_task(
        bridge(browser.receive, browser.send, upstream, password, allow, recorder, stats)
    )
    # The browser's handshake, byte for byte as noVNC sends it (in arbitrary chunks).
    browser.put(b"RFB 003")
    browser.put(b".008\n")
    browser.put(b"\x01")  # security type None, which is all the bridge offers
    browser.put(b"\x00")  # ClientInit (not shared): the bridge makes it shared
    return server, browser, recorder, stats, task


def key(keysym: int, down: bool = True) -> bytes:
    return struct.pack(">BBxxI", 4, int(down), keysym)


def pointer(mask: int, x: int, y: int) -> bytes:
    return struct.pack(">BBHH", 5, mask, x, y)


UPDATE_REQUEST = struct.pack(">BBHHHH", 3, 1, 0, 0, 1280, 800)


async def settle(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_the_bridge_authenticates_and_the_browser_never_sees_the_password() -> None:
    server, browser, _, _, task = await open_bridge(lambda: False)
    await asyncio.wait_for(server.authenticated.wait(), 5)
    await settle(lambda: b"SERVERINIT" in browser.outbox)
    # The browser was offered exactly one security type, None, and told it succeeded.
    assert bytes(browser.outbox).startswith(b"RFB 003.008\n\x01\x01\x00\x00\x00\x00")
    assert PASSWORD.encode() not in browser.outbox and CHALLENGE not in browser.outbox
    task.cancel()


async def test_a_wrong_password_fails_closed() -> None:
    _, browser, _, _, task = await open_bridge(lambda: False, password="wrong")
    with pytest.raises(RfbError, match="authentication failed"):
        await asyncio.wait_for(task, 5)
    assert not browser.outbox  # the browser never got past the version


async def test_input_is_dropped_while_the_agent_works_and_passes_when_taken_over() -> None:
    human = False
    server, browser, recorder, stats, task = await open_bridge(lambda: human)
    await asyncio.wait_for(server.authenticated.wait(), 5)
    browser.put(UPDATE_REQUEST + key(0x61) + pointer(1, 10, 10) + pointer(0, 10, 10))
    browser.put(struct.pack(">BxxxI", 6, 5) + b"hello")  # clipboard
    browser.put(struct.pack(">BxHHBx", 251, 800, 600, 1) + bytes(16))  # SetDesktopSize
    browser.put(struct.pack(">BxBB", 250, 1, 2))  # xvp: reboot
    await settle(lambda: stats.messages_up == 7)
    assert bytes(server.received) == UPDATE_REQUEST  # only the screen update request passed
    assert stats.dropped_input == 4 and recorder.actions == []

    human = True
    typed = b"".join(key(k) + key(k, down=False) for k in b"pass")
    browser.put(pointer(1, 100, 200) + pointer(0, 100, 200) + typed)
    browser.put(key(0xFFE3) + key(0x73) + key(0x73, False) + key(0xFFE3, False))  # ctrl+s
    browser.put(struct.pack(">BxHHBx", 251, 800, 600, 1) + bytes(16))  # still never
    await settle(lambda: len(server.received) == len(UPDATE_REQUEST) + 12 + 64 + 32)
    assert bytes(server.received).startswith(UPDATE_REQUEST + pointer(1, 100, 200))
    actions = [{k: v for k, v in a.items() if k != "time"} for a in recorder.take()]
    assert actions == [
        {"action": "left_click", "x": 100, "y": 200},
        {"action": "type", "chars": 4},  # how many, never which
        {"action": "key", "key": "ctrl+s"},
    ]
    task.cancel()


async def test_an_unknown_message_closes_the_bridge() -> None:
    server, browser, _, _, task = await open_bridge(lambda: True)
    await asyncio.wait_for(server.authenticated.wait(), 5)
    browser.put(b"\x63garbage")
    with pytest.raises(RfbError, match="unknown client message type 99"):
        await asyncio.wait_for(task, 5)


def test_the_recorder_names_drags_scrolls_and_other_buttons() -> None:
    recorder = HumanRecorder()
    recorder.pointer(1, 10, 10)
    recorder.pointer(1, 50, 60)
    recorder.pointer(0, 90, 100)
    recorder.pointer(16, 5, 5)
    recorder.pointer(0, 5, 5)
    recorder.pointer(16, 5, 5)
    recorder.pointer(0, 5, 5)
    recorder.pointer(4, 7, 8)
    recorder.pointer(0, 7, 8)
    recorder.key(True, 0xFF0D)
    recorder.key(True, 0x01000000 + ord("é"))
    actions = [{k: v for k, v in a.items() if k != "time"} for a in recorder.actions]
    assert actions == [
        {"action": "left_click_drag", "x": 10, "y": 10, "to_x": 90, "to_y": 100},
        {"action": "scroll", "direction": "down", "x": 5, "y": 5, "amount": 2},
        {"action": "right_click", "x": 7, "y": 8},
        {"action": "key", "key": "Return"},
        {"action": "type", "chars": 1},
    ]
