"""The event callback that keeps a run on disk: record, index, and the report at the end."""

from __future__ import annotations

import logging
import sqlite3

from deskhand.agent.events import Event, RunFinished
from deskhand.runs.index import RunIndex
from deskhand.runs.record import RunRecord

log = logging.getLogger(__name__)


class Recorder:
    def __init__(self, record: RunRecord, index: RunIndex | None = None) -> None:
        self.record = record
        self.index = index

    def __call__(self, event: Event) -> None:
        self.record.append(event)
        if self.index is not None:
            try:
                self.index.record(self.record.redact(event), self.record.path)
            except sqlite3.Error as exc:
                # The run directory is the source of truth: a broken index must not stop a run.
                log.warning("could not update the run index %s: %s", self.index.path, exc)
        if isinstance(event, RunFinished):
            self.record.write_report()
