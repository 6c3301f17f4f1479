"""A run as one self-contained HTML page (report.html): read it step by step, offline.

Everything comes from the run's events and its screenshots/ files; nothing is fetched from the
network. Every string from a run (task, model text, tool output) is untrusted and escaped: the
model may have read a hostile web page and repeated it.

Each screenshot is embedded once, as an SVG <image> in a hidden <defs>, and shown with <use>: the
screen a step's model saw is also the previous action's result, so this halves the page size, and
the action marks are drawn in the same SVG, in the screenshot's own pixel space.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from deskhand.runs.layout import SCREENSHOTS_DIR, read_events

MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
}
STATUS_CLASSES = {
    "done": "ok",
    "running": "run",
    "budget_exceeded": "warn",
    "stuck": "warn",
    "refused": "warn",
    "interrupted": "warn",
    "context_exceeded": "warn",
}
SCROLL_VECTORS = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}
Json = dict[str, Any]


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


# ---- the run, rebuilt from its events ---------------------------------------------------------


@dataclass(frozen=True)
class Shot:
    ref: str  # the id of its <image> in the page's <defs>
    uri: str
    width: int
    height: int


@dataclass
class Action:
    event: Json
    seen: Shot | None  # the screen the model looked at when it chose this action
    result: Shot | None


@dataclass
class Step:
    number: int
    turn: Json | None = None
    seen: Shot | None = None  # the screen sent to the model before its turn
    items: list[Json | Action] = field(default_factory=list)  # in event order

    @property
    def actions(self) -> list[Action]:
        return [item for item in self.items if isinstance(item, Action)]

    @property
    def model_ms(self) -> float:
        return float(self.turn["model_ms"]) if self.turn else 0.0

    @property
    def tool_ms(self) -> float:
        return sum(float(a.event.get("tool_ms") or 0) for a in self.actions)


@dataclass
class Run:
    events: list[Json]
    started: Json | None = None
    finished: Json | None = None
    steps: list[Step] = field(default_factory=list)
    shots: list[Shot] = field(default_factory=list)

    @property
    def last_turn(self) -> Json | None:
        turns = [s.turn for s in self.steps if s.turn]
        return turns[-1] if turns else None


class ShotLoader:
    """Reads screenshot files named by events, once each, and only from screenshots/."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.folder = (run_dir / SCREENSHOTS_DIR).resolve()
        self.shots: dict[Path, Shot] = {}

    def load(self, name: str, size: Any) -> Shot | None:
        # Events give a bare file name or a path relative to the run directory.
        path = (self.run_dir / name if "/" in name else self.folder / name).resolve()
        media_type = MEDIA_TYPES.get(path.suffix.lower())
        if path.parent != self.folder or media_type is None or not path.is_file():
            return None
        if path not in self.shots:
            data = path.read_bytes()
            width, height = size if size else Image.open(io.BytesIO(data)).size
            uri = f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"
            self.shots[path] = Shot(f"shot-{len(self.shots) + 1}", uri, int(width), int(height))
        return self.shots[path]


def build_run(events: list[Json], run_dir: Path) -> Run:
    run = Run(events)
    loader = ShotLoader(run_dir)
    steps: dict[int, Step] = {}
    screen: Shot | None = None  # the latest full screen the model was sent
    for event in events:
        kind = event.get("kind")
        if kind == "run_started":
            if run.started is None:
                run.started = event
            elif steps:  # resumed: marked after the last step recorded before
                list(steps.values())[-1].items.append(event)
            continue
        if kind == "run_finished":
            run.finished = event
            continue
        if not isinstance(event.get("step"), int):
            continue
        step = steps.setdefault(event["step"], Step(event["step"]))
        if kind == "model_turn":
            step.turn, step.seen = event, screen
            step.items.append(event)
        elif kind in ("model_retry", "notice"):
            step.items.append(event)
        elif kind == "tool_result":
            name = event.get("screenshot")
            shot = loader.load(name, event.get("screenshot_size")) if name else None
            # All calls of a turn were chosen from the screen sent before it.
            seen = step.seen if step.turn else screen
            step.items.append(Action(event, seen, shot))
            # A zoom shows a region, not the screen that click coordinates refer to.
            if shot and (event.get("input") or {}).get("action") != "zoom":
                screen = shot
    run.steps = list(steps.values())
    run.shots = list(loader.shots.values())
    return run


