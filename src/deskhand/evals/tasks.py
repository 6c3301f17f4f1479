"""The task format: one YAML file per task, validated strictly (docs/evals.md).

    task = load_task(Path("calc-multiply.yaml"))
    tasks = load_suite("builtin")          # or a folder of *.yaml files

Every problem is a `TaskFormatError` naming the file and the field, e.g.
``calc.yaml: checker.args.path: Field required``.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

if TYPE_CHECKING:
    from deskhand.evals.checkers import CheckResult
    from deskhand.evals.environment import TaskEnvironment

Category = Literal["calculator", "editor", "terminal", "files", "browser", "mixed"]
Skill = Literal[
    "left_click",
    "right_click",
    "middle_click",
    "double_click",
    "triple_click",
    "left_click_drag",
    "left_mouse_down",
    "left_mouse_up",
    "mouse_move",
    "scroll",
    "key",
    "hold_key",
    "type",
    "wait",
    "zoom",
    "screenshot",
    "bash",
    "editor",
]
ToolName = Literal["computer", "bash", "editor"]
ID_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
SITE_PLACEHOLDER = "{site}"


class TaskFormatError(ValueError):
    """A task file that cannot be used; the message names the file and the field."""


def _home_relative(value: str) -> str:
    """A path inside the home folder: relative, no `..`, not empty."""
    path = PurePosixPath(value)
    if not value or path.is_absolute() or ".." in path.parts or str(path) == ".":
        raise ValueError(f"{value!r} must be a relative path inside the home folder, without ..")
    return value


HomePath = Annotated[str, AfterValidator(_home_relative)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SetupFile(_Strict):
    path: HomePath
    text: str | None = None
    base64: str | None = None
    mode: int | None = Field(default=None, ge=0, le=0o777)

    @model_validator(mode="after")
    def _one_content(self) -> SetupFile:
        if (self.text is None) == (self.base64 is None):
            raise ValueError("give exactly one of `text` or `base64`")
        return self

    def data(self) -> bytes:
        import base64 as b64

        if self.text is not None:
            return self.text.encode()
        assert self.base64 is not None
        return b64.b64decode(self.base64, validate=True)


class Launch(_Strict):
    app: str | None = None
    argv: list[str] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_kind(self) -> Launch:
        if (self.app is None) == (self.argv is None):
            raise ValueError("give exactly one of `app` or `argv`")
        if self.app is not None:
            from deskhand.guest.apps import APPS

            if self.app not in APPS:
                raise ValueError(f"unknown app {self.app!r}; known: {', '.join(APPS)}")
        return self

    def command(self) -> list[str]:
        from deskhand.guest.apps import app_argv

        return app_argv(self.app) if self.app is not None else list(self.argv or [])


class Setup(_Strict):
    files: list[SetupFile] = Field(default_factory=list)
    commands: list[str] = Field(default_factory=list)
    launch: list[Launch] = Field(default_factory=list)
    page: str | None = None
    wait_for_window: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _page_is_relative(self) -> Setup:
        if self.page is not None and (self.page.startswith("/") or "://" in self.page):
            raise ValueError("page is a path inside the local site, e.g. shop/index.html")
        return self


class CheckerSpec(_Strict):
    """One named checker with its arguments, or all/any of several."""

    name: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    all: list[CheckerSpec] | None = Field(default=None, min_length=1)
    any: list[CheckerSpec] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_form(self) -> CheckerSpec:
        forms = [self.name is not None, self.all is not None, self.any is not None]
        if sum(forms) != 1:
            raise ValueError("a checker is one of {name, args}, {all: [...]} or {any: [...]}")
        if self.name is None and self.args:
            raise ValueError("`args` goes with `name`")
        if self.name is not None:
            from deskhand.evals.checkers import validate_args

            validate_args(self.name, self.args)
        return self

    def names(self) -> list[str]:
        if self.name is not None:
            return [self.name]
        return [n for child in (self.all or self.any or []) for n in child.names()]


class ToolCall(_Strict):
    tool: ToolName
    input: dict[str, Any]


class Task(_Strict):
    id: str
    instruction: str = Field(min_length=1)
    category: Category
    skills: list[Skill] = Field(min_length=1)
    max_steps: int = Field(ge=1, le=1000)
    setup: Setup = Field(default_factory=Setup)
    checker: CheckerSpec
    oracle: list[ToolCall] | None = None
    near_miss: list[ToolCall] | None = None
    source: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _id_shape(self) -> Task:
        if not ID_PATTERN.fullmatch(self.id):
            raise ValueError(f"id {self.id!r} must match [a-z0-9-]+ (no leading/trailing -)")
        return self

    @property
    def uses_site(self) -> bool:
        texts = [self.instruction, *self.setup.commands]
        calls = [*(self.oracle or []), *(self.near_miss or [])]
        return (
            self.setup.page is not None
            or any(SITE_PLACEHOLDER in text for text in texts)
            or any(SITE_PLACEHOLDER in str(call.input) for call in calls)
        )

    def instruction_for(self, site_url: str) -> str:
        return self.instruction.replace(SITE_PLACEHOLDER, site_url)

    @property
    def oracle_answer(self) -> str:
        """Built-in tasks are checked on the desktop's state, never on the final message."""
        return ""

    async def prepare(self, env: TaskEnvironment) -> None:
        await env.apply_setup(self)

    async def check(self, env: TaskEnvironment, answer: str = "") -> CheckResult:
        from deskhand.evals.checkers import run_checker

        return await run_checker(self.checker, env.context())


def _format_error(path: Path, exc: ValidationError) -> TaskFormatError:
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"{path}: {where}: {error['msg']}")
    return TaskFormatError("\n".join(lines))


def parse_task(data: Any, path: Path) -> Task:
    """Validate a task's parsed YAML; `path` is named in every error."""
    if not isinstance(data, dict):
        raise TaskFormatError(f"{path}: a task file holds one mapping (id, instruction, ...)")
    try:
        task = Task.model_validate({**data, "source": path})
    except ValidationError as exc:
        raise _format_error(path, exc) from None
    if path.suffix in {".yaml", ".yml"} and path.stem != task.id:
        raise TaskFormatError(f"{path}: id: {task.id!r} differs from the file name {path.stem!r}")
    return task


def load_task(path: Path | str) -> Task:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TaskFormatError(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise TaskFormatError(f"{path}: invalid YAML: {exc}") from None
    return parse_task(data, path)


def builtin_suite_dir() -> Path:
    return Path(str(resources.files("deskhand.evals").joinpath("suite")))


def suite_dir(name_or_dir: str | Path) -> Path:
    if str(name_or_dir) == "builtin":
        return builtin_suite_dir()
    path = Path(name_or_dir)
    if not path.exists():
        raise TaskFormatError(f"{path}: no such suite (a folder of *.yaml tasks, or `builtin`)")
    return path


def load_suite(name_or_dir: str | Path) -> list[Task]:
    """Every task of a suite, in id order; ids must be unique."""
    path = suite_dir(name_or_dir)
    files = [path] if path.is_file() else sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
    tasks = [load_task(file) for file in files]
    seen: dict[str, Path | None] = {}
    for task in tasks:
        if task.id in seen:
            raise TaskFormatError(f"{task.source}: id: {task.id!r} is also used by {seen[task.id]}")
        seen[task.id] = task.source
    return sorted(tasks, key=lambda t: t.id)
