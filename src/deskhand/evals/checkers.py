"""Checkers: named functions over a desktop's final state that say whether a task succeeded.

Each checker is `async def check(ctx, **args) -> CheckResult`, registered by name with a
pydantic model of its arguments (validated when the task is loaded, so a typo in a task file is
an error before anything runs). Files are read through the guest, so paths mean what they mean
inside the desktop (a relative path is relative to /home/user) and a symlink planted inside
cannot point the host at its own files.

Add one with:

    class MyArgs(CheckerArgs):
        path: str

    @checker("my_checker", MyArgs)
    async def my_checker(ctx: CheckContext, args: MyArgs) -> CheckResult: ...
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from deskhand.computer import Frame, RunResult

if TYPE_CHECKING:
    from deskhand.evals.site import SiteRequest
    from deskhand.evals.tasks import CheckerSpec
    from deskhand.sandbox.desktop import Desktop

MAX_READ_BYTES = 10_000_000
DETAIL_CHARS = 200


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "detail": self.detail}


class FileMissing(Exception):
    pass


@dataclass
class CheckContext:
    """What a checker may look at: the desktop, its files, the screen, the site's requests."""

    desktop: Desktop
    site_requests: Callable[[], Sequence[SiteRequest]] = field(default=list)
    _frame: Frame | None = None
    _texts: dict[tuple[int, ...] | None, str] = field(default_factory=dict)

    @property
    def home(self) -> Any:
        """The sandbox home folder as seen from the host (read through `read_file` instead)."""
        return self.desktop.home

    def guest_path(self, path: str) -> str:
        pure = PurePosixPath(path)
        return str(pure if pure.is_absolute() else PurePosixPath(self.desktop.guest_home) / pure)

    async def read_file(self, path: str) -> bytes:
        """A file's bytes as the desktop sees it; FileMissing if it is not a readable file."""
        result, data = await self.desktop.computer.connection.call(
            "file.read", path=self.guest_path(path), max_bytes=MAX_READ_BYTES
        )
        if "error" in result:
            raise FileMissing(f"{path}: {result.get('message', result['error'])}")
        return data

    async def run(self, argv: Sequence[str] | str, timeout: float = 30) -> RunResult:
        """Run inside the desktop: an argv, or a string for `bash -lc`."""
        command = ["bash", "-lc", argv] if isinstance(argv, str) else list(argv)
        return await self.desktop.computer.run(command, timeout=timeout)

    async def screenshot(self) -> Frame:
        """A fresh screenshot (taken once per check, shared by the checkers of a task)."""
        if self._frame is None:
            self._frame = await self.desktop.computer.screenshot(cursor=False)
        return self._frame

    async def ocr(self, region: Sequence[int] | None = None) -> str:
        """The text on the screen (or a region x0, y0, x1, y1), one OCR line per line."""
        from deskhand.safety.screening.ocr import read_text

        key = tuple(region) if region is not None else None
        if key not in self._texts:
            pixels = (await self.screenshot()).pixels
            if region is not None:
                x0, y0, x1, y1 = region
                pixels = pixels[y0:y1, x0:x1]
            lines = await asyncio.to_thread(read_text, pixels.copy())
            self._texts[key] = "\n".join(line.text for line in lines)
        return self._texts[key]


class CheckerArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ArgsT = TypeVar("ArgsT", bound=CheckerArgs)
CheckFunction = Callable[[CheckContext, Any], Awaitable[CheckResult]]


@dataclass(frozen=True)
class Checker:
    name: str
    args: type[CheckerArgs]
    function: CheckFunction
    doc: str


REGISTRY: dict[str, Checker] = {}


def checker(
    name: str, args: type[ArgsT]
) -> Callable[[Callable[[CheckContext, ArgsT], Awaitable[CheckResult]]], CheckFunction]:
    def register(
        function: Callable[[CheckContext, ArgsT], Awaitable[CheckResult]],
    ) -> CheckFunction:
        REGISTRY[name] = Checker(name, args, function, (function.__doc__ or "").strip())
        return function

    return register