# ---- formatting ------------------------------------------------------------------------------


def _ms(ms: float) -> str:
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms // 60_000:.0f} min {ms % 60_000 / 1000:.0f} s"


def _cost(usd: float) -> str:
    return f"${usd:.4f}" if usd < 1 else f"${usd:.2f}"


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _num(value: float) -> str:
    """A coordinate: tenths of a pixel are plenty, and ints stay ints."""
    return f"{round(value, 1):g}" if isinstance(value, float) else str(value)


def _status_badge(status: str) -> str:
    return f'<span class="badge {STATUS_CLASSES.get(status, "bad")}">{_e(status)}</span>'


def _action_label(event: Json) -> str:
    return str((event.get("input") or {}).get("action") or event.get("name") or "tool")


# ---- action marks ----------------------------------------------------------------------------


def _overlay(event: Json, shot: Shot) -> str:
    """The action drawn over the screen the model saw, in its pixel space."""
    points = [(p["x"], p["y"]) for p in event.get("points") or []]
    if not points:
        return ""
    r = max(shot.width, shot.height) / 48
    if len(points) == 1:
        x, y = points[0]
        lines = f"M{_num(x - 2 * r)} {y}H{_num(x + 2 * r)}M{x} {_num(y - 2 * r)}V{_num(y + 2 * r)}"
        shapes = f'<circle cx="{x}" cy="{y}" r="{_num(r)}"/><path d="{lines}"/>'
        direction = SCROLL_VECTORS.get(str((event.get("input") or {}).get("scroll_direction")))
        if direction:
            dx, dy = direction
            shapes += _arrow(
                (x + dx * 1.5 * r, y + dy * 1.5 * r), (x + dx * 5 * r, y + dy * 5 * r), r
            )
    else:
        shapes = f'<circle cx="{points[0][0]}" cy="{points[0][1]}" r="{_num(r / 2)}"/>'
        for start, end in itertools.pairwise(points):
            shapes += _arrow(start, end, r)
    label = _e(_action_label(event))
    return (
        f'<g class="mark"><title>{label}</title><g class="halo">{shapes}</g>'
        f'<g class="ink">{shapes}</g></g>'
    )


def _arrow(start: tuple[float, float], end: tuple[float, float], r: float) -> str:
    """A line from start to end with a head at end."""
    (x0, y0), (x1, y1) = start, end
    length = max(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5, 1e-9)
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    head = min(r, length / 2)
    bx, by = x1 - ux * head * 1.6, y1 - uy * head * 1.6  # the back of the head
    corners = [(x1, y1), (bx - uy * head, by + ux * head), (bx + uy * head, by - ux * head)]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in corners)
    return (
        f'<path d="M{_num(x0)} {_num(y0)}L{bx:.1f} {by:.1f}"/>'
        f'<polygon class="head" points="{points}"/>'
    )


def _figure(shot: Shot, caption: str, overlay: str = "") -> str:
    return (
        f'<figure class="shot"><svg viewBox="0 0 {shot.width} {shot.height}" role="img"'
        f' aria-label="{_e(caption)}"><use href="#{shot.ref}"/>{overlay}</svg>'
        f"<figcaption>{_e(caption)} · {shot.width}×{shot.height}</figcaption></figure>"
    )


# ---- charts ----------------------------------------------------------------------------------


