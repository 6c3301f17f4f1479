"""RunIndex: upserts from events, listing, search, id prefixes, concurrent writers."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from run_sample import RUN_ID, make_sample

from deskhand.agent.events import ModelTurn, RunFinished, RunStarted, Status, Usage
from deskhand.runs import AmbiguousRunId, RunIndex, default_index_path, default_runs_dir


def started(run_id: str, task: str = "a task", at: float = 1000.0) -> RunStarted:
    return RunStarted(
        run_id,
        task=task,
        model="claude-sonnet-4-5",
        provider="anthropic",
        tool_version="computer_20250124",
        screen=(1280, 800),
        budgets={},
        time=at,
    )


def turn(run_id: str, step: int) -> ModelTurn:
    return ModelTurn(
        run_id,
        step=step,
        text="",
        thinking="",
        tool_calls=[],
        stop_reason="tool_use",
        usage=Usage(100, 10),
        cost_usd=0.01,
        model_ms=5.0,
        total_usage=Usage(100 * step, 10 * step, 5, 20),
        total_cost_usd=0.01 * step,
    )


def finished(run_id: str, status: Status = "done", text: str = "all done") -> RunFinished:
    return RunFinished(
        run_id,
        status=status,
        reason="",
        steps=3,
        usage=Usage(300, 30),
        cost_usd=0.03,
        seconds=9.0,
        model_ms=15.0,
        tool_ms=1.0,
        final_text=text,
    )


def test_rows_follow_the_run(tmp_path: Path) -> None:
    index = RunIndex(tmp_path / "index.sqlite")
    index.record(started("r1", "open the browser"), tmp_path / "r1")
    index.record(turn("r1", 1), tmp_path / "r1")
    index.record(turn("r1", 2), tmp_path / "r1")
    row = index.get("r1")
    # A run that crashed now would show as running, with its progress.
    assert row is not None
    assert (row.status, row.steps, row.input_tokens, row.output_tokens) == ("running", 2, 225, 20)
    assert row.cost_usd == pytest.approx(0.02)
    assert row.dir == tmp_path / "r1" and row.finished is None
    index.record(finished("r1"), tmp_path / "r1")
    row = index.get("r1")
    assert row is not None
    assert (row.status, row.steps, row.seconds, row.final_text) == ("done", 3, 9.0, "all done")
    # Resuming makes it running again but keeps its start time and progress.
    index.record(started("r1", "open the browser", at=2000.0), tmp_path / "r1")
    row = index.get("r1")
    assert row is not None
    assert (row.status, row.started, row.steps, row.finished) == ("running", 1000.0, 3, None)


def test_the_recorder_keeps_the_index(tmp_path: Path) -> None:
    sample_run = make_sample(tmp_path)
    row = sample_run.index.get(RUN_ID)
    assert row is not None
    assert (row.status, row.steps, row.final_text) == ("done", 6, "Dark mode is on.")
    assert row.dir == sample_run.record.path


def test_list_filters_searches_and_sorts(tmp_path: Path) -> None:
    index = RunIndex(tmp_path / "index.sqlite")
    for i, task in enumerate(["Open Firefox", "write 100% of the report", "Open a terminal"]):
        index.record(started(f"2025010{i}-000000-aaaaa{i}", task, at=1000.0 + i), tmp_path)
    index.record(finished("20250100-000000-aaaaa0", "stuck", text="gave up on firefox"), tmp_path)
    assert [r.task for r in index.list()] == [
        "Open a terminal",
        "write 100% of the report",
        "Open Firefox",
    ]
    assert [r.task for r in index.list(limit=1)] == ["Open a terminal"]
    assert [r.task for r in index.list(status="stuck")] == ["Open Firefox"]
    assert [r.task for r in index.list(search="OPEN")] == ["Open a terminal", "Open Firefox"]
    assert [r.task for r in index.list(search="gave up")] == ["Open Firefox"]
    assert [r.task for r in index.list(search="aaaaa1")] == ["write 100% of the report"]
    assert [r.task for r in index.list(search="0%")] == ["write 100% of the report"]  # literal %
    assert index.list(search="_") == []  # literal _, not "any character"
    assert [r.task for r in index.list(status="running", search="open")] == ["Open a terminal"]


def test_get_by_unique_prefix(tmp_path: Path) -> None:
    index = RunIndex(tmp_path / "index.sqlite")
    for run_id in ("20250101-000000-abc123", "20250101-000000-abd456", "20250102-000000-ffffff"):
        index.record(started(run_id), tmp_path)
    row = index.get("20250102")
    assert row is not None and row.id == "20250102-000000-ffffff"
    row = index.get("20250101-000000-abd")
    assert row is not None and row.id == "20250101-000000-abd456"
    assert index.get("2024") is None
    with pytest.raises(AmbiguousRunId, match="abc123, 20250101-000000-abd456"):
        index.get("20250101-000000-ab")
    with pytest.raises(ValueError, match="empty"):
        index.get("")


def test_an_exact_id_wins_over_longer_ids(tmp_path: Path) -> None:
    index = RunIndex(tmp_path / "index.sqlite")
    index.record(started("run"), tmp_path)
    index.record(started("run-2"), tmp_path)
    row = index.get("run")
    assert row is not None and row.id == "run"


def test_default_locations(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DESKHAND_HOME", str(tmp_path / "dh"))
    assert default_index_path() == tmp_path / "dh" / "index.sqlite"
    assert default_runs_dir() == tmp_path / "dh" / "runs"
    monkeypatch.delenv("DESKHAND_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_index_path() == tmp_path / "xdg" / "deskhand" / "index.sqlite"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_index_path() == tmp_path / "home/.local/share/deskhand/index.sqlite"
    assert default_runs_dir() == tmp_path / "home/.local/share/deskhand/runs"


RUNS_PER_WRITER = 25


def write_runs(path: Path, writer: int) -> None:
    index = RunIndex(path)  # each writer also creates the schema, concurrently
    for i in range(RUNS_PER_WRITER):
        run_id = f"w{writer}-{i:03d}"
        index.record(started(run_id, at=float(i)), path.parent)
        for step in (1, 2, 3):
            index.record(turn(run_id, step), path.parent)
        index.record(finished(run_id), path.parent)


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=write_runs, args=(path, w)) for w in range(4)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=60)
        assert process.exitcode == 0
    rows = RunIndex(path).list(limit=1000)
    assert len(rows) == 4 * RUNS_PER_WRITER
    assert {(r.status, r.steps) for r in rows} == {("done", 3)}
