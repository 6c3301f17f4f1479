"""The evaluation's self-contained HTML report: one page, inline CSS and SVG, no scripts.

Success rate overall, by category and by skill (bar charts with the number of tasks and a
95% Wilson interval), steps and latency (p50/p95, model vs tool time), tokens and cost when a
model ran, safety events, and a table of every task linking to its run report.
"""

from __future__ import annotations

import html
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deskhand.evals.results import TaskResult

REPORT_FILE = "report.html"
BAR_WIDTH = 360
ROW_HEIGHT = 22

CSS = """
body{font:14px/1.45 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1d2330;
margin:0;background:#f6f7f9}
main{max-width:1080px;margin:0 auto;padding:28px 32px 60px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:32px 0 10px;border-bottom:1px solid
#dde1e7;padding-bottom:4px}
.meta{color:#5b6475;font-size:13px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px;
margin-top:18px}
.card{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:10px 12px}
.card b{display:block;font-size:20px}.card span{color:#5b6475;font-size:12px}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:18px;align-items:start}
figure{margin:0;background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:10px}
figcaption{font-size:12px;color:#5b6475;margin-top:4px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border-bottom:1px solid #e6e9ee;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#1a7f37;font-weight:600}.fail{color:#c0362c;font-weight:600}
.detail{color:#5b6475;max-width:380px;overflow-wrap:anywhere}
svg text{font:12px -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;fill:#1d2330}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def wilson(passed: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a success rate."""
    if total == 0:
        return 0.0, 0.0
    p = passed / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def rate_chart(groups: dict[str, dict[str, Any]], title: str) -> str:
    """Horizontal bars: success rate per group, with its 95% interval and n."""
    label_w, pad = 130, 100
    height = ROW_HEIGHT * len(groups) + 30
    width = label_w + BAR_WIDTH + pad
    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{_e(title)}">'
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1):
        x = label_w + tick * BAR_WIDTH
        parts.append(
            f'<line x1="{x}" y1="0" x2="{x}" y2="{height - 18}" stroke="#e3e6eb"/>'
            f'<text x="{x}" y="{height - 4}" text-anchor="middle">{tick:.0%}</text>'
        )
    for row, (name, group) in enumerate(groups.items()):
        y = row * ROW_HEIGHT + 4
        rate = group["rate"]
        low, high = wilson(group["passed"], group["tasks"])
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{_e(name)}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{rate * BAR_WIDTH:.1f}" height="14" '
            f'fill="#3d7dca"><title>{_e(name)}: {group["passed"]}/{group["tasks"]}</title></rect>'
            f'<line x1="{label_w + low * BAR_WIDTH:.1f}" y1="{y + 9}" '
            f'x2="{label_w + high * BAR_WIDTH:.1f}" y2="{y + 9}" stroke="#1d2330"/>'
            f'<text x="{label_w + BAR_WIDTH + 6}" y="{y + 13}">{rate:.0%} '
            f'<tspan fill="#5b6475">n={group["tasks"]}</tspan></text>'
        )
    parts.append("</svg>")
    return (
        f"<figure>{''.join(parts)}<figcaption>{_e(title)}; line: 95% Wilson interval"
        "</figcaption></figure>"
    )


def time_chart(results: Sequence[TaskResult]) -> str:
    """Stacked bars per task: model time, tool time, everything else (reset, check)."""
    if not results:
        return ""
    longest = max(r.seconds for r in results) or 1.0
    label_w = 150
    height = ROW_HEIGHT * len(results) + 30
    width = label_w + BAR_WIDTH + 70
    scale = BAR_WIDTH / longest
    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img">']
    for row, r in enumerate(results):
        y = row * ROW_HEIGHT + 4
        other = max(0.0, r.seconds - r.model_s - r.tool_s)
        x = float(label_w)
        parts.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{_e(r.id)}</text>')
        for value, colour, name in (
            (r.model_s, "#8e6cc9", "model"),
            (r.tool_s, "#3d7dca", "tools"),
            (other, "#b8c1cc", "reset/check/other"),
        ):
            if value > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y + 2}" width="{value * scale:.1f}" height="14" '
                    f'fill="{colour}"><title>{name}: {value:.2f} s</title></rect>'
                )
                x += value * scale
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 13}">{r.seconds:.1f} s</text>')
    parts.append("</svg>")
    legend = (
        '<span style="color:#8e6cc9">■</span> model · <span style="color:#3d7dca">■</span> '
        'tools · <span style="color:#b8c1cc">■</span> reset, check, other'
    )
    return f"<figure>{''.join(parts)}<figcaption>Seconds per task: {legend}</figcaption></figure>"