def _charts(steps: list[Step]) -> str:
    steps = [s for s in steps if s.turn or s.actions]
    if not steps:
        return ""
    n = len(steps)
    most_ms = max(s.model_ms + s.tool_ms for s in steps) or 1.0
    costs = [float(s.turn["cost_usd"]) if s.turn else 0.0 for s in steps]
    totals = [float(s.turn["total_cost_usd"]) if s.turn else 0.0 for s in steps]
    most_cost = max(costs) or 1.0
    latency, cost, line = [], [], []
    for i, step in enumerate(steps):
        x = i * 10 + 1.5
        model_h, tool_h = step.model_ms / most_ms * 96, step.tool_ms / most_ms * 96
        tip = f"step {step.number}: model {_ms(step.model_ms)}, tools {_ms(step.tool_ms)}"
        latency.append(
            f'<a href="#step-{step.number}"><title>{_e(tip)}</title>'
            f'<rect class="model" x="{x}" y="{100 - model_h:.2f}" width="7"'
            f' height="{model_h:.2f}"/>'
            f'<rect class="tool" x="{x}" y="{100 - model_h - tool_h:.2f}" width="7"'
            f' height="{tool_h:.2f}"/></a>'
        )
        cost_h = costs[i] / most_cost * 96
        tip = f"step {step.number}: {_cost(costs[i])}, {_cost(totals[i])} so far"
        cost.append(
            f'<a href="#step-{step.number}"><title>{_e(tip)}</title><rect class="cost" x="{x}"'
            f' y="{100 - cost_h:.2f}" width="7" height="{cost_h:.2f}"/></a>'
        )
        line.append(f"{x + 3.5:.1f},{100 - totals[i] / (max(totals) or 1) * 96:.2f}")
    box = f'viewBox="0 0 {n * 10} 100" preserveAspectRatio="none"'
    return (
        '<section class="card charts">'
        '<div class="chart"><h2>Latency per step</h2>'
        f'<svg class="bars" {box}>{"".join(latency)}</svg>'
        '<div class="legend"><i class="model"></i>model <i class="tool"></i>tools'
        f"<span>max {_ms(most_ms)}</span></div></div>"
        '<div class="chart"><h2>Cost per step</h2>'
        f'<svg class="bars" {box}>{"".join(cost)}'
        f'<polyline class="total" points="{" ".join(line)}"/></svg>'
        '<div class="legend"><i class="cost"></i>step <i class="total"></i>so far'
        f"<span>max {_cost(most_cost)} · total {_cost(max(totals))}</span></div></div>"
        "</section>"
    )


# ---- page sections ---------------------------------------------------------------------------


def _header(run: Run) -> str:
    started, finished = run.started or {}, run.finished
    last = run.last_turn
    usage: Json = (finished or {}).get("usage") or (last or {}).get("total_usage") or {}
    if finished:
        status, cost, seconds = finished["status"], finished["cost_usd"], finished["seconds"]
    else:  # no RunFinished: still running, or the process died; show the progress so far
        status = "running"
        cost = (last or {}).get("total_cost_usd", 0.0)
        times = [float(e.get("time", 0)) for e in run.events] or [0.0]
        seconds = max(times) - min(times)
    tokens = (
        f"{usage.get('input_tokens', 0):,} in · {usage.get('output_tokens', 0):,} out"
        f"<small>cache: {usage.get('cache_read_input_tokens', 0):,} read ·"
        f" {usage.get('cache_creation_input_tokens', 0):,} written</small>"
    )
    facts = [
        ("Model", _e(started.get("model", "?"))),
        ("Provider", _e(started.get("provider", "?"))),
        ("Tool version", _e(started.get("tool_version", "?"))),
        ("Steps", _e(finished["steps"] if finished else len(run.steps))),
        ("Tokens", tokens),
        ("Cost", _cost(float(cost))),
        ("Duration", _ms(float(seconds) * 1000)),
        ("Started", _e(_when(started["time"])) if "time" in started else "?"),
    ]
    screen = started.get("screen")
    if screen:
        facts.append(("Screen", f"{_e(screen[0])}×{_e(screen[1])}"))
    cells = "".join(f"<div><dt>{name}</dt><dd>{value}</dd></div>" for name, value in facts)
    run_id = (run.events[0].get("run_id", "") if run.events else "") or "?"
    return (
        '<header class="card head"><div class="eyebrow">deskhand run'
        f" <code>{_e(run_id)}</code> {_status_badge(status)}</div>"
        f"<h1>{_e(started.get('task', '(no task recorded)'))}</h1>"
        f'<dl class="facts">{cells}</dl></header>'
    )


