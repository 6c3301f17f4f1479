"""A SQLite index of all runs, for `deskhand runs`: one row per run, kept current as events come.

The run directories stay the source of truth; the index only answers "which runs, how did they
go" without opening every directory. Several runs may write at once (one process each), so every
write is a single statement (its own short transaction) and a busy database is waited for.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from deskhand.agent.events import Event, ModelTurn, RunFinished, RunStarted, Usage

BUSY_TIMEOUT_S = 30.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    dir TEXT NOT NULL,
    task TEXT NOT NULL,
    model TEXT NOT NULL,
    provider TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    status TEXT NOT NULL,
    steps INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    started REAL NOT NULL,
    finished REAL,
    seconds REAL,
    final_text TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started);
"""

# A resumed run keeps its start time and progress, and is running again.
UPSERT_STARTED = """
INSERT INTO runs (id, dir, task, model, provider, tool_version, status, started)
VALUES (:id, :dir, :task, :model, :provider, :tool_version, 'running', :started)
ON CONFLICT (id) DO UPDATE SET
    dir = excluded.dir, task = excluded.task, model = excluded.model,
    provider = excluded.provider, tool_version = excluded.tool_version,
    status = 'running', finished = NULL, seconds = NULL, final_text = ''
"""

UPDATE_PROGRESS = """
UPDATE runs SET steps = max(steps, :steps), input_tokens = :input_tokens,
    output_tokens = :output_tokens, cost_usd = :cost_usd
WHERE id = :id
"""

UPDATE_FINISHED = """
UPDATE runs SET status = :status, steps = :steps, input_tokens = :input_tokens,
    output_tokens = :output_tokens, cost_usd = :cost_usd, finished = :finished,
    seconds = :seconds, final_text = :final_text
WHERE id = :id
"""

SELECT = """SELECT id, dir, task, model, provider, tool_version, status, steps, input_tokens,
    output_tokens, cost_usd, started, finished, seconds, final_text FROM runs"""

# One constant statement for every filter combination: a NULL parameter switches its test off.
LIST = f"""{SELECT}
WHERE (:status IS NULL OR status = :status)
  AND (:like IS NULL OR task LIKE :like ESCAPE '\\' OR final_text LIKE :like ESCAPE '\\'
       OR id LIKE :like ESCAPE '\\')
ORDER BY started DESC, id DESC LIMIT :limit"""

GET_EXACT = f"{SELECT} WHERE id = ?"
GET_PREFIX = f"{SELECT} WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 5"


class AmbiguousRunId(LookupError):
    """A run id prefix that matches more than one run."""


@dataclass(frozen=True)
class RunRow:
    id: str
    dir: Path
    task: str
    model: str
    provider: str
    tool_version: str
    status: str
    steps: int
    input_tokens: int  # every prompt token: uncached, written to and read from the cache
    output_tokens: int
    cost_usd: float
    started: float
    finished: float | None
    seconds: float | None
    final_text: str

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> RunRow:
        return cls(**{**dict(row), "dir": Path(row["dir"])})


def default_index_path() -> Path:
    """$DESKHAND_HOME/index.sqlite, else $XDG_DATA_HOME/deskhand/, else ~/.local/share/deskhand/."""
    if home := os.environ.get("DESKHAND_HOME"):
        return Path(home) / "index.sqlite"
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "deskhand" / "index.sqlite"


def default_runs_dir() -> Path:
    """The `runs/` folder next to the index."""
    return default_index_path().parent / "runs"


def _prompt_tokens(usage: Usage) -> int:
    return usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class RunIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._connect() as db:
            # WAL lets `deskhand runs` read while runs write; the setting persists in the file.
            db.execute("PRAGMA journal_mode = WAL")
            db.executescript(SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # A connection per operation: safe from any thread, and no lock outlives a call.
        # Autocommit (isolation_level=None): each statement is its own short transaction.
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            yield db
        finally:
            db.close()

    def record(self, event: Event, run_dir: Path) -> None:
        """Update the run's row from a RunStarted, ModelTurn or RunFinished; ignore other events."""
        if isinstance(event, RunStarted):
            sql, params = (
                UPSERT_STARTED,
                {
                    "dir": str(run_dir),
                    "task": event.task,
                    "model": event.model,
                    "provider": event.provider,
                    "tool_version": event.tool_version,
                    "started": event.time,
                },
            )
        elif isinstance(event, ModelTurn):
            sql, params = (
                UPDATE_PROGRESS,
                {
                    "steps": event.step,
                    "input_tokens": _prompt_tokens(event.total_usage),
                    "output_tokens": event.total_usage.output_tokens,
                    "cost_usd": event.total_cost_usd,
                },
            )
        elif isinstance(event, RunFinished):
            sql, params = (
                UPDATE_FINISHED,
                {
                    "status": event.status,
                    "steps": event.steps,
                    "input_tokens": _prompt_tokens(event.usage),
                    "output_tokens": event.usage.output_tokens,
                    "cost_usd": event.cost_usd,
                    "finished": event.time,
                    "seconds": event.seconds,
                    "final_text": event.final_text,
                },
            )
        else:
            return
        with self._connect() as db:
            db.execute(sql, {"id": event.run_id, **params})

    def list(
        self, status: str | None = None, search: str | None = None, limit: int = 50
    ) -> list[RunRow]:
        """Runs, newest first; `search` matches task, final text or id, case-insensitively."""
        like = f"%{_like_escape(search)}%" if search else None
        with self._connect() as db:
            rows = db.execute(LIST, {"status": status, "like": like, "limit": limit}).fetchall()
        return [RunRow.from_sql(row) for row in rows]

    def get(self, run_id: str) -> RunRow | None:
        """The run with this id, or else the only one whose id starts with it.

        Raises AmbiguousRunId when several runs share the prefix.
        """
        if not run_id:
            raise ValueError("an empty run id matches every run")
        with self._connect() as db:
            exact = db.execute(GET_EXACT, [run_id]).fetchone()
            if exact is not None:
                return RunRow.from_sql(exact)
            rows = db.execute(GET_PREFIX, [_like_escape(run_id) + "%"]).fetchall()
        if len(rows) > 1:
            ids = ", ".join(row["id"] for row in rows)
            raise AmbiguousRunId(f"{run_id!r} matches several runs: {ids}")
        return RunRow.from_sql(rows[0]) if rows else None
