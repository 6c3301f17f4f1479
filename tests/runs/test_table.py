"""The `deskhand runs` table."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from rich.console import Console
from run_sample import RUN_ID, make_sample

from deskhand.runs import runs_table


def test_the_table_shows_runs_without_reading_markup(tmp_path: Path) -> None:
    sample_run = make_sample(tmp_path)
    row = sample_run.index.get(RUN_ID)
    assert row is not None
    hostile = dataclasses.replace(row, id="x2", task="[red]boom[/red]\nline two", status="stuck")
    console = Console(record=True, width=140, color_system=None)
    console.print(runs_table([row, hostile]))
    text = console.export_text()
    assert RUN_ID in text and "done" in text and "$0.08" in text and "13,080" in text
    assert "Turn on dark mode in Settings" in text
    assert "[red]boom[/red] line two" in text
