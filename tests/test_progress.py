"""Progress on stderr: a bar with count, rate and time left on a terminal, nothing otherwise.

In-process with a fake terminal stream and a fake clock; end to end with `ssfr-xl` run on a
pseudo-terminal (what a user sees) and with stderr piped (what a script sees).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ssfr_xl.progress import TerminalProgress, counting, format_duration, rate_and_time_left

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class FakeTerminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def frames(text: str) -> list[str]:
    """The successive states of a redrawn line, without terminal control codes."""
    return [ANSI.sub("", part).rstrip() for part in text.split("\r") if ANSI.sub("", part).strip()]


# --- in process -----------------------------------------------------------------------------


def test_format_duration() -> None:
    assert format_duration(0) == "0:00:00"
    assert format_duration(59.4) == "0:00:59"
    assert format_duration(61) == "0:01:01"
    assert format_duration(3 * 3600 + 7) == "3:00:07"
    assert format_duration(-5) == "0:00:00"


def test_rate_and_time_left() -> None:
    assert rate_and_time_left(0, 40, 0.0, "plans") == ""
    assert rate_and_time_left(10, 40, 5.0, "plans") == "2.0 plans/s  0:00:15 left"
    assert rate_and_time_left(40, 40, 8.0, "plans") == "5.0 plans/s"  # done: no time left
    assert rate_and_time_left(3_000, 9_000, 1.0, "files") == "3,000.0 files/s  0:00:02 left"


def test_a_bar_on_a_terminal_shows_count_share_rate_and_time_left() -> None:
    stream, clock = FakeTerminal(), Clock()
    progress = TerminalProgress(stream, clock=clock)
    progress("reading the district workbook")
    with counting(progress, 4, "plans", "writing plans") as advance:
        for _ in range(4):
            clock.now += 0.5
            advance()
    text = stream.getvalue()
    assert text.startswith("  ... reading the district workbook\n")
    shown = frames(text.split("\n", 1)[1])
    assert shown[0].startswith("writing plans  [") and shown[0].endswith("0/4    0%")
    assert "1/4   25%  2.0 plans/s  0:00:02 left" in shown[1]
    assert "2/4   50%  2.0 plans/s  0:00:01 left" in shown[2]
    assert shown[-1].endswith("4/4  100%  2.0 plans/s")
    assert "#" * 24 in shown[-1]  # the bar is full at the end
    assert text.endswith("\n"), "the finished bar leaves the cursor on a new line"


def test_a_bar_advances_by_more_than_one() -> None:
    stream, clock = FakeTerminal(), Clock()
    with TerminalProgress(stream, clock=clock).bar(10, "files", "checking") as advance:
        clock.now += 1
        advance(5)
    assert "5/10   50%  5.0 files/s  0:00:01 left" in frames(stream.getvalue())[1]


def test_nothing_at_all_when_the_stream_is_not_a_terminal() -> None:
    stream = io.StringIO()
    progress = TerminalProgress(stream)
    progress("reading the district workbook")
    with counting(progress, 3, "files", "checking") as advance:
        for _ in range(3):
            advance()
    assert stream.getvalue() == ""


def test_a_closed_stream_is_not_a_terminal() -> None:
    stream = FakeTerminal()
    stream.close()
    progress = TerminalProgress(stream)
    assert not progress.active
    progress("no error either")


def test_the_default_stream_is_stderr_at_the_time_of_the_call(monkeypatch) -> None:
    progress = TerminalProgress()
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    progress("now on a terminal")
    assert terminal.getvalue() == "  ... now on a terminal\n"
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    progress("now piped")
    assert terminal.getvalue() == "  ... now on a terminal\n"


def test_counting_with_a_plain_callable_reports_every_fifty_and_the_end() -> None:
    heard: list[str] = []
    with counting(heard.append, 120, "files", "checked") as advance:
        for _ in range(120):
            advance()
    assert heard == ["checked 50/120 files", "checked 100/120 files", "checked 120/120 files"]
    heard.clear()
    with counting(heard.append, 7, "plans") as advance:
        advance(3)
        advance(4)
    assert heard == ["7/7 plans"]


def test_an_empty_job_draws_nothing() -> None:
    stream = FakeTerminal()
    with TerminalProgress(stream).bar(0, "files") as advance:
        advance()
    assert stream.getvalue() == ""


# --- end to end -----------------------------------------------------------------------------


def ssfr_xl(*args: object) -> list[str]:
    return [sys.executable, "-m", "ssfr_xl", *[str(a) for a in args]]


def on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal; returns (exit code, stdout, what the terminal got)."""
    import pty

    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "120"}
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    got = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal is closed when the process ends
            break
        if not chunk:
            break
        got += chunk
    out = proc.stdout.read().decode() if proc.stdout else ""
    code = proc.wait(timeout=300)
    os.close(master)
    return code, out, got.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6-school district and its plans, built with stderr piped."""
    root = tmp_path_factory.mktemp("progress")
    for args in (("init", "district.xlsx", "--sample", "6"),
                 ("build", "district.xlsx", "--out", "plans")):
        done = subprocess.run(ssfr_xl(*args), cwd=root, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        assert done.stderr == "", "piped: no progress at all"
    return root


COMMANDS = {
    "build": (("build", "district.xlsx", "--out", "again", "--workers", "1"), "6/6", "plans/s"),
    "validate": (("validate", "plans", "--district", "district.xlsx"), "6/6", "files/s"),
    "consolidate": (("consolidate", "district.xlsx", "plans", "--out", "totals.xlsx"), "6/6",
                    "files/s"),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_long_command_draws_a_bar_on_a_terminal(season: Path, command: str) -> None:
    args, count, rate = COMMANDS[command]
    code, out, terminal = on_a_terminal(ssfr_xl(*args, *(("--force",) if command == "build"
                                                         else ())), season)
    assert code in (0, 1), terminal
    assert "Traceback" not in terminal
    shown = frames(terminal)
    assert any(count in f and "100%" in f for f in shown), shown
    assert any(rate in f for f in shown), shown
    assert count not in out and "\r" not in out, "progress never goes to stdout"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_long_command_is_silent_when_piped(season: Path, command: str) -> None:
    args, _count, _rate = COMMANDS[command]
    done = subprocess.run(ssfr_xl(*args, *(("--force",) if command == "build" else ())),
                          cwd=season, capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1), done.stderr
    assert done.stderr == ""
    assert done.stdout.strip(), "the result still goes to stdout"