def _step(step: Step) -> str:
    turn = step.turn
    chips = [_flag_chips(step), f'<span class="chip model">model {_ms(step.model_ms)}</span>']
    if step.actions:
        chips.append(f'<span class="chip tool">tools {_ms(step.tool_ms)}</span>')
    if turn:
        usage, total = turn["usage"], turn["total_usage"]
        step_tokens = sum(int(v) for v in usage.values())
        all_tokens = sum(int(v) for v in total.values())
        chips.append(
            f'<span class="chip" title="input, output, cache read and written tokens">'
            f"{step_tokens:,} tok · {_cost(float(turn['cost_usd']))}</span>"
            f'<span class="chip total">so far {all_tokens:,} tok ·'
            f" {_cost(float(turn['total_cost_usd']))}</span>"
        )
    body = "".join(_item(item) for item in step.items)
    return (
        f'<section class="card step" id="step-{step.number}"><div class="step-head">'
        f'<a class="num" href="#step-{step.number}">Step {step.number}</a>'
        f'<div class="chips">{"".join(chips)}</div></div>{body}</section>'
    )


def _flag_chips(step: Step) -> str:
    """Retries and notices, counted in the step's header so they stand out when scrolling."""
    kinds = [item.get("kind") for item in step.items if isinstance(item, dict)]
    chips = []
    for kind, icon, one, many in (
        ("model_retry", "↻", "retry", "retries"),
        ("notice", "⚠", "notice", "notices"),
    ):
        if count := kinds.count(kind):
            chips.append(
                f'<span class="chip warn">{icon} {count} {one if count == 1 else many}</span>'
            )
    return "".join(chips)


def _item(item: Json | Action) -> str:
    if isinstance(item, Action):
        return _action(item)
    kind = item.get("kind")
    if kind == "model_turn":
        return _turn(item)
    if kind == "model_retry":
        return (
            f'<div class="flag retry">↻ retry {_e(item.get("attempt"))} after'
            f" {_e(item.get('delay_s'))} s: {_e(item.get('error'))}</div>"
        )
    if kind == "notice":
        level = str(item.get("level"))
        icon = {"warning": "⚠", "error": "✖"}.get(level, "ℹ")
        css = level if level in ("warning", "error") else "info"
        return f'<div class="flag {css}">{icon} {_e(item.get("message"))}</div>'
    if kind == "run_started":
        return f'<div class="flag info">⏵ resumed at {_e(_when(float(item["time"])))}</div>'
    return ""


def _turn(turn: Json) -> str:
    parts = []
    if turn.get("thinking"):
        parts.append(
            '<details class="thinking"><summary>Thinking</summary>'
            f'<div class="text">{_e(turn["thinking"])}</div></details>'
        )
    if turn.get("text"):
        parts.append(f'<div class="say text">{_e(turn["text"])}</div>')
    if turn.get("stop_reason") not in (None, "tool_use", "end_turn"):
        parts.append(f'<div class="flag warning">stop reason: {_e(turn["stop_reason"])}</div>')
    return "".join(parts)


def _action(action: Action) -> str:
    event = action.event
    compact = json.dumps(event.get("input") or {}, ensure_ascii=False, separators=(",", ":"))
    name, label = str(event.get("name")), _action_label(event)
    tool = f'<span class="tool-name">{_e(name)}</span>' if name != label else ""
    head = (
        f'<div class="action-head">{tool}<b>{_e(label)}</b><code class="input">{_e(compact)}</code>'
        f'<span class="ms">{_ms(float(event.get("tool_ms") or 0))}</span></div>'
    )
    figures = []
    # The screen before a bash or editor call (no marks, no new screenshot) would only be noise.
    if action.seen and (action.result or event.get("points")):
        figures.append(_figure(action.seen, "before", _overlay(event, action.seen)))
    if action.result:
        overlay = "" if action.seen else _overlay(event, action.result)
        figures.append(_figure(action.result, "after", overlay))
    elif event.get("screenshot"):
        figures.append(f'<div class="missing">screenshot {_e(event["screenshot"])} missing</div>')
    results = []
    for key, css in (("output", "output"), ("error", "error"), ("system", "system")):
        if event.get(key):
            results.append(f'<pre class="{css}">{_e(event[key])}</pre>')
    shots = f'<div class="shots">{"".join(figures)}</div>' if figures else ""
    return f'<div class="action">{head}{shots}{"".join(results)}</div>'


