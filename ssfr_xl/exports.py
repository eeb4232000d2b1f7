"""CSV and JSON outputs: written atomically, text made safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .errors import FileError

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def safe_text(value: object) -> object:
    """Text a spreadsheet will not run as a formula (leading = + - @ get a quote); others as is.

    A plain number such as -252718.40 is left alone: it opens as a number, not a formula.
    """
    if isinstance(value, str) and value[:1] in FORMULA_TRIGGERS and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """A temporary file beside `path`, renamed onto it when the block succeeds.

    Readers never see a half-written output, and a failure leaves the old file in place.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        os.close(fd)
    except OSError as e:
        raise FileError(f"Cannot write in {directory}: {e.strerror or e}.") from e
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal rights
        os.replace(tmp, path)
    except OSError as e:
        raise FileError(f"Cannot write {path}: {e.strerror or e}.") from e
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text_atomically(path: Path, text: str) -> None:
    """Write UTF-8 text to `path` atomically."""
    with atomic_target(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV text with formula-safe text cells and amounts as written."""
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_text(v) for v in row])
    return buffer.getvalue()


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A formula-safe CSV, written atomically."""
    write_text_atomically(path, csv_text(header, rows))


def check_writable(directory: Path) -> None:
    """Fail early, with a clear message, when outputs cannot be written in a folder."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".ssfr-write-test.", dir=directory)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise FileError(f"Cannot write in {directory}: {e.strerror or e}. Choose a folder you "
                        "can write to.") from e
