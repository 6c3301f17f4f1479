"""The action gate: every tool call passes the policy before the desktop sees it.

For each call the gate builds a `Proposal` (what the action would do: typed text, keys, the
command, URLs and new domains in them, the active window's title, and the text OCR finds on the
screen around a click target), asks the policy, and then:

* allow: the call runs;
* deny: it never runs; the model gets the reason;
* confirm: a human is asked through the run's `Confirmer`. No answer within the timeout, no
  human (non-interactive), or a "no" all mean the call never runs and the model is told it was
  declined. A "yes" is bound to what was approved: the screen around the target is captured
  again just before running, and if it changed the human is asked again.

After the injection screen flags a tool result, the next consequential action is escalated to
confirm whatever the policy says. Anything the gate cannot determine (OCR or the screen failing)
makes it ask rather than allow.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from PIL import Image

from deskhand.agent import events as ev
from deskhand.computer import Computer, Frame, GuestError
from deskhand.safety.confirm import Answer, Confirmer, ConfirmRequest
from deskhand.safety.egress.rules import EgressRules, HostError, normalize_host
from deskhand.safety.policy import SEVERITY, Decision, Policy, Proposal, Verdict, evaluate
from deskhand.safety.screening.ocr import OcrLine
from deskhand.tools.describe import describe_action
from deskhand.tools.inputs import ToolInputError
from deskhand.tools.scaling import ScreenGeometry

# Actions that only look (or move the pointer) and so never need a human.
READ_ONLY = frozenset(
    {"screenshot", "zoom", "cursor_position", "wait", "mouse_move", "scroll", "view"}
)
CLICKS = frozenset(
    {"left_click", "double_click", "triple_click", "right_click", "middle_click", "left_mouse_up"}
)
ACTIVATING_KEYS = re.compile(r"^(ctrl\+|shift\+|alt\+)*(return|enter|kp_enter|space)$", re.I)
# The region around a target whose text and pixels an approval is about (screen pixels).
REGION_HALF_WIDTH, REGION_HALF_HEIGHT = 160, 48
# A click is judged by the text on its own row of the region: the lines whose box spans the
# target's row, or else the line nearest to it within this many pixels (a click near a button's
# edge). "buy milk" on the line above the one clicked in an editor is not what the click does.
ROW_REACH = 14
MAX_REASKS = 3
URL_PATTERN = re.compile(r"\bhttps?://[^\s'\"<>]+", re.IGNORECASE)
BARE_DOMAIN = re.compile(r"^\s*((?:[a-z0-9-]+\.)+[a-z]{2,})(?:[/:?#]\S*)?\s*$", re.IGNORECASE)
# Typed "notes.txt" is a file name, not a site: a bare name (no scheme, no "www.", no path) whose
# last label is a common file extension is not taken for a domain. A site under such a TLD
# (.md, .sh, .py...) typed bare is then not asked about here; the egress proxy still refuses
# it unless it is allowed.
# fmt: off
FILE_EXTENSIONS = frozenset({
    "txt", "md", "rst", "csv", "tsv", "json", "yaml", "yml", "toml", "ini", "cfg", "conf", "log",
    "py", "sh", "bash", "js", "ts", "css", "xml", "html", "htm", "pdf", "png", "jpg", "jpeg",
    "gif", "svg", "webp", "bmp", "ico", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods",
    "odp", "rtf", "zip", "tar", "gz", "tgz", "bz2", "xz", "7z", "deb", "rpm", "c", "h", "cc",
    "cpp", "hpp", "rs", "go", "java", "kt", "rb", "pl", "php", "sql", "db", "sqlite", "bak", "tmp",
    "lock", "mp3", "mp4", "wav", "ogg", "flac", "mkv", "avi", "mov", "webm", "desktop", "service",
})
# fmt: on
ESCALATION_REASON = (
    "Text in an earlier screen or output looked like instructions aimed at the model (a "
    "possible prompt injection), so this action needs a human's approval."
)

UNREADABLE_REASON = (
    "The screen around the target could not be read, so the policy cannot tell what this does."
)
# (region, the target's row in it or None for all of it) -> the text read there.
OcrFunction = Callable[[Image.Image, int | None], Awaitable[str]]


@dataclass(frozen=True)
class GateResult:
    """The gate's outcome for one call: run it, or answer it with `message`."""

    run: bool
    decision: Decision
    reason: str
    rule: str | None
    approver: str | None = None
    approved: bool | None = None
    note: str = ""
    screen_hash: str | None = None
    message: str = ""  # what the model is told when the call does not run

    def event(
        self, run_id: str, step: int, tool_use_id: str, name: str, tool_input: dict[str, Any]
    ) -> ev.GateDecision:
        """The decision as the run's event (events.jsonl, the audit log, the live views)."""
        return ev.GateDecision(
            run_id,
            step=step,
            tool_use_id=tool_use_id,
            name=name,
            input=tool_input,
            decision=self.decision,
            reason=self.reason,
            rule=self.rule,
            approver=self.approver,
            approved=self.approved,
            note=self.note,
            screen_hash=self.screen_hash,
            ran=self.run,
        )