def _footer(run: Run) -> str:
    finished = run.finished
    if finished is None:
        return (
            '<footer class="card final run"><h2>Not finished</h2><p>The run has no end event:'
            " it is still running, or its process died.</p></footer>"
        )
    status = str(finished["status"])
    final = finished.get("final_text")
    return (
        f'<footer class="card final {STATUS_CLASSES.get(status, "bad")}" id="end">'
        f"<h2>Finished {_status_badge(status)}</h2><p>{_e(finished.get('reason', ''))}</p>"
        + (f'<div class="text">{_e(final)}</div>' if final else "")
        + "</footer>"
    )


def _defs(shots: list[Shot]) -> str:
    images = "".join(
        f'<image id="{s.ref}" href="{s.uri}" width="{s.width}" height="{s.height}"/>' for s in shots
    )
    return f'<svg class="defs" width="0" height="0" aria-hidden="true"><defs>{images}</defs></svg>'


def render_report(run_dir: Path) -> str:
    """The report page of the run in `run_dir`, from its events.jsonl and screenshots/."""
    run = build_run(read_events(run_dir), run_dir)
    task = (run.started or {}).get("task", "")
    title = f"deskhand · {task[:80]}" if task else "deskhand run"
    steps = "".join(_step(step) for step in run.steps) or '<p class="card">No steps.</p>'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        f"{_defs(run.shots)}<main>{_header(run)}{_charts(run.steps)}{steps}{_footer(run)}</main>"
        f"<script>{JS}</script></body></html>"
    )


# Clicking a screenshot shows it full screen; the page works the same without it.
JS = (
    "document.addEventListener('click',e=>{const f=e.target.closest('figure.shot');"
    "if(f)f.classList.toggle('zoom')});"
)

