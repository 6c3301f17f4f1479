"""The harness's local web site: static pages served read-only on 127.0.0.1, every request
recorded (method, path, query, form fields, body) so checkers can see what a page submitted.

    server = SiteServer()          # serves deskhand/evals/site/
    server.start()
    server.url                     # http://127.0.0.1:PORT
    server.requests                # [SiteRequest(method="POST", path="/shop/checkout", ...)]
    server.stop()

Any method is answered: GET/HEAD with the file (404 if none), POST/PUT/... with a small page
saying it was received (200), so forms can submit anywhere. Nothing is ever written.
"""

from __future__ import annotations

import json
import mimetypes
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

MAX_BODY = 1_000_000
RECEIVED_PAGE = (
    b"<!doctype html><html><head><meta charset='utf-8'><title>Received</title></head>"
    b"<body><h1>Received</h1><p>Your request was received.</p></body></html>"
)


def default_root() -> Path:
    return Path(str(resources.files("deskhand.evals").joinpath("site")))


@dataclass(frozen=True)
class SiteRequest:
    method: str
    path: str  # decoded, without the query
    query: dict[str, list[str]]
    form: dict[str, list[str]]  # url-encoded or JSON-object bodies; empty otherwise
    body: str
    host: str
    time: float = field(default_factory=time.time)

    def field(self, name: str) -> str | None:
        """A form field's (or else query parameter's) first value."""
        values = self.form.get(name) or self.query.get(name)
        return values[0] if values else None

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "form": self.form,
            "body": self.body,
            "host": self.host,
            "time": self.time,
        }


def _parse_form(content_type: str, body: bytes) -> dict[str, list[str]]:
    text = body.decode("utf-8", "replace")
    if content_type.startswith("application/x-www-form-urlencoded"):
        return parse_qs(text, keep_blank_values=True)
    if content_type.startswith("application/json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return {}
        if isinstance(data, dict):
            return {str(k): [v if isinstance(v, str) else json.dumps(v)] for k, v in data.items()}
    if content_type.startswith("multipart/form-data"):
        return _parse_multipart(content_type, body)
    return {}


def _parse_multipart(content_type: str, body: bytes) -> dict[str, list[str]]:
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    form: dict[str, list[str]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            value = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
            form.setdefault(name, []).append(value)
    return form


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _record(self) -> tuple[str, bytes]:
        parts = urlsplit(self.path)
        length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
        body = self.rfile.read(length) if length > 0 else b""
        content_type = self.headers.get("Content-Type", "")
        path = unquote(parts.path) or "/"
        self.server.site.record(
            SiteRequest(
                method=self.command,
                path=path,
                query=parse_qs(parts.query, keep_blank_values=True),
                form=_parse_form(content_type, body),
                body=body.decode("utf-8", "replace"),
                host=self.headers.get("Host", ""),
            )
        )
        return path, body

    def _send(self, status: int, data: bytes, content_type: str, head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _serve_file(self, head: bool) -> None:
        path, _ = self._record()
        target = self.server.site.resolve(path)
        if target is None:
            self._send(404, b"not found", "text/plain; charset=utf-8", head)
            return
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in {"application/javascript", "application/json"}:
            kind += "; charset=utf-8"
        self._send(200, target.read_bytes(), kind, head)

    def do_GET(self) -> None:
        self._serve_file(head=False)

    def do_HEAD(self) -> None:
        self._serve_file(head=True)

    def _receive(self) -> None:
        self._record()
        self._send(HTTPStatus.OK, RECEIVED_PAGE, "text/html; charset=utf-8")

    do_POST = do_PUT = do_PATCH = do_DELETE = _receive


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: SiteServer


class SiteServer:
    """Serves `root` (default: the harness's own site) on 127.0.0.1:`port` (0: any free)."""

    def __init__(self, root: Path | None = None, port: int = 0) -> None:
        self.root = (root or default_root()).resolve()
        self.port = port
        self._requests: list[SiteRequest] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SiteServer:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.site = self
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="site", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_for(self, host: str = "site.test") -> str:
        """The site's address as the desktop reaches it (through the egress proxy)."""
        return f"http://{host}:{self.port}"

    @property
    def requests(self) -> list[SiteRequest]:
        with self._lock:
            return list(self._requests)

    def record(self, request: SiteRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def resolve(self, url_path: str) -> Path | None:
        """The file a URL path names, only if it lies inside the root (no escapes)."""
        relative = url_path.lstrip("/")
        candidate = (self.root / relative).resolve()
        if candidate.is_dir():
            candidate = candidate / "index.html"
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        return candidate