@dataclass
class Gate:
    policy: Policy
    confirmer: Confirmer
    computer: Computer
    geometry: ScreenGeometry
    run_id: str = ""
    timeout_s: float = 120.0
    egress: EgressRules | None = None  # sites the user allowed: no approval needed
    approved_domains: set[str] = field(default_factory=set)  # approved during this run
    ocr: OcrFunction | None = None
    escalated: bool = False
    remembered: set[str] = field(default_factory=set)

    def escalate(self) -> None:
        """The injection screen flagged something: the next consequential action must ask."""
        self.escalated = True

    async def check(
        self,
        step: int,
        tool_use_id: str,
        name: str,
        tool: str,
        action: str,
        tool_input: dict[str, Any],
    ) -> GateResult:
        """Decide on one tool call: `name` is its tool_use name, `tool` its kind ("computer",
        "bash", "editor") and `action` the computer action or editor command."""
        target = self._target(tool_input) if tool == "computer" else None
        proposal, crop, unreadable = await self._propose(tool, action, tool_input, target)
        verdict = evaluate(self.policy, proposal)
        verdict = self._adjust(verdict, action, unreadable)
        screen_hash = _hash(crop)
        if verdict.decision == "allow":
            return GateResult(True, "allow", verdict.reason, verdict.rule, screen_hash=screen_hash)
        if verdict.decision == "deny":
            message = f"Denied by the safety policy ({verdict.rule}): {verdict.reason}"
            return GateResult(
                False,
                "deny",
                verdict.reason,
                verdict.rule,
                message=message,
                screen_hash=screen_hash,
            )
        summary = describe_action(name, tool_input)
        return await self._confirm(step, tool_use_id, summary, verdict, crop, target, proposal)

    # -- building the proposal --------------------------------------------------------------

    def _target(self, tool_input: dict[str, Any]) -> tuple[int, int] | None:
        value = tool_input.get("coordinate")
        if isinstance(value, list) and len(value) == 2 and all(type(v) is int for v in value):
            try:
                return self.geometry.to_screen(value[0], value[1])
            except ToolInputError:
                return None  # off-screen: the tool itself refuses it
        return None

    async def _propose(
        self, tool: str, action: str, tool_input: dict[str, Any], target: tuple[int, int] | None
    ) -> tuple[Proposal, Image.Image | None, bool]:
        """The proposal, the screen crop it was judged on, and whether the screen was unreadable."""
        typed = _text(tool_input.get("text")) if action == "type" else None
        keys = _text(tool_input.get("text")) if action == "key" else None
        command = _text(tool_input.get("command")) if tool == "bash" else None
        urls = tuple(_urls(typed, command))
        new_domains = tuple(sorted(d for d in _hosts(urls) if not self._known(d)))
        crop, screen_text, unreadable = None, None, False
        looks = action in CLICKS or action == "type" or bool(keys and ACTIVATING_KEYS.match(keys))
        if tool == "computer" and looks and self.policy.needs_screen_text:
            crop, screen_text, unreadable = await self._read_screen(target, action in CLICKS)
        title = (
            await self._window_title()
            if tool == "computer" and self.policy.needs_window_title
            else None
        )
        proposal = Proposal(
            tool=tool,  # type: ignore[arg-type]
            action=action,
            typed_text=typed,
            keys=keys.lower() if keys else None,
            command=command,
            path=_text(tool_input.get("path")) if tool == "editor" else None,
            urls=urls,
            new_domains=new_domains,
            window_title=title,
            screen_text=screen_text,
            target=target,
        )
        return proposal, crop, unreadable

    def _known(self, host: str) -> bool:
        if host in self.approved_domains:
            return True
        try:
            return self.egress is not None and self.egress.host_allowed(normalize_host(host))
        except HostError:
            return False  # a malformed host is never "known"

    async def _read_screen(
        self, target: tuple[int, int] | None, row_only: bool = False
    ) -> tuple[Image.Image | None, str | None, bool]:
        """The screen around the target (or the pointer) and the text OCR finds in it (with
        `row_only`, on the target's row)."""
        region = await self._region(target)
        if region is None:
            return None, None, True
        crop, row = region
        if self.ocr is None:
            return crop, None, True
        try:
            return crop, await self.ocr(crop, row if row_only else None), False
        except Exception:  # an OCR failure must not turn into "allow"
            return crop, None, True

    async def _window_title(self) -> str | None:
        try:
            done = await self.computer.run(
                ["xdotool", "getactivewindow", "getwindowname"], timeout=5
            )
        except GuestError:
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    # -- deciding ---------------------------------------------------------------------------

    def _adjust(self, verdict: Verdict, action: str, unreadable: bool) -> Verdict:
        if verdict.decision == "deny":
            return verdict
        if verdict.decision == "confirm" and verdict.rule in self.remembered:
            return Verdict(
                "allow", f"allowed for this run by the user: {verdict.reason}", verdict.rule
            )
        consequential = action not in READ_ONLY
        if consequential and self.escalated:
            self.escalated = False
            return Verdict("confirm", ESCALATION_REASON, "injection-escalation")
        if unreadable and SEVERITY[verdict.decision] < SEVERITY["confirm"]:
            return Verdict("confirm", UNREADABLE_REASON, "unreadable-screen")
        return verdict

    async def _confirm(
        self,
        step: int,
        tool_use_id: str,
        summary: str,
        verdict: Verdict,
        crop: Image.Image | None,
        target: tuple[int, int] | None,
        proposal: Proposal,
    ) -> GateResult:
        for _ in range(MAX_REASKS):
            request = ConfirmRequest(
                self.run_id, step, tool_use_id, summary, verdict.reason, verdict.rule, _png(crop)
            )
            answer = await self._ask(request)
            if not answer.approved:
                told = answer.note or "no reason given"
                message = (
                    f"Declined by the user ({answer.by}): this action was not performed. "
                    f"Why it needed approval: {verdict.reason} The user said: {told}"
                )
                return GateResult(
                    False,
                    "confirm",
                    verdict.reason,
                    verdict.rule,
                    answer.by,
                    False,
                    answer.note,
                    _hash(crop),
                    message,
                )
            if not await self._unchanged(crop, target):
                verdict = Verdict(
                    "confirm", f"The screen changed after approval. {verdict.reason}", verdict.rule
                )
                crop = await self._fresh_crop(target)
                continue
            if answer.remember and verdict.rule:
                self.remembered.add(verdict.rule)
            self.approved_domains.update(proposal.new_domains)
            return GateResult(
                True,
                "confirm",
                verdict.reason,
                verdict.rule,
                answer.by,
                True,
                answer.note,
                _hash(crop),
            )
        message = "Not performed: the screen kept changing while the user was asked to approve it."
        return GateResult(
            False, "confirm", verdict.reason, verdict.rule, None, False, "", None, message
        )

    async def _ask(self, request: ConfirmRequest) -> Answer:
        try:
            return await asyncio.wait_for(self.confirmer.ask(request), self.timeout_s)
        except TimeoutError:
            return Answer(False, "timeout", f"no answer within {self.timeout_s:g} s")

    async def _region(self, target: tuple[int, int] | None) -> tuple[Image.Image, int] | None:
        """The screen around the target (or the pointer) and the target's row in it, freshly
        captured; None if the screen cannot be read."""
        try:
            if target is None:
                target = await self.computer.cursor_position()
            return _crop(await self.computer.screenshot(cursor=False), target)
        except GuestError:
            return None

    async def _fresh_crop(self, target: tuple[int, int] | None) -> Image.Image | None:
        region = await self._region(target)
        return None if region is None else region[0]

    async def _unchanged(self, before: Image.Image | None, target: tuple[int, int] | None) -> bool:
        """Whether the screen the approval was about is still what will be acted on."""
        if before is None:
            return True  # nothing on screen was part of the decision (bash, editor)
        after = await self._fresh_crop(target)
        return after is not None and _similar(before, after)