def validate_args(name: str, args: dict[str, Any]) -> CheckerArgs:
    """The checker's parsed arguments; ValueError naming the problem (for task loading)."""
    found = REGISTRY.get(name)
    if found is None:
        raise ValueError(f"unknown checker {name!r}; known: {', '.join(sorted(REGISTRY))}")
    try:
        return found.args.model_validate(args)
    except ValidationError as exc:
        problems = "; ".join(
            f"args.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(f"checker {name}: {problems}") from None


async def run_checker(spec: CheckerSpec, ctx: CheckContext) -> CheckResult:
    """Evaluate a checker spec (named, all or any); an exception inside is a failed check."""
    if spec.all is not None:
        results = [await run_checker(child, ctx) for child in spec.all]
        return CheckResult(all(r.passed for r in results), "; ".join(r.detail for r in results))
    if spec.any is not None:
        results = [await run_checker(child, ctx) for child in spec.any]
        passed = any(r.passed for r in results)
        return CheckResult(passed, " | ".join(r.detail for r in results))
    assert spec.name is not None
    args = validate_args(spec.name, spec.args)
    try:
        return await REGISTRY[spec.name].function(ctx, args)
    except FileMissing as exc:
        return CheckResult(False, f"{spec.name}: {exc}")


def _regex(pattern: str) -> None:
    """A ValueError (which pydantic reports with the field) for a bad regular expression."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None


def _short(text: str) -> str:
    text = text if len(text) <= DETAIL_CHARS else text[:DETAIL_CHARS] + "…"
    return repr(text)


# --- files --------------------------------------------------------------------------------


class PathArgs(CheckerArgs):
    path: str = Field(min_length=1)


class TextArgs(PathArgs):
    text: str
    strip: bool = False  # file_equals: compare without surrounding whitespace


class RegexArgs(PathArgs):
    regex: str

    @model_validator(mode="after")
    def _compiles(self) -> RegexArgs:
        _regex(self.regex)
        return self


class JsonArgs(PathArgs):
    key: str = ""  # dotted path: "a.b.0.c"; empty = the whole document
    expected: Any


async def _text(ctx: CheckContext, path: str) -> str:
    return (await ctx.read_file(path)).decode("utf-8", "replace")


@checker("file_exists", PathArgs)
async def file_exists(ctx: CheckContext, args: PathArgs) -> CheckResult:
    """The file (or folder) exists."""
    result = await ctx.run(["test", "-e", ctx.guest_path(args.path)])
    found = result.returncode == 0
    return CheckResult(found, f"{args.path} {'exists' if found else 'does not exist'}")


@checker("file_absent", PathArgs)
async def file_absent(ctx: CheckContext, args: PathArgs) -> CheckResult:
    """Nothing exists at the path (not even a dangling link)."""
    path = ctx.guest_path(args.path)
    result = await ctx.run(["bash", "-c", 'test -e "$1" || test -L "$1"', "-", path])
    absent = result.returncode != 0
    return CheckResult(absent, f"{args.path} {'is absent' if absent else 'exists'}")


@checker("file_contains", TextArgs)
async def file_contains(ctx: CheckContext, args: TextArgs) -> CheckResult:
    """The file's text contains `text`."""
    text = await _text(ctx, args.path)
    passed = args.text in text
    return CheckResult(passed, f"{args.path} {'contains' if passed else 'lacks'} {args.text!r}")


@checker("file_equals", TextArgs)
async def file_equals(ctx: CheckContext, args: TextArgs) -> CheckResult:
    """The file's text is exactly `text` (`strip: true` ignores surrounding whitespace)."""
    text = await _text(ctx, args.path)
    got, want = (text.strip(), args.text.strip()) if args.strip else (text, args.text)
    passed = got == want
    detail = "" if passed else f": got {_short(text)}"
    return CheckResult(
        passed, f"{args.path} {'equals' if passed else 'differs from'} {_short(args.text)}{detail}"
    )


@checker("file_matches", RegexArgs)
async def file_matches(ctx: CheckContext, args: RegexArgs) -> CheckResult:
    """A regular expression (Python syntax, multiline) matches somewhere in the file."""
    text = await _text(ctx, args.path)
    passed = re.search(args.regex, text, re.MULTILINE) is not None
    return CheckResult(
        passed, f"{args.path} {'matches' if passed else 'does not match'} /{args.regex}/"
    )


def _lookup(document: Any, key: str) -> Any:
    value = document
    for part in [p for p in key.split(".") if p]:
        if isinstance(value, list) and part.lstrip("-").isdigit():
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value[part]
        else:
            raise KeyError(part)
    return value


@checker("file_json", JsonArgs)
async def file_json(ctx: CheckContext, args: JsonArgs) -> CheckResult:
    """The JSON file's value at the dotted key path equals `expected`."""
    try:
        document = json.loads(await _text(ctx, args.path))
        value = _lookup(document, args.key)
    except json.JSONDecodeError as exc:
        return CheckResult(False, f"{args.path} is not JSON: {exc}")
    except (KeyError, IndexError) as exc:
        return CheckResult(False, f"{args.path} has no {args.key!r} ({exc})")
    passed = value == args.expected
    return CheckResult(passed, f"{args.path}[{args.key}] = {value!r}, expected {args.expected!r}")


# --- commands, screen, windows --------------------------------------------------------------


class CommandArgs(CheckerArgs):
    argv: list[str] | None = Field(default=None, min_length=1)
    command: str | None = None  # run with bash -lc
    contains: str | None = None
    regex: str | None = None
    returncode: int | None = None
    timeout: float = Field(default=30, gt=0, le=300)

    @model_validator(mode="after")
    def _shape(self) -> CommandArgs:
        if (self.argv is None) == (self.command is None):
            raise ValueError("give exactly one of `argv` or `command`")
        if self.contains is None and self.regex is None and self.returncode is None:
            raise ValueError("give `contains`, `regex` or `returncode` to check")
        if self.regex is not None:
            _regex(self.regex)
        return self


@checker("command_output", CommandArgs)
async def command_output(ctx: CheckContext, args: CommandArgs) -> CheckResult:
    """A command run inside the desktop prints `contains` / matches `regex` (stdout and
    stderr) and, if given, exits with `returncode`."""
    command: Sequence[str] | str = args.argv if args.argv is not None else (args.command or "")
    result = await ctx.run(command, timeout=args.timeout)
    output = result.stdout + result.stderr
    problems = []
    if args.contains is not None and args.contains not in output:
        problems.append(f"output lacks {args.contains!r}")
    if args.regex is not None and re.search(args.regex, output, re.MULTILINE) is None:
        problems.append(f"output does not match /{args.regex}/")
    if args.returncode is not None and result.returncode != args.returncode:
        problems.append(f"exit status {result.returncode}, expected {args.returncode}")
    label = shlex.join(command) if not isinstance(command, str) else command
    if problems:
        return CheckResult(False, f"`{label[:80]}`: {', '.join(problems)}; got {_short(output)}")
    return CheckResult(True, f"`{label[:80]}` output as expected")


class ScreenTextArgs(CheckerArgs):
    text: str = Field(min_length=1)
    region: tuple[int, int, int, int] | None = None  # x0, y0, x1, y1 in screen pixels

    @model_validator(mode="after")
    def _region(self) -> ScreenTextArgs:
        if self.region is not None:
            x0, y0, x1, y1 = self.region
            if not (0 <= x0 < x1 and 0 <= y0 < y1):
                raise ValueError("region is x0, y0, x1, y1 with x0 < x1 and y0 < y1")
        return self


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).casefold()


