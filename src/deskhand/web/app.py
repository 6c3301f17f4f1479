"""`deskhand serve`'s ASGI app: the page, its JSON API and two WebSockets (the live event
stream of every run, and each run's VNC view). `create_app` wraps it in `TokenAuth`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from deskhand.agent.budget import Budgets
from deskhand.agent.config import PROVIDERS, RunConfig
from deskhand.agent.loop import Agent
from deskhand.agent.models import DEFAULT_MODEL, known_models
from deskhand.agent.providers.base import ProviderError
from deskhand.guest.apps import APPS
from deskhand.runs.index import RunIndex
from deskhand.runs.layout import REPORT_FILE, SCREENSHOTS_DIR, read_events
from deskhand.safety.confirm import Answer
from deskhand.tools.specs import SPECS
from deskhand.web.auth import ASGIApp, TokenAuth
from deskhand.web.rfb import BridgeStats, RfbError, bridge
from deskhand.web.sessions import LiveRun, Runs, badge

STATIC = Path(str(resources.files("deskhand.web") / "static"))
SCREENSHOT_NAME = re.compile(r"[0-9]{4}-[0-9]+\.(png|jpg|webp)")
# report.html is the run record's self-contained page (inline style and script). It gets its own
# policy: no network at all, and a sandbox (an opaque origin, so its script cannot use the app's
# cookie even if a run's text fooled the page's escaping).
REPORT_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "sandbox allow-scripts"
)


class NewRun(BaseModel):
    task: str = Field(min_length=1, max_length=20_000)
    model: str = DEFAULT_MODEL
    provider: str = "anthropic"
    tool_version: str | None = None
    screen: str = "1280x800"
    apps: list[str] = Field(default_factory=list)
    max_steps: int | None = Field(100, ge=1)
    max_seconds: float | None = Field(3600, ge=1)
    max_cost: float | None = Field(None, ge=0)
    max_tokens: int | None = Field(None, ge=1)
    policy: str = "default"
    allowed_domains: list[str] = Field(default_factory=list)
    confirm_timeout: float = Field(120, ge=1, le=3600)
    screening: bool = True

    def config(self) -> RunConfig:
        match = re.fullmatch(r"(\d{3,4})x(\d{3,4})", self.screen.strip())
        if not match:
            raise ValueError("screen must look like 1280x800")
        return RunConfig(
            task=self.task.strip(),
            model=self.model.strip() or DEFAULT_MODEL,
            provider=self.provider,
            tool_version=self.tool_version or None,
            screen=(int(match[1]), int(match[2])),
            budgets=Budgets(
                max_steps=self.max_steps,
                max_seconds=self.max_seconds,
                max_tokens=self.max_tokens,
                max_cost_usd=self.max_cost,
            ),
            apps=tuple(self.apps),
            policy=self.policy.strip() or "default",
            allowed_domains=tuple(d.strip() for d in self.allowed_domains if d.strip()),
            confirm_timeout_s=self.confirm_timeout,
            screening=self.screening,
        )


class Decision(BaseModel):
    approved: bool
    remember: bool = False
    note: str = Field("", max_length=2000)


class HandBack(BaseModel):
    note: str = Field("", max_length=4000)


def build_app(
    index_path: Path, make_agent: Callable[..., Agent] | None = None
) -> tuple[FastAPI, Runs]:
    """The app without authentication (`create_app` adds it); `make_agent` is `Agent` with
    the run index bound, or a test's factory."""
    index = RunIndex(index_path)
    runs = Runs(make_agent or partial(Agent, index=index))

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await runs.stop_all()

    app = FastAPI(
        title="deskhand", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def live_or_404(run_id: str) -> LiveRun:
        live = runs.live.get(run_id)
        if live is None:
            raise HTTPException(404, "no such run started by this server")
        return live

    def run_dir(run_id: str) -> Path:
        live = runs.live.get(run_id)
        if live is not None:
            return live.agent.record.path
        row = index.get(run_id) if run_id else None
        if row is None or row.id != run_id:
            raise HTTPException(404, "no such run")
        return row.dir

    @app.get("/")
    async def page() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    @app.get("/api/options")
    async def options() -> dict[str, Any]:
        return {
            "models": known_models(),
            "default_model": DEFAULT_MODEL,
            "providers": list(PROVIDERS),
            "tool_versions": sorted(SPECS),
            "apps": [{"key": app.key, "title": app.title} for app in APPS.values()],
            "policies": ["default", "permissive"],
        }

    @app.get("/api/runs")
    async def list_runs() -> list[dict[str, Any]]:
        shown = [live.summary() for live in runs.live.values()]
        seen = {row["id"] for row in shown}
        for row in await asyncio.to_thread(index.list, limit=100):
            if row.id in seen:
                continue
            status = row.status if row.status != "running" else "error"  # not ours: lost
            shown.append(
                {
                    "id": row.id,
                    "task": row.task,
                    "model": row.model,
                    "provider": row.provider,
                    "status": status,
                    "reason": "" if row.status != "running" else "not running in this server",
                    "badge": badge(status),
                    "control": "agent",
                    "live": False,
                    "desktop": False,
                    "steps": row.steps,
                    "cost_usd": row.cost_usd,
                    "started": row.started,
                    "approvals": [],
                }
            )
        shown.sort(key=lambda row: row["started"], reverse=True)
        return shown

    @app.post("/api/runs")
    async def start_run(body: NewRun) -> dict[str, Any]:
        try:
            config = body.config()
            live = runs.start(config)
        except ProviderError as exc:
            raise HTTPException(400, exc.message) from None
        except (ValueError, LookupError, OSError) as exc:
            raise HTTPException(400, str(exc)) from None
        return live.summary()

    @app.get("/api/runs/{run_id}/events")
    async def events(run_id: str) -> list[dict[str, Any]]:
        live = runs.live.get(run_id)
        if live is not None:
            return list(live.events)
        found = await asyncio.to_thread(read_events, run_dir(run_id))
        return [{**event, "seq": n} for n, event in enumerate(found)]

    @app.get("/api/runs/{run_id}/screenshots/{name}")
    async def screenshot(run_id: str, name: str) -> FileResponse:
        if not SCREENSHOT_NAME.fullmatch(name):
            raise HTTPException(404, "no such screenshot")
        path = run_dir(run_id) / SCREENSHOTS_DIR / name
        if not path.is_file() or path.is_symlink():
            raise HTTPException(404, "no such screenshot")
        return FileResponse(path, headers={"cache-control": "private, max-age=86400"})

    @app.get("/api/runs/{run_id}/report")
    async def report(run_id: str) -> Response:
        path = run_dir(run_id) / REPORT_FILE
        if not path.is_file():
            raise HTTPException(404, "the report is written when the run finishes")
        return Response(
            path.read_bytes(),
            media_type="text/html; charset=utf-8",
            headers={"content-security-policy": REPORT_CSP},
        )

    @app.post("/api/runs/{run_id}/stop")
    async def stop(run_id: str) -> dict[str, Any]:
        live = live_or_404(run_id)
        live.stop()
        return live.summary()

    @app.post("/api/runs/{run_id}/takeover")
    async def take_over(run_id: str) -> dict[str, Any]:
        live = live_or_404(run_id)
        if live.finished:
            raise HTTPException(409, "the run has finished")
        live.take_over()
        return live.summary()

    @app.post("/api/runs/{run_id}/handback")
    async def hand_back(run_id: str, body: HandBack) -> dict[str, Any]:
        live = live_or_404(run_id)
        live.hand_back(body.note)
        return live.summary()

    @app.post("/api/runs/{run_id}/approvals/{approval_id}")
    async def decide(run_id: str, approval_id: str, body: Decision) -> dict[str, Any]:
        live = live_or_404(run_id)
        note = body.note.strip() or ("" if body.approved else "declined in the web UI")
        answer = Answer(body.approved, "web", note, body.remember)
        if not live.answer(approval_id, answer):
            raise HTTPException(409, "this approval is no longer waiting (timed out or answered)")
        return live.summary()

    @app.websocket("/ws")
    async def stream(socket: WebSocket) -> None:
        await socket.accept()
        queue = runs.hub.subscribe()
        try:
            await socket.send_json({"type": "hello"})

            async def pump() -> None:
                while True:
                    await socket.send_json(await queue.get())

            async def drain() -> None:
                with contextlib.suppress(WebSocketDisconnect):
                    while True:
                        await socket.receive_text()

            tasks = [asyncio.create_task(pump()), asyncio.create_task(drain())]
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            runs.hub.unsubscribe(queue)

    @app.websocket("/ws/runs/{run_id}/vnc")
    async def vnc(socket: WebSocket, run_id: str) -> None:
        live = runs.live.get(run_id)
        if live is None or live.vnc is None or live.desktop is None:
            await socket.close(1008, "no live desktop for this run")
            return
        path, password = live.vnc
        try:
            upstream = await live.desktop.open_inside(path)
        except OSError:
            await socket.close(1011, "the desktop's VNC server is not reachable")
            return
        await socket.accept()

        async def receive() -> bytes:
            message = await socket.receive()
            if message["type"] == "websocket.disconnect":
                return b""
            return message.get("bytes") or (message.get("text") or "").encode()

        stats = BridgeStats()
        with contextlib.suppress(WebSocketDisconnect, RfbError, EOFError, ConnectionError):
            await bridge(
                receive,
                socket.send_bytes,
                upstream,
                password,
                live.input_allowed,
                live.recorder,
                stats,
            )
        with contextlib.suppress(Exception):
            await socket.close()

    @app.exception_handler(404)
    async def not_found(_: Any, exc: Exception) -> JSONResponse:
        detail = exc.detail if isinstance(exc, HTTPException) else "not found"
        return JSONResponse({"detail": detail}, status_code=404)

    return app, runs


def create_app(
    token: str,
    hosts: set[str],
    port: int,
    index_path: Path,
    make_agent: Callable[..., Agent] | None = None,
) -> tuple[ASGIApp, Runs]:
    """The authenticated app: every request needs the token (see `deskhand.web.auth`)."""
    app, runs = build_app(index_path, make_agent)
    return TokenAuth(app, token, hosts, port), runs