async def read_region(image: Image.Image, row: int | None = None) -> str:
    """The gate's OCR: the text in a screen region in reading order, or only the text on `row`
    (see ROW_REACH); off the event loop."""
    from deskhand.safety.screening.detector import text_of
    from deskhand.safety.screening.ocr import read_text

    lines = await asyncio.to_thread(read_text, image)
    return text_of(lines if row is None else on_row(lines, row))


def on_row(lines: list[OcrLine], row: int) -> list[OcrLine]:
    """The lines whose box spans `row`, or else the nearest one within ROW_REACH pixels."""
    spanning = [line for line in lines if line.box[1] <= row < line.box[3]]
    if spanning or not lines:
        return spanning

    def distance(line: OcrLine) -> int:
        return min(abs(line.box[1] - row), abs(line.box[3] - 1 - row))

    nearest = min(lines, key=distance)
    return [nearest] if distance(nearest) <= ROW_REACH else []


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _urls(*texts: str | None) -> Iterable[str]:
    for text in texts:
        if not text:
            continue
        yield from URL_PATTERN.findall(text)
        bare = BARE_DOMAIN.match(text)
        if bare and "://" not in text and not _file_name(text.strip(), bare.group(1)):
            yield f"https://{text.strip()}"


def _file_name(text: str, host: str) -> bool:
    """A bare `name.ext` that reads as a file name (see FILE_EXTENSIONS)."""
    plain = text == host and not host.lower().startswith("www.")
    return plain and host.rsplit(".", 1)[-1].lower() in FILE_EXTENSIONS


