"""Progress of ``khomc review`` on the terminal.

Owns what the review prints while it runs.  On a terminal: a rich live display with the overall
bar (checks done of all, elapsed, ETA) and one line per running check with its state count and
states/s; each finished check scrolls above it as one line.  When the output is not a terminal
(CI logs, pipes), or with ``--no-progress``: only the plain one-line-per-check record
(``[3/50] k6.19/test-kho ... HOLDS (99 states, 0.1 s)``).  ``NO_COLOR`` (any value) turns colour
off, as https://no-color.org asks; ``TERM=dumb`` too.
"""

from __future__ import annotations

import os
import time


def _line(done: int, total: int, key: str, result, error=None) -> str:
    if result is None:
        return f"[{done}/{total}] {key} ... FAILED: {error or 'cancelled'}"
    stop = "" if result.exhaustive else f", stopped: {result.stop}"
    return (f"[{done}/{total}] {key} ... {result.verdict} ({result.distinct:,} states, "
            f"{result.seconds:.1f} s{stop})")


class ReviewProgress:
    """``start(key)``, ``update(key, states, rate)``, ``finish(key, result, error)``."""

    def __init__(self, total: int, out, enabled: bool = True):
        self.total = total
        self.out = out
        self.done = 0
        isatty = getattr(out, "isatty", lambda: False)
        self.live = enabled and isatty() and os.environ.get("TERM") != "dumb"
        self.running: dict[str, int] = {}
        self.started: dict[str, float] = {}
        self._progress = None

    def __enter__(self):
        if self.live:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)
            console = Console(file=self.out, no_color=bool(os.environ.get("NO_COLOR")),
                              highlight=False)
            self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                      MofNCompleteColumn(), TimeElapsedColumn(),
                                      TextColumn("ETA"), TimeRemainingColumn(),
                                      TextColumn("{task.fields[rate]}"), console=console,
                                      transient=True, refresh_per_second=4)
            self._progress.start()
            self._overall = self._progress.add_task("review", total=self.total, rate="")
        return self

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.stop()
        return False

    def start(self, key: str) -> None:
        self.started[key] = time.perf_counter()
        if self._progress is not None:
            self.running[key] = self._progress.add_task(f"  {key} running", total=None,
                                                        rate="")

    def update(self, key: str, states: int, rate: float) -> None:
        if self._progress is not None and key in self.running:
            self._progress.update(self.running[key],
                                  description=f"  {key} running, {states:,} states",
                                  rate=f"{rate:,.0f} states/s")

    def finish(self, key: str, result, error=None) -> None:
        self.done += 1
        line = _line(self.done, self.total, key, result, error)
        if self._progress is not None:
            task = self.running.pop(key, None)
            if task is not None:
                self._progress.remove_task(task)
            self._progress.advance(self._overall)
            style = ("red" if result is not None and str(result.verdict) == "VIOLATED"
                     else "yellow" if result is None or str(result.verdict) == "UNKNOWN"
                     else "green")
            self._progress.console.print(line, style=style, markup=False)
        else:
            self.out.write(line + "\n")
            self.out.flush()