CSS = """
:root{--bg:#f4f5f7;--card:#fff;--ink:#1c2230;--muted:#697386;--line:#e3e6eb;
--model:#4263eb;--tool:#f08c00;--cost:#7048e8;--ok:#2f9e44;--warn:#e8590c;--bad:#e03131;
--run:#1c7ed6;--mark:#ff1f5a}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1200px;margin:0 auto;padding:24px 20px 48px}
code,pre{font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace}
h2{font-size:13px;margin:0 0 8px;color:var(--muted);font-weight:600;text-transform:uppercase;
letter-spacing:.05em}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:16px 20px;
margin-bottom:14px;box-shadow:0 1px 2px rgba(16,24,40,.05)}
.defs{position:absolute;width:0;height:0;overflow:hidden}
.eyebrow{display:flex;gap:10px;align-items:center;color:var(--muted);font-size:12px}
.eyebrow code{color:var(--ink)}
h1{font-size:21px;line-height:1.35;margin:8px 0 16px;white-space:pre-wrap;overflow-wrap:anywhere}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:12px 24px;
margin:0}
.facts dt{color:var(--muted);font-size:12px}
.facts dd{margin:0;font-weight:600;overflow-wrap:anywhere}
.facts small{display:block;font-weight:400;color:var(--muted);font-size:12px}
.badge{display:inline-block;padding:1px 10px;border-radius:999px;font-size:12px;font-weight:600;
color:#fff;background:var(--bad);text-transform:none;letter-spacing:0;vertical-align:1px}
.badge.ok{background:var(--ok)}.badge.warn{background:var(--warn)}.badge.run{background:var(--run)}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:28px}
.bars{display:block;width:100%;height:84px;border-bottom:1px solid var(--line)}
.bars rect.model{fill:var(--model)}.bars rect.tool{fill:var(--tool)}
.bars rect.cost{fill:var(--cost);opacity:.75}
.bars a:hover rect{opacity:.6}
.bars .total{fill:none;stroke:var(--ink);stroke-width:1.5;vector-effect:non-scaling-stroke}
.legend{display:flex;gap:6px;align-items:center;font-size:12px;color:var(--muted);margin-top:6px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-left:6px}
.legend i:first-child{margin-left:0}
.legend i.model{background:var(--model)}.legend i.tool{background:var(--tool)}
.legend i.cost{background:var(--cost);opacity:.75}
.legend i.total{height:2px;background:var(--ink)}
.legend span{margin-left:auto}
.step-head{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin-bottom:10px}
.num{font-weight:700;font-size:15px;color:var(--ink);text-decoration:none;margin-right:auto}
.chips{display:flex;flex-wrap:wrap;gap:6px}
.chip{font-size:12px;padding:2px 9px;border-radius:999px;background:#f1f3f5;color:#495057;
white-space:nowrap}
.chip.model{background:#edf2ff;color:var(--model)}.chip.tool{background:#fff4e6;color:#d9480f}
.chip.warn{background:#fff4e6;color:#a63c06;font-weight:600}
.chip.total{background:none;border:1px solid var(--line)}
.text{white-space:pre-wrap;overflow-wrap:anywhere}
.say{font-size:14.5px;margin:4px 0 12px}
.thinking{margin:4px 0 10px;color:var(--muted)}
.thinking summary{cursor:pointer;font-size:12px;font-weight:600;list-style-position:inside}
.thinking .text{border-left:3px solid var(--line);padding:4px 0 4px 12px;margin-top:6px;
font-style:italic}
.action{border:1px solid var(--line);border-radius:10px;padding:10px 12px;margin:10px 0;
background:#fbfcfd;break-inside:avoid}
.action-head{display:flex;gap:8px;align-items:baseline;flex-wrap:wrap}
.tool-name{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}
.action-head .input{flex:1 1 240px;min-width:0;color:#364fc7;overflow-wrap:anywhere}
.action-head .ms{font-size:12px;color:#d9480f;white-space:nowrap}
.shots{display:grid;gap:12px;margin-top:10px}
.shots{grid-template-columns:1fr 1fr}
.shot{margin:0;cursor:zoom-in}
.shot svg{display:block;width:100%;height:auto;border:1px solid var(--line);border-radius:6px;
background:#fff}
.shot figcaption{font-size:11.5px;color:var(--muted);margin-top:3px}
.shot.zoom{position:fixed;inset:0;z-index:9;margin:0;padding:24px;background:rgba(10,12,16,.88);
display:flex;flex-direction:column;align-items:center;justify-content:center;cursor:zoom-out}
.shot.zoom svg{width:auto;height:auto;max-width:100%;max-height:calc(100vh - 60px)}
.shot.zoom figcaption{color:#ddd}
.mark *{vector-effect:non-scaling-stroke;fill:none;stroke-linecap:round;stroke-linejoin:round}
.mark .halo *{stroke:#fff;stroke-width:6px;stroke-opacity:.9}
.mark .ink *{stroke:var(--mark);stroke-width:3px}
.mark .ink .head{fill:var(--mark)}.mark .halo .head{fill:#fff}
pre{margin:8px 0 0;padding:8px 10px;border-radius:6px;background:#f1f3f5;white-space:pre-wrap;
overflow-wrap:anywhere;max-height:260px;overflow:auto}
pre.error{background:#fff5f5;color:#c92a2a;border-left:3px solid var(--bad)}
pre.system{background:#f8f0fc;color:#862e9c}
.flag{margin:8px 0;padding:7px 12px;border-radius:8px;font-size:13px;overflow-wrap:anywhere}
.flag.warning,.flag.retry{background:#fff4e6;color:#a63c06;border-left:3px solid var(--warn)}
.flag.error{background:#fff5f5;color:#c92a2a;border-left:3px solid var(--bad)}
.flag.info{background:#e7f5ff;color:#1864ab;border-left:3px solid var(--run)}
.missing{padding:20px;border:1px dashed var(--line);color:var(--muted);text-align:center}
.final{border-left:5px solid var(--bad)}
.final.ok{border-left-color:var(--ok)}.final.warn{border-left-color:var(--warn)}
.final.run{border-left-color:var(--run)}
.final h2{font-size:15px;text-transform:none;letter-spacing:0;color:var(--ink)}
.final p{margin:0 0 8px;color:var(--muted)}
@media (max-width:800px){.charts,.shots{grid-template-columns:1fr}main{padding:12px}}
@media print{body{background:#fff}main{max-width:none;padding:0}
.card{box-shadow:none;break-inside:auto}.step-head,.action{break-inside:avoid}
pre{max-height:none;overflow:visible}script{display:none}}
"""
