"""The guest protocol's framing: small JSON headers with an optional binary body.

One frame on the stream is: a 4-byte big-endian header length, the UTF-8 JSON header, then
`header["blob"]` raw bytes if present (screenshots travel as raw pixels, never as base64 JSON).
The same framing runs over a Unix socket (local sandbox) or TCP (container, remote VM); the first
frame a client sends is a hello carrying the desktop's token, over either transport.

Requests:  {"id": 7, "op": "screen.grab", "args": {...}}
Responses: {"id": 7, "ok": true, "result": {...}} or {"id": 7, "ok": false, "error": {...}}
"""

from __future__ import annotations

import asyncio
import json
import struct
from dataclasses import dataclass, field
from typing import Any

PROTOCOL_VERSION = 1
MAX_HEADER_BYTES = 16 * 1024 * 1024
MAX_BLOB_BYTES = 512 * 1024 * 1024
_LENGTH = struct.Struct(">I")


class ProtocolError(Exception):
    """The peer sent something that is not a valid frame; the connection cannot continue."""


@dataclass
class Message:
    header: dict[str, Any]
    blob: bytes = field(default=b"", repr=False)


async def read_message(reader: asyncio.StreamReader) -> Message:
    """Read one frame; raises asyncio.IncompleteReadError at a clean end of stream."""
    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    if length > MAX_HEADER_BYTES:
        raise ProtocolError(f"header of {length} bytes exceeds {MAX_HEADER_BYTES}")
    try:
        header = json.loads(await reader.readexactly(length))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"header is not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise ProtocolError("header must be a JSON object")
    blob_len = header.get("blob", 0)
    if not isinstance(blob_len, int) or not 0 <= blob_len <= MAX_BLOB_BYTES:
        raise ProtocolError(f"bad blob length {blob_len!r}")
    blob = await reader.readexactly(blob_len) if blob_len else b""
    return Message(header, blob)


def encode_message(header: dict[str, Any], blob: bytes | memoryview = b"") -> list[bytes]:
    """The buffers of one frame, ready for `writer.writelines` (no copy of the blob)."""
    if blob:
        header = {**header, "blob": len(blob)}
    data = json.dumps(header, separators=(",", ":")).encode()
    return [_LENGTH.pack(len(data)), data, bytes(blob) if isinstance(blob, memoryview) else blob]


async def write_message(
    writer: asyncio.StreamWriter, header: dict[str, Any], blob: bytes | memoryview = b""
) -> None:
    writer.writelines(encode_message(header, blob))
    await writer.drain()
