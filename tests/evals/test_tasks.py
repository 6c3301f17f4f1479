"""The task format: valid files load; every kind of mistake is an error naming file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from deskhand.evals.runnable import select
from deskhand.evals.tasks import TaskFormatError, load_suite, load_task

from .conftest import TASKS_DIR

VALID: dict[str, Any] = {
    "id": "demo-task",
    "instruction": "Do it at {site}/x.html",
    "category": "editor",
    "skills": ["type", "key"],
    "max_steps": 5,
    "setup": {
        "files": [{"path": "docs/a.txt", "text": "a"}, {"path": "b.bin", "base64": "AAE="}],
        "commands": ["mkdir -p ~/x"],
        "launch": [{"app": "editor"}, {"argv": ["mousepad", "a.txt"]}],
        "page": "shop/index.html",
        "wait_for_window": "Mousepad",
    },
    "checker": {
        "any": [
            {"name": "file_exists", "args": {"path": "x"}},
            {
                "all": [
                    {"name": "file_contains", "args": {"path": "a.txt", "text": "a"}},
                    {"name": "site_no_request", "args": {"path": "/checkout"}},
                ]
            },
        ]
    },
    "oracle": [{"tool": "bash", "input": {"command": "true"}}],
    "near_miss": [{"tool": "computer", "input": {"action": "screenshot"}}],
}


def write(tmp_path: Path, data: Any, name: str = "demo-task.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def with_change(path: str, value: Any) -> dict[str, Any]:
    """VALID with the value at a dotted path replaced (None removes it)."""
    data: dict[str, Any] = yaml.safe_load(yaml.safe_dump(VALID))
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is None:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


def test_a_valid_task_loads_with_everything(tmp_path: Path) -> None:
    task = load_task(write(tmp_path, VALID))
    assert task.id == "demo-task" and task.uses_site
    assert task.setup.files[1].data() == b"\x00\x01"
    assert task.setup.launch[0].command()[0] == "mousepad"
    assert task.checker.names() == ["file_exists", "file_contains", "site_no_request"]
    assert task.instruction_for("http://site.test:8") == "Do it at http://site.test:8/x.html"


@pytest.mark.parametrize(
    ("change", "value", "expected"),
    [
        ("extra_field", 1, "extra_field: Extra inputs are not permitted"),
        ("id", "Bad_Id", "id 'Bad_Id' must match"),
        ("category", "games", "category: Input should be"),
        ("skills", ["teleport"], "skills.0: Input should be"),
        ("max_steps", 0, "max_steps: Input should be greater than or equal to 1"),
        ("instruction", None, "instruction: Field required"),
        ("setup.files.0.path", "../escape.txt", "setup.files.0.path"),
        ("setup.files.0.path", "/etc/passwd", "relative path inside the home folder"),
        ("setup.files.1", {"path": "x", "text": "a", "base64": "AA=="}, "exactly one of"),
        ("setup.launch.0", {"app": "photoshop"}, "unknown app 'photoshop'"),
        ("setup.page", "http://evil.example/", "page is a path inside the local site"),
        ("checker", {"name": "no_such_checker"}, "unknown checker 'no_such_checker'"),
        ("checker", {"name": "file_contains", "args": {"path": "a"}}, "args.text: Field required"),
        ("checker", {"name": "file_matches", "args": {"path": "a", "regex": "("}}, "checker"),
        ("checker", {"name": "file_exists", "all": []}, "checker"),
        ("oracle.0", {"tool": "mouse", "input": {}}, "oracle.0.tool"),
        ("oracle.0", {"tool": "bash"}, "oracle.0.input: Field required"),
    ],
)
def test_mistakes_are_errors_naming_file_and_field(
    tmp_path: Path, change: str, value: Any, expected: str
) -> None:
    path = write(
        tmp_path,
        {**VALID, "extra_field": 1} if change == "extra_field" else with_change(change, value),
    )
    with pytest.raises(TaskFormatError) as caught:
        load_task(path)
    message = str(caught.value)
    assert str(path) in message and expected in message, message


def test_file_name_must_be_the_id(tmp_path: Path) -> None:
    with pytest.raises(TaskFormatError, match="differs from the file name 'other'"):
        load_task(write(tmp_path, VALID, "other.yaml"))


def test_invalid_yaml_and_non_mapping(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: [unclosed\n")
    with pytest.raises(TaskFormatError, match="invalid YAML"):
        load_task(broken)
    listing = tmp_path / "listing.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(TaskFormatError, match="one mapping"):
        load_task(listing)


def test_suite_loads_sorted_and_rejects_duplicate_ids(tmp_path: Path) -> None:
    ids = [task.id for task in load_suite(TASKS_DIR)]
    assert ids == sorted(ids) and {"editor-note", "shell-sum", "site-form"} <= set(ids)
    (tmp_path / "a").mkdir()
    write(tmp_path / "a", VALID)
    (tmp_path / "a" / "demo-task.yml").write_text(yaml.safe_dump(VALID))
    with pytest.raises(TaskFormatError, match="also used by"):
        load_suite(tmp_path / "a")
    with pytest.raises(TaskFormatError, match="no such suite"):
        load_suite(tmp_path / "missing")


def test_select_by_id_and_glob() -> None:
    tasks = load_suite(TASKS_DIR)
    assert [t.id for t in select(tasks, ["shell-*"])] == ["shell-sum"]
    assert {t.id for t in select(tasks, ["site-form", "editor-*"])} == {"site-form", "editor-note"}
    assert select(tasks, []) == tasks