def steps_chart(results: Sequence[TaskResult]) -> str:
    """A histogram of steps, passed and failed tasks stacked."""
    if not results:
        return ""
    top = max(r.steps for r in results)
    size = max(1, math.ceil((top + 1) / 12))
    bins = math.ceil((top + 1) / size)
    counts = [[0, 0] for _ in range(bins)]
    for r in results:
        counts[min(bins - 1, r.steps // size)][0 if r.passed else 1] += 1
    most = max(sum(c) for c in counts) or 1
    width, height, base = 480, 170, 140
    bar = (width - 40) / bins
    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img">']
    for i, (good, bad) in enumerate(counts):
        x = 30 + i * bar
        h_good, h_bad = good / most * 120, bad / most * 120
        parts.append(
            f'<rect x="{x:.1f}" y="{base - h_good:.1f}" width="{bar - 3:.1f}" height="{h_good:.1f}"'
            f' fill="#2e9e55"><title>{good} passed</title></rect>'
            f'<rect x="{x:.1f}" y="{base - h_good - h_bad:.1f}" width="{bar - 3:.1f}" '
            f'height="{h_bad:.1f}" fill="#d9534f"><title>{bad} failed</title></rect>'
            f'<text x="{x + bar / 2:.1f}" y="{base + 16}" text-anchor="middle">{i * size}</text>'
        )
    parts.append(f'<text x="30" y="12">max {most} tasks</text></svg>')
    return (
        f"<figure>{''.join(parts)}<figcaption>Steps per task (green passed, red "
        "failed)</figcaption></figure>"
    )


def _card(value: str, label: str) -> str:
    return f'<div class="card"><b>{_e(value)}</b><span>{_e(label)}</span></div>'


def _cards(summary: dict[str, Any]) -> str:
    low, high = wilson(summary["passed"], summary["tasks"])
    cards = [
        _card(
            f"{summary['rate']:.1%}",
            f"success ({summary['passed']}/{summary['tasks']}); 95% CI {low:.0%}–{high:.0%}",
        ),
        _card(f"{summary['steps']['p50']:g}", f"steps p50 (p95 {summary['steps']['p95']:g})"),
        _card(
            f"{summary['seconds']['p50']:.1f} s",
            f"task time p50 (p95 {summary['seconds']['p95']:.1f} s)",
        ),
        _card(
            f"{summary['tool_seconds']['p50']:.2f} s",
            f"tool time p50 (p95 {summary['tool_seconds']['p95']:.2f} s)",
        ),
        _card(
            f"{summary['reset_seconds']['p50']:.2f} s",
            f"reset p50 (p95 {summary['reset_seconds']['p95']:.2f} s)",
        ),
        _card(f"{summary['safety_events']}", "safety events (asks, denials, blocked requests)"),
        _card(
            f"{summary['errors']}", f"errors ({summary['infrastructure_failures']} infrastructure)"
        ),
    ]
    if summary["model_seconds"]["p95"] > 0:  # a model ran
        model = summary["model_seconds"]
        cards.insert(
            3, _card(f"{model['p50']:.1f} s", f"model time p50 (p95 {model['p95']:.1f} s)")
        )
    if summary["tokens"]:
        cards.append(_card(f"{summary['tokens']:,}", "tokens"))
        cards.append(_card(f"${summary['cost_usd']:.2f}", "cost"))
    return f'<div class="cards">{"".join(cards)}</div>'


def _link(out: Path, result: TaskResult) -> str:
    if not result.run_dir:
        return ""
    run_dir = Path(result.run_dir)
    target = run_dir / REPORT_FILE
    if not target.exists():
        target = run_dir / "events.jsonl"
    if not target.exists():
        return ""
    href = os.path.relpath(target, out)
    return f'<a href="{_e(href)}">{_e(target.name)}</a>'


def _row(out: Path, r: TaskResult) -> str:
    verdict = '<span class="pass">pass</span>' if r.passed else '<span class="fail">fail</span>'
    detail = r.error or r.detail
    money = f"${r.cost_usd:.3f}" if r.cost_usd else ""
    return (
        f"<tr><td>{_e(r.id)}</td><td>{_e(r.category)}</td><td>{verdict}</td>"
        f'<td class="n">{r.steps}</td><td class="n">{r.seconds:.1f}</td>'
        f'<td class="n">{r.tokens or ""}</td><td class="n">{money}</td>'
        f'<td class="n">{r.safety_events or ""}</td>'
        f'<td class="detail">{_e(detail[:300])}</td><td>{_link(out, r)}</td></tr>'
    )


def render(out: Path, summary: dict[str, Any], results: Sequence[TaskResult]) -> str:
    ordered = sorted(results, key=lambda r: r.id)
    meta = " · ".join(
        f"{key} {summary[key]}"
        for key in ("suite", "agent", "backend", "workers")
        if key in summary
    )
    table = "".join(_row(out, r) for r in ordered)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>deskhand evaluation</title>
<style>{CSS}</style></head><body><main>
<h1>deskhand evaluation</h1>
<div class="meta">{_e(meta)} · {_e(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))}</div>
{_cards(summary)}
<h2>Success rate</h2>
<div class="charts">{rate_chart(summary["by_category"], "By category")}
{rate_chart(summary["by_skill"], "By skill (a task counts for every skill it exercises)")}</div>
<h2>Steps and time</h2>
<div class="charts">{steps_chart(ordered)}{time_chart(ordered)}</div>
<h2>Tasks</h2>
<table><thead><tr><th>task</th><th>category</th><th>result</th><th>steps</th><th>s</th>
<th>tokens</th><th>cost</th><th>safety</th><th>detail</th><th>run</th></tr></thead>
<tbody>{table}</tbody></table>
</main></body></html>
"""


def write_report(out: Path, summary: dict[str, Any], results: Sequence[TaskResult]) -> Path:
    path = out / REPORT_FILE
    path.write_text(render(out, summary, results), encoding="utf-8")
    return path
