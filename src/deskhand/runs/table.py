"""The `deskhand runs` table."""

from __future__ import annotations

import time

from rich.table import Table
from rich.text import Text

from deskhand.runs.index import RunRow

STATUS_STYLES = {
    "done": "green",
    "running": "cyan",
    "budget_exceeded": "yellow",
    "stuck": "yellow",
    "refused": "yellow",
    "interrupted": "yellow",
}
TASK_WIDTH = 60


def runs_table(rows: list[RunRow]) -> Table:
    table = Table(title="deskhand runs", title_justify="left")
    table.add_column("id", style="bold", no_wrap=True)
    table.add_column("started", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("steps", justify="right")
    table.add_column("tokens", justify="right")
    table.add_column("cost", justify="right")
    table.add_column("task", max_width=TASK_WIDTH, no_wrap=True, overflow="ellipsis")
    for row in rows:
        # Text(...) rather than str: a task holding "[red]" must not be read as rich markup.
        table.add_row(
            Text(row.id),
            time.strftime("%Y-%m-%d %H:%M", time.localtime(row.started)),
            Text(row.status, style=STATUS_STYLES.get(row.status, "red")),
            str(row.steps),
            f"{row.input_tokens + row.output_tokens:,}",
            f"${row.cost_usd:.2f}",
            Text(" ".join(row.task.split())),  # one line: newlines would break the table
        )
    return table
