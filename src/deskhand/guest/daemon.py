"""The guest daemon: runs inside the sandbox, starts the desktop and serves the guest protocol.

Start-up contract with the host (see deskhand.sandbox.desktop):
- the token arrives as the first line on stdin (never in argv, the environment or a file);
- stdin stays open for the host's lifetime: end-of-file means the host is gone, so the guest
  shuts the desktop down (parent death with or without a sandbox, crash included);
- when the desktop and the socket are ready, one JSON line goes to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from deskhand import __version__, wire
from deskhand.guest import apps, processes
from deskhand.guest.service import GuestService
from deskhand.guest.session import DesktopSession, SessionConfig
from deskhand.safety.egress.inside import CHROMIUM_PROXY_FLAGS, PROXY_URL, start_relay

log = logging.getLogger("deskhand.guest")
HELLO_TIMEOUT = 5.0


class GuestServer:
    def __init__(self, service: GuestService, token: str) -> None:
        self.service = service
        self.token = token
        self.stopping = asyncio.Event()

    async def handle_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        write_lock = asyncio.Lock()
        tasks: set[asyncio.Task[None]] = set()
        try:
            if not await self._hello(reader, writer):
                return
            while True:
                message = await reader_message(reader)
                if message is None:
                    return
                task = asyncio.create_task(self._answer(message, writer, write_lock))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except wire.ProtocolError as exc:
            log.warning("closing connection: %s", exc)
        finally:
            for task in tasks:
                task.cancel()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _hello(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        try:
            message = await asyncio.wait_for(reader_message(reader), HELLO_TIMEOUT)
        except TimeoutError:
            return False
        header = message.header if message else {}
        token = header.get("token")
        if (
            header.get("op") != "hello"
            or not isinstance(token, str)
            or not hmac.compare_digest(token.encode(), self.token.encode())
        ):
            await wire.write_message(writer, {"ok": False, "error": _error("auth", "bad token")})
            return False
        await wire.write_message(
            writer,
            {"ok": True, "result": {"protocol": wire.PROTOCOL_VERSION, "guest": __version__}},
        )
        return True

    async def _answer(
        self, message: wire.Message, writer: asyncio.StreamWriter, lock: asyncio.Lock
    ) -> None:
        header = message.header
        request_id = header.get("id")
        op = header.get("op")
        blob: bytes | memoryview = b""
        try:
            if op == "shutdown":
                self.stopping.set()
                reply: dict[str, Any] = {"ok": True, "result": {}}
            else:
                handler = self.service.handlers.get(op) if isinstance(op, str) else None
                if handler is None:
                    known = ", ".join(sorted(self.service.handlers))
                    raise LookupError(f"unknown operation {op!r}; known: {known}")
                args = header.get("args", {})
                if not isinstance(args, dict):
                    raise TypeError("args must be an object")
                if message.blob:  # a request body goes to ops whose arguments declare `blob`
                    args = {**args, "blob": message.blob}
                result, blob = await handler(args)
                reply = {"ok": True, "result": result}
        except ValidationError as exc:
            reply = {"ok": False, "error": _error("bad_request", _short(exc))}
        except (LookupError, TypeError, ValueError) as exc:
            reply = {"ok": False, "error": _error("bad_request", str(exc))}
        except Exception as exc:
            log.exception("operation %s failed", op)
            reply = {"ok": False, "error": _error("internal", f"{type(exc).__name__}: {exc}")}
        async with lock:
            with contextlib.suppress(ConnectionError):
                await wire.write_message(writer, {"id": request_id, **reply}, blob)


async def reader_message(reader: asyncio.StreamReader) -> wire.Message | None:
    try:
        return await wire.read_message(reader)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


def _error(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def _short(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'args'}: {e['msg']}" for e in exc.errors()[:5]
    )


async def _watch_stdin(stopping: asyncio.Event) -> None:
    """Stop when the host closes our stdin (it exited or crashed)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass
    stopping.set()


async def serve(
    config: SessionConfig,
    socket_path: Path,
    frames_dir: Path | None,
    token: str,
    egress_socket: Path | None = None,
) -> None:
    # Orphans re-parented to the guest (a subreaper) are collected as they exit, for as long as
    # anything of the desktop may run: until the session has stopped.
    reaper = asyncio.create_task(processes.reap_orphans_forever())
    relay: asyncio.Server | None = None
    try:
        if egress_socket is not None:
            # Before anything starts: the relay owns 127.0.0.1:3128 before any program could.
            relay = await start_relay(egress_socket)
            config.proxy_url = PROXY_URL
            apps.use_proxy(CHROMIUM_PROXY_FLAGS)
        await _serve_session(config, socket_path, frames_dir, token)
    finally:
        if relay is not None:
            relay.close()
        reaper.cancel()


async def _serve_session(
    config: SessionConfig, socket_path: Path, frames_dir: Path | None, token: str
) -> None:
    session = await DesktopSession.start(config)
    try:
        service = GuestService(session, socket_path.parent, frames_dir)
        server_state = GuestServer(service, token)
        socket_path.unlink(missing_ok=True)
        server = await asyncio.start_unix_server(server_state.handle_connection, socket_path)
        socket_path.chmod(0o600)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, server_state.stopping.set)
        watcher = asyncio.create_task(_watch_stdin(server_state.stopping))
        ready = {"ready": True, "display": session.display_name, "pid": os.getpid()}
        print(json.dumps(ready), flush=True)
        async with server:
            await server_state.stopping.wait()
        watcher.cancel()
        await service.close()
    finally:
        await session.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="deskhand-guest", description=__doc__)
    parser.add_argument("--display", type=int, required=True)
    parser.add_argument("--size", default="1280x800")
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--home", type=Path, default=Path.home())
    parser.add_argument("--autostart", default="", help="comma-separated app keys")
    parser.add_argument("--frames-dir", type=Path, help="shared tmpfs folder for screen frames")
    parser.add_argument(
        "--egress-socket", type=Path, help="the host egress proxy's socket (relayed to :3128)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="guest %(levelname)s %(message)s")
    processes.become_subreaper()
    processes.make_undumpable()
    token = sys.stdin.readline().strip()
    if not token:
        sys.exit("deskhand-guest: no token on stdin")
    width, height = (int(v) for v in args.size.lower().split("x"))
    config = SessionConfig(
        display=args.display,
        width=width,
        height=height,
        home=args.home,
        autostart=tuple(a for a in args.autostart.split(",") if a),
    )
    asyncio.run(serve(config, args.socket, args.frames_dir, token, args.egress_socket))


if __name__ == "__main__":
    main()
