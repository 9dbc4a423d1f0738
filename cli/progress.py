"""The progress bar of the commands that work through many images (`imgsearch index`, `imgsearch reindex`)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text


class ImagesPerSecond(ProgressColumn):
    """Over the whole run: results arrive a batch at a time, which makes rich's windowed speed jump."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        return Text(f"{task.completed / elapsed:.1f} img/s" if elapsed > 0 and task.completed else "- img/s")


def image_progress(console: Console, quiet: bool) -> Progress:
    """A bar with images/s, objects found, duplicates, failures and the time left (nothing when `quiet`)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        ImagesPerSecond(),
        TextColumn(
            "{task.fields[objects]} objects, {task.fields[duplicates]} duplicates, {task.fields[failed]} failed"
        ),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
    )