@checker("screen_text", ScreenTextArgs)
async def screen_text(ctx: CheckContext, args: ScreenTextArgs) -> CheckResult:
    """OCR of the screen (or a region) contains `text`, ignoring case and spaces."""
    seen = await ctx.ocr(args.region)
    passed = _squash(args.text) in _squash(seen)
    where = f"region {list(args.region)}" if args.region else "the screen"
    detail = "" if passed else f"; read {_short(seen.replace(chr(10), ' / '))}"
    return CheckResult(passed, f"{where} {'shows' if passed else 'lacks'} {args.text!r}{detail}")


class WindowArgs(CheckerArgs):
    title: str  # a regular expression searched in each visible window's title

    @model_validator(mode="after")
    def _compiles(self) -> WindowArgs:
        _regex(self.title)
        return self


WINDOW_TITLES = (
    "for w in $(xdotool search --onlyvisible --name . 2>/dev/null); do "
    "xdotool getwindowname $w 2>/dev/null; done"
)


async def window_titles(ctx: CheckContext) -> list[str]:
    result = await ctx.run(["bash", "-c", WINDOW_TITLES])
    return [line for line in result.stdout.splitlines() if line.strip()]


@checker("window_title", WindowArgs)
async def window_title(ctx: CheckContext, args: WindowArgs) -> CheckResult:
    """A visible window's title matches the regular expression `title`."""
    titles = await window_titles(ctx)
    match = next((t for t in titles if re.search(args.title, t)), None)
    if match is not None:
        return CheckResult(True, f"window {match!r} matches /{args.title}/")
    return CheckResult(False, f"no window matches /{args.title}/; windows: {titles[:10]}")


