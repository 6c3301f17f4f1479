"""Host-side client of the guest protocol: one small async API over a local or remote guest.

`Computer` is all the host knows about a desktop: screen size, raw frames, input events with
settle, cursor position, programs. It talks to the guest over a Unix socket (local sandbox) or TCP
(container or remote VM) with the same framing and the same token handshake, like an httpx
client over swappable transports.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from deskhand import wire
from deskhand.framebuf import FRAME_FILE, FrameFileError, SharedFrameReader
from deskhand.guest import settle
from deskhand.guest.events import InputEvent, Sleep

CONNECT_TIMEOUT = 10.0
DEFAULT_DEADLINE = 60.0  # seconds a guest may take for one operation before it counts as lost
DEADLINE_MARGIN = 30.0  # added to operations that wait on purpose (sleeps, commands)
MAX_SCREEN_SIDE = 16384


class GuestError(RuntimeError):
    """The guest refused or failed an operation (`code` is bad_request, internal, auth...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class GuestConnectionLost(GuestError):
    def __init__(self, detail: str = "the guest closed the connection") -> None:
        super().__init__("connection_lost", detail)


@dataclass(frozen=True)
class Frame:
    """A raw screen frame: BGRA pixels, shape (height, width, 4)."""

    pixels: npt.NDArray[np.uint8]

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


@dataclass(frozen=True)
class SettleParams:
    """How the guest decides the screen has settled (see deskhand.guest.settle)."""

    quiet_ms: float = settle.DEFAULT_QUIET_MS
    grace_ms: float = settle.DEFAULT_GRACE_MS
    max_ms: float = settle.DEFAULT_MAX_MS

    def as_args(self) -> dict[str, float]:
        return {"quiet_ms": self.quiet_ms, "grace_ms": self.grace_ms, "max_ms": self.max_ms}


@dataclass(frozen=True)
class RunResult:
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool


class GuestConnection:
    """One authenticated stream to a guest; requests may overlap and are matched by id."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[wire.Message]] = {}
        self._write_lock = asyncio.Lock()
        self._reader_task: asyncio.Task[None] | None = None

    @classmethod
    async def open_unix(cls, path: Path, token: str) -> GuestConnection:
        reader, writer = await asyncio.wait_for(
            asyncio.open_unix_connection(path, limit=2**20), CONNECT_TIMEOUT
        )
        return await cls(reader, writer)._handshake(token)

    @classmethod
    async def open_tcp(cls, host: str, port: int, token: str) -> GuestConnection:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, limit=2**20), CONNECT_TIMEOUT
        )
        return await cls(reader, writer)._handshake(token)

    async def _handshake(self, token: str) -> GuestConnection:
        await wire.write_message(
            self._writer, {"op": "hello", "token": token, "protocol": wire.PROTOCOL_VERSION}
        )
        try:
            reply = await asyncio.wait_for(wire.read_message(self._reader), CONNECT_TIMEOUT)
        except asyncio.IncompleteReadError:
            raise GuestConnectionLost("the guest closed the connection during handshake") from None
        if not reply.header.get("ok"):
            self._writer.close()
            error = reply.header.get("error") or {}
            raise GuestError(error.get("code", "auth"), error.get("message", "handshake refused"))
        self._reader_task = asyncio.create_task(self._read_replies())
        return self

    async def _read_replies(self) -> None:
        """Match replies to calls until the stream ends; then fail every call still waiting.

        Replies come from inside the sandbox and are not trusted: anything malformed ends the
        connection instead of the reader, so no call is left waiting forever.
        """
        error: GuestError = GuestConnectionLost()
        try:
            while True:
                message = await wire.read_message(self._reader)
                request_id = message.header.get("id")
                future = self._pending.pop(request_id, None) if type(request_id) is int else None
                if future is not None and not future.done():
                    future.set_result(message)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except Exception as exc:
            error = GuestConnectionLost(f"protocol error: {exc}")
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(error)
            self._pending.clear()
            self._writer.close()

    async def call(
        self, op: str, blob: bytes = b"", deadline: float = DEFAULT_DEADLINE, /, **args: Any
    ) -> tuple[dict[str, Any], bytes]:
        """Run one operation; `blob` is an optional binary request body (e.g. file contents).

        `op`, `blob` and `deadline` are positional-only, so every keyword is an argument of the
        operation. A guest that does not answer within `deadline` seconds (stopped, hung, or
        hostile) is treated as lost: the connection is closed and GuestConnectionLost raised.
        """
        if self._reader_task is None or self._reader_task.done() or self._writer.is_closing():
            raise GuestConnectionLost()
        request_id = next(self._ids)
        future: asyncio.Future[wire.Message] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            async with self._write_lock:
                if self._writer.is_closing():  # the guest went away while we waited our turn
                    raise GuestConnectionLost()
                await wire.write_message(
                    self._writer, {"id": request_id, "op": op, "args": args}, blob
                )
            message = await asyncio.wait_for(future, deadline)
        except TimeoutError:
            self._writer.close()
            raise GuestConnectionLost(
                f"the guest did not answer {op} within {deadline:g} s"
            ) from None
        except ConnectionError as exc:
            raise GuestConnectionLost(str(exc)) from exc
        finally:
            self._pending.pop(request_id, None)
            if future.done() and not future.cancelled():
                future.exception()  # the reader may have failed it after we stopped waiting
            else:
                future.cancel()
        header = message.header
        if not header.get("ok"):
            error = header.get("error")
            if not isinstance(error, dict):
                error = {}
            raise GuestError(str(error.get("code", "internal")), str(error.get("message", "")))
        result = header.get("result", {})
        if not isinstance(result, dict):
            raise GuestError("bad_reply", f"{op} answered with a {type(result).__name__}")
        return result, message.blob

    async def close(self) -> None:
        if self._reader_task is not None:
            self._reader_task.cancel()
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()


class Computer:
    """Typed operations on one desktop through its guest."""

    def __init__(self, connection: GuestConnection, frames_dir: Path | None = None) -> None:
        self.connection = connection
        self._frames = SharedFrameReader(frames_dir, FRAME_FILE) if frames_dir else None
        self._grab_lock = asyncio.Lock()  # one shared frame file: one grab at a time

    async def health(self) -> dict[str, Any]:
        result, _ = await self.connection.call("health")
        return result

    async def size(self) -> tuple[int, int]:
        result, _ = await self.connection.call("screen.size")
        return int(result["width"]), int(result["height"])

    async def screenshot(self, cursor: bool = True) -> Frame:
        """The whole screen at native resolution (with the pointer drawn in unless cursor=False)."""
        if self._frames is None:
            result, blob = await self.connection.call("screen.grab", cursor=cursor)
            width, height = _frame_size(result)
            if len(blob) != width * height * 4:
                raise GuestError("bad_frame", "the frame's size does not match its pixels")
            return Frame(np.frombuffer(blob, dtype=np.uint8).reshape(height, width, 4))
        async with self._grab_lock:
            result, _ = await self.connection.call(
                "screen.grab", cursor=cursor, shm=self._frames.name
            )
            try:
                # In a thread: a hostile guest must not be able to stall the event loop.
                pixels = await asyncio.to_thread(self._frames.read, *_frame_size(result))
            except FrameFileError as exc:  # only a misbehaving guest gets here
                raise GuestError("bad_frame", str(exc)) from exc
            return Frame(pixels)

    async def apply(
        self, events: Sequence[InputEvent], settle: SettleParams | None = None
    ) -> dict[str, Any]:
        """Inject events in order; with `settle`, also wait until the screen is quiet again."""
        sleeps = sum(event.seconds for event in events if isinstance(event, Sleep))
        waits = sleeps + (settle.max_ms / 1000 if settle else 0)
        result, _ = await self.connection.call(
            "input.apply",
            b"",
            DEFAULT_DEADLINE + waits,
            events=[event.model_dump() for event in events],
            settle=settle.as_args() if settle else None,
        )
        return result

    async def settle(self, params: SettleParams) -> dict[str, Any]:
        result, _ = await self.connection.call("screen.settle", **params.as_args())
        return dict(result["settle"])

    async def cursor_position(self) -> tuple[int, int]:
        result, _ = await self.connection.call("input.cursor")
        return int(result["x"]), int(result["y"])

    async def run(
        self, argv: Sequence[str], timeout: float = 30, env: dict[str, str] | None = None
    ) -> RunResult:
        """Run a program inside the sandbox (argv, never a shell string) and wait for it."""
        result, _ = await self.connection.call(
            "proc.run",
            b"",
            timeout + DEADLINE_MARGIN,
            argv=list(argv),
            timeout=timeout,
            env=env or {},
        )
        try:
            return RunResult(
                result["returncode"],
                str(result["stdout"]),
                str(result["stderr"]),
                bool(result["timed_out"]),
            )
        except KeyError as exc:
            raise GuestError("bad_reply", f"proc.run answered without {exc}") from None

    async def launch(self, argv: Sequence[str]) -> int:
        """Start a program on the desktop without waiting for it; returns its PID in the guest."""
        result, _ = await self.connection.call("proc.launch", argv=list(argv))
        return int(result["pid"])

    async def start_vnc(self, view_only: bool = True) -> tuple[str, str]:
        """Start the guest's VNC server; returns (socket file name, password)."""
        result, _ = await self.connection.call("vnc.start", view_only=view_only)
        return str(result["socket"]), str(result["password"])

    async def close(self) -> None:
        await self.connection.close()
        if self._frames is not None:
            self._frames.close()


def _frame_size(result: dict[str, Any]) -> tuple[int, int]:
    """The (width, height) a grab reply announces, refused unless it is a plausible screen."""
    width, height = result.get("width"), result.get("height")
    if not (
        type(width) is int
        and type(height) is int
        and 0 < width <= MAX_SCREEN_SIDE
        and 0 < height <= MAX_SCREEN_SIDE
    ):
        raise GuestError("bad_frame", f"implausible frame size {width!r}x{height!r}")
    return width, height
