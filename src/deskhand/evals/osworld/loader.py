"""Read OSWorld's task files as they are published (evaluation_examples/).

Layout: `examples/<domain>/<task id>.json`, plus index files such as `test_all.json`
(`{"domain": [ids...]}`, the 369 official tasks) and `test_small.json`. The same id can appear
under two domains with different content (11 chrome/thunderbird pairs in the official set), so
a task is identified by (domain, id), and the index decides which file is meant.

The models accept OSWorld's real variety: `config` missing or null, an `evaluator` that is a
placeholder string (two draft vlc files), `func` "" in drafts, `result`/`expected` as one getter
or as a list parallel to a list of `func`s (with nulls), `options` the same, unknown extra keys.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

OFFICIAL_INDEX = "test_all.json"


class OsworldFormatError(ValueError):
    """A task file that is not JSON or does not have OSWorld's shape."""


class Step(BaseModel):
    """One `config` / `postconfig` entry: {"type": T, "parameters": {...}}."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str
    parameters: dict[str, Any] = Field(default_factory=dict)

    @field_validator("parameters", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value


Getter = dict[str, Any]  # {"type": G, ...}: resolved by the evaluator's getter G


class Evaluator(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    func: str | list[str] = ""
    result: Getter | list[Getter | None] | None = None
    expected: Getter | list[Getter | None] | None = None
    options: dict[str, Any] | list[dict[str, Any] | None] | None = None
    conj: str = "and"
    postconfig: list[Step] = Field(default_factory=list)

    @field_validator("postconfig", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    @property
    def funcs(self) -> list[str]:
        return list(self.func) if isinstance(self.func, list) else [self.func]

    @property
    def infeasible(self) -> bool:
        """Infeasible by design: OSWorld scores it on the agent answering FAIL."""
        return self.funcs == ["infeasible"]

    @property
    def is_multi(self) -> bool:
        return isinstance(self.func, list)

    def _nth(self, value: Any, index: int) -> Any:
        if self.is_multi and isinstance(value, list):
            return value[index] if index < len(value) else None
        return value

    def result_of(self, index: int) -> Getter | None:
        value = self._nth(self.result, index)
        return value if isinstance(value, dict) and value else None

    def expected_of(self, index: int) -> Getter | None:
        value = self._nth(self.expected, index)
        return value if isinstance(value, dict) and value else None

    def options_of(self, index: int) -> dict[str, Any]:
        value = self._nth(self.options, index)
        return dict(value) if isinstance(value, dict) else {}

    def getters(self) -> list[Getter]:
        """Every result and expected getter config, in order."""
        found: list[Getter] = []
        for index in range(len(self.funcs)):
            for getter in (self.result_of(index), self.expected_of(index)):
                if getter is not None:
                    found.append(getter)
        return found


class OsworldTaskSpec(BaseModel):
    """One OSWorld task file, as published."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    domain: str
    instruction: str
    snapshot: str = ""
    source: str | list[str] = ""
    config: list[Step] = Field(default_factory=list)
    related_apps: list[str] = Field(default_factory=list)
    # None when the file holds a placeholder string instead of an evaluator (drafts).
    evaluator: Evaluator | None = None
    proxy: bool | None = None
    fixed_ip: bool | None = None
    possibility_of_env_change: str | None = None
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("config", mode="before")
    @classmethod
    def _config_none(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("evaluator", mode="before")
    @classmethod
    def _evaluator_placeholder(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else None

    @property
    def key(self) -> str:
        """`domain/id`: unique, unlike the id alone."""
        return f"{self.domain}/{self.id}"

    @property
    def infeasible(self) -> bool:
        return self.evaluator is not None and self.evaluator.infeasible


def examples_root(osworld_dir: Path) -> Path:
    """The `evaluation_examples` folder, given it or any folder that contains it."""
    osworld_dir = Path(osworld_dir)
    for candidate in (osworld_dir, osworld_dir / "evaluation_examples"):
        if (candidate / "examples").is_dir():
            return candidate
    raise FileNotFoundError(
        f"{osworld_dir} holds no OSWorld task files: expected evaluation_examples/examples/"
        "<domain>/<id>.json (OSWorld's own layout) there or in evaluation_examples/ below it"
    )


def load_task_file(path: Path, domain: str | None = None) -> OsworldTaskSpec:
    """One task file; the domain defaults to its folder's name."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OsworldFormatError(f"{path}: not readable as JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise OsworldFormatError(f"{path}: a task file holds a JSON object")
    try:
        return OsworldTaskSpec.model_validate(
            {**data, "domain": domain or path.parent.name, "path": path}
        )
    except ValidationError as exc:
        raise OsworldFormatError(f"{path}: not an OSWorld task: {exc}") from exc


def load_index(osworld_dir: Path, index: str = OFFICIAL_INDEX) -> list[tuple[str, str]]:
    """(domain, id) pairs of an index file such as test_all.json, in the file's order."""
    path = examples_root(osworld_dir) / index
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise OsworldFormatError(f"{path}: an index maps each domain to a list of task ids")
    return [(str(domain), str(task_id)) for domain, ids in data.items() for task_id in ids]


def load_tasks(osworld_dir: Path, index: str | None = OFFICIAL_INDEX) -> list[OsworldTaskSpec]:
    """The tasks an index names (default: the official 369), or with index=None every file
    under examples/ (drafts and Windows variants included), sorted by path."""
    root = examples_root(osworld_dir)
    if index is None:
        return [load_task_file(path) for path in sorted((root / "examples").glob("*/*.json"))]
    tasks = []
    for domain, task_id in load_index(root, index):
        path = root / "examples" / domain / f"{task_id}.json"
        if not path.is_file():
            raise OsworldFormatError(f"{index} names {domain}/{task_id} but {path} is missing")
        task = load_task_file(path, domain)
        if task.id != task_id:
            raise OsworldFormatError(f"{path}: its id is {task.id!r}, the index says {task_id!r}")
        tasks.append(task)
    return tasks