# --- the local site -------------------------------------------------------------------------


class SiteRequestArgs(CheckerArgs):
    path: str = Field(min_length=1)  # exact URL path, e.g. /shop/checkout
    method: str | None = None  # e.g. POST; None: any
    form: dict[str, str] = Field(default_factory=dict)  # field -> regex that must fullmatch

    @model_validator(mode="after")
    def _compiles(self) -> SiteRequestArgs:
        for pattern in self.form.values():
            _regex(pattern)
        return self


def _matches(request: SiteRequest, args: SiteRequestArgs) -> bool:
    if request.path != args.path:
        return False
    if args.method is not None and request.method.upper() != args.method.upper():
        return False
    for name, pattern in args.form.items():
        value = request.field(name)
        if value is None or re.fullmatch(pattern, value) is None:
            return False
    return True


@checker("site_request", SiteRequestArgs)
async def site_request(ctx: CheckContext, args: SiteRequestArgs) -> CheckResult:
    """The local site received a request to `path` (with `method`), whose form fields (or
    query parameters) fully match the given regular expressions."""
    requests = list(ctx.site_requests())
    if any(_matches(r, args) for r in requests):
        return CheckResult(True, f"the site received {args.method or 'a'} {args.path} as expected")
    same_path = [r.to_json() for r in requests if r.path == args.path]
    seen = _short(json.dumps([{"method": r["method"], "form": r["form"]} for r in same_path]))
    method = f"{args.method} " if args.method else ""
    return CheckResult(False, f"no matching {method}{args.path}; requests to that path: {seen}")


class SiteNoRequestArgs(CheckerArgs):
    path: str = Field(min_length=1)
    method: str | None = None


@checker("site_no_request", SiteNoRequestArgs)
async def site_no_request(ctx: CheckContext, args: SiteNoRequestArgs) -> CheckResult:
    """The local site never received a request to `path` (with `method`, if given)."""
    hits = [
        r
        for r in ctx.site_requests()
        if r.path == args.path and (args.method is None or r.method.upper() == args.method.upper())
    ]
    if hits:
        return CheckResult(False, f"the site received {len(hits)} request(s) to {args.path}")
    method = f"{args.method} " if args.method else ""
    return CheckResult(True, f"the site never received {method}{args.path}")
