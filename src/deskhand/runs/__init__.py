"""Run records: each run's directory (events, screenshots, conversation, report) and an index."""

from deskhand.runs.index import (
    AmbiguousRunId,
    RunIndex,
    RunRow,
    default_index_path,
    default_runs_dir,
)
from deskhand.runs.record import RunRecord, new_run_id
from deskhand.runs.recorder import Recorder
from deskhand.runs.report import render_report
from deskhand.runs.table import runs_table

__all__ = [
    "AmbiguousRunId",
    "Recorder",
    "RunIndex",
    "RunRecord",
    "RunRow",
    "default_index_path",
    "default_runs_dir",
    "new_run_id",
    "render_report",
    "runs_table",
]