def _hosts(urls: Iterable[str]) -> set[str]:
    hosts = set()
    for url in urls:
        try:
            host = urlsplit(url).hostname
        except ValueError:
            continue
        if host:
            hosts.add(host.lower().rstrip("."))
    return hosts


def _crop(frame: Frame, target: tuple[int, int]) -> tuple[Image.Image, int]:
    """The region around `target` and the target's row in it."""
    pixels = frame.pixels
    height, width = pixels.shape[:2]
    x, y = target
    left, top = max(0, x - REGION_HALF_WIDTH), max(0, y - REGION_HALF_HEIGHT)
    right, bottom = min(width, x + REGION_HALF_WIDTH), min(height, y + REGION_HALF_HEIGHT)
    region = pixels[top:bottom, left:right, 2::-1]  # BGRA -> RGB
    return Image.fromarray(np.ascontiguousarray(region)), y - top


def _similar(before: Image.Image, after: Image.Image) -> bool:
    """The same screen, give or take a blinking caret: under 1% of the pixels changed."""
    if before.size != after.size:
        return False
    a = np.asarray(before, dtype=np.int16)
    b = np.asarray(after, dtype=np.int16)
    changed = (np.abs(a - b).max(axis=2) > 32).mean()
    return bool(changed < 0.01)


def _hash(image: Image.Image | None) -> str | None:
    return None if image is None else hashlib.sha256(image.tobytes()).hexdigest()


def _png(image: Image.Image | None) -> bytes | None:
    if image is None:
        return None
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
