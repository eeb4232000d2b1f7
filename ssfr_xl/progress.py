"""Progress of long runs: steps and counted work, drawn on stderr only when it is a terminal.

    progress = TerminalProgress()                     # what every command passes to the library
    progress("reading the district workbook")          # a step: one line
    with counting(progress, 40, "plans") as advance:   # counted work: a bar
        for job in jobs:
            ...
            advance()

On a terminal a counted job is one line redrawn in place (click.progressbar): the count, the
share done, the rate and the time left, e.g.

    writing plans  [############------]  26/40   65%  12.4 plans/s  0:00:01 left

When the stream is not a terminal (piped, redirected to a file, a test runner) nothing at all is
written, so stderr holds only warnings and errors.

The library takes any `Callable[[str], None]` as its progress (the commands pass a
`TerminalProgress`, tests and scripts may pass a function or nothing); `counting` draws the bar
for a `TerminalProgress` and otherwise reports a line now and then to the callable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

import click

Progress = Callable[[str], None]
Advance = Callable[..., None]
LINE_EVERY = 50  # a plain callable hears of counted work every this many items, and at the end


def quiet(_message: str) -> None:
    """Progress that reports nothing."""
    return None


def format_duration(seconds: float) -> str:
    """h:mm:ss, as a person reads a time left."""
    seconds = max(0, int(seconds + 0.5))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def rate_and_time_left(done: int, total: int, elapsed: float, unit: str) -> str:
    """'12.4 plans/s  0:00:01 left' once something is done; '' before."""
    if done <= 0 or elapsed <= 0:
        return ""
    rate = done / elapsed
    text = f"{rate:,.1f} {unit}/s"
    if done < total:
        text += f"  {format_duration((total - done) / rate)} left"
    return text


class TerminalProgress:
    """Steps and bars on a stream (stderr by default) when it is a terminal; silence otherwise.

    The stream is looked up on every call, so a command run under a test runner or with its
    stderr redirected is quiet, and one run in a terminal shows its progress.
    """

    def __init__(self, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self._stream = stream
        self._clock = clock

    @property
    def stream(self) -> TextIO:
        """Where progress goes."""
        return self._stream if self._stream is not None else sys.stderr

    @property
    def active(self) -> bool:
        """True when the stream is a terminal (anything else gets nothing)."""
        stream = self.stream
        try:
            return not getattr(stream, "closed", False) and bool(stream.isatty())
        except (AttributeError, ValueError):  # closed or not a real stream
            return False

    def __call__(self, message: str) -> None:
        """Show one step on its own line."""
        if self.active:
            click.echo(f"  ... {message}", file=self.stream)

    @contextmanager
    def bar(self, total: int, unit: str, label: str = "") -> Iterator[Advance]:
        """A bar for `total` items of work; yields advance(n=1)."""
        if not self.active or total <= 0:
            yield _ignore
            return
        start = self._clock()
        state = {"done": 0}

        def info(_item: object) -> str:
            return rate_and_time_left(state["done"], total, self._clock() - start, unit)

        with click.progressbar(length=total, label=label or unit, file=self.stream,
                               show_pos=True, show_percent=True, show_eta=False,
                               item_show_func=info, width=24) as shown:
            def advance(n: int = 1) -> None:
                state["done"] += n
                shown.update(n)

            yield advance


def _ignore(n: int = 1) -> None:
    return None


@contextmanager
def counting(progress: Progress, total: int, unit: str, label: str = "") -> Iterator[Advance]:
    """Report `total` items of work: a bar on a terminal (`TerminalProgress`); for any other
    callable, a line "label n/total unit" every 50 items and at the end."""
    if isinstance(progress, TerminalProgress):
        with progress.bar(total, unit, label) as advance:
            yield advance
        return
    done = 0

    def advance(n: int = 1) -> None:
        nonlocal done
        before, done = done, done + n
        if done // LINE_EVERY > before // LINE_EVERY or (done >= total > before):
            progress(f"{label + ' ' if label else ''}{done:,}/{total:,} {unit}")

    yield advance


__all__ = ["Progress", "TerminalProgress", "counting", "quiet", "format_duration",
           "rate_and_time_left"]
