"""Outputs: CSV and JSON text made safe, files written atomically, and one run's outputs
published together.

Text safety. Everything ssfr-xl writes may hold text from returned files: cell text (a plan
cell may hold control characters, e.g. `_x0001_` decoded to U+0001) and file names (any bytes
but "/" and NUL; Python gives undecodable bytes as lone surrogates). Before any output sees it,
text goes through `cell_text` (cells of CSV, JSON and workbooks: tabs and line breaks kept) or
`line_text` (file names and anything printed on one line). Both replace what cannot be written
or would fool a reader with a visible escape: a byte that was not UTF-8 becomes `\\xff`, a
control character `\\x01`, a bidirectional override `\\u202e`.

Places. Outputs never go inside the folder of returned plans and never replace an input
(`check_output_places`, a usage error). An `OutputSet` stages every file of a run beside its
target and renames them all into place at the end; a failure before that leaves nothing new
and the old outputs as they were.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from .errors import FileError, SsfrError

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
XLSX_MAX_CELL = 32767  # characters a worksheet cell holds


_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")

# Characters no output may carry as they are. XML 1.0 (xlsx) forbids C0 controls other than
# tab, line feed and carriage return, lone surrogates, U+FFFE and U+FFFF; C1 controls and DEL
# are invisible; lone surrogates stand for bytes of a file name that were not UTF-8 and cannot
# be encoded at all.
_CELL_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# On one line (file names, printed reports) also line breaks, tabs and the bidirectional
# overrides and isolates that make a name read differently from what it is.
_LINE_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    o = ord(match.group())
    if 0xDC80 <= o <= 0xDCFF:  # os.fsdecode's surrogateescape: the byte o - 0xDC00
        return f"\\x{o - 0xDC00:02x}"
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"


def cell_text(value: str) -> str:
    """Text any output cell can hold: control characters and stray bytes made visible."""
    return _CELL_UNSAFE.sub(_escape, value)


def line_text(value: object) -> str:
    """Text safe to print on one line (a terminal, a log) or to show as a file name."""
    return _LINE_UNSAFE.sub(_escape, str(value))


def shown(path: Path | str) -> str:
    """A file's name as every output shows it (see `line_text`)."""
    return line_text(Path(path).name if isinstance(path, Path) else path)


def clean(value: object) -> object:
    """A cell value with its text made safe (`cell_text`); other values as they are."""
    return cell_text(value) if isinstance(value, str) else value


def safe_text(value: object) -> object:
    """Text a spreadsheet will not run as a formula (leading = + - @ get a quote); others as is.

    A plain number such as -252718.40 is left alone: it opens as a number, not a formula.
    Control characters and bytes that are not UTF-8 are made visible (`cell_text`).
    """
    if isinstance(value, str):
        value = cell_text(value)
        if value[:1] in FORMULA_TRIGGERS and not _NUMBER.fullmatch(value):
            return "'" + value
    return value


def xlsx_value(value: object) -> object:
    """A value a worksheet cell can hold: safe text, at most 32,767 characters."""
    if isinstance(value, str):
        value = cell_text(value)
        if len(value) > XLSX_MAX_CELL:
            value = value[: XLSX_MAX_CELL - 40] + " ... (cut: too long for a cell)"
    return value


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp_prefix(name: str) -> str:
    # a 255-byte target name must still leave room for the random part of the temp name
    return "." + os.fsdecode(os.fsencode(name)[:120]) if name else ".ssfr-xl"


class MissingFolderError(FileError):
    """An output's folder does not exist; ssfr-xl creates no folders above its outputs."""


def _folder_of(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def require_folder(path: Path, what: str = "", creates: bool = False) -> None:
    """Refuse an output whose folder does not exist (MissingFolderError, exit 1).

    ssfr-xl writes a file only into a folder that exists, and creates a folder only when the
    folder itself is the output (build --out, consolidate --exports, validate --feedback); the
    folder above it must exist. `what` names the option in the message.
    """
    path = Path(path)
    parent = _folder_of(path)
    if parent.is_dir():
        return
    label = f"{what} {line_text(path)}" if what else line_text(path)
    made = (f" ssfr-xl creates the folder {shown(path)} itself, but not the folders above it."
            if creates else "")
    if parent.exists():
        raise MissingFolderError(f"Cannot write in {line_text(parent)}: it is a file, not a "
                                 f"folder. Choose another place for {label}.")
    raise MissingFolderError(
        f"Cannot write in {line_text(parent)}: the folder does not exist. Create it first "
        f"(mkdir -p {line_text(parent)}) or choose another place for {label}.{made}")


@contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """A temporary file beside `path`, renamed onto it when the block succeeds.

    Readers never see a half-written output, and a failure leaves the old file in place. The
    folder must exist (`require_folder`): it is never created here.
    """
    path = Path(path)
    directory = _folder_of(path)
    require_folder(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path.name) + ".", suffix=".tmp",
                                   dir=directory)
        os.close(fd)
    except OSError as e:
        raise FileError(f"Cannot write in {line_text(directory)}: {e.strerror or e}.") from e
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal rights
        os.replace(tmp, path)
    except OSError as e:
        raise FileError(f"Cannot write {line_text(path)}: {e.strerror or e}.") from e
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text_atomically(path: Path, text: str) -> None:
    """Write UTF-8 text to `path` atomically."""
    with atomic_target(path) as tmp:
        tmp.write_text(text, encoding="utf-8", errors="backslashreplace", newline="")


# --- CSV for programs, .xlsx twins for people ---------------------------------------------
#
# A CSV export is read by programs (Python's csv, pandas, a database loader) and opened by
# people in a spreadsheet. Values are written as they are: an id is its 14 digits, never
# `="01999996000013"` or an id with a tab or apostrophe glued to it, which every program would
# then read wrong. A spreadsheet's CSV import, though, turns such text into a number
# (1.99999600000E+12, the leading zero lost). So (1) text a spreadsheet would change into
# another number is always quoted, which LibreOffice's "Format quoted field as text" import
# option honours and CSV readers ignore, and (2) every CSV export has an .xlsx twin in which
# ids are text cells and amounts numbers, which is the file to open in Excel.

_NUMERIC_TEXT = re.compile(r"[+-]?(?P<int>\d+)(?:\.(?P<frac>\d+))?(?P<exp>[eE][+-]?\d+)?")
_CSV_SPECIAL = re.compile('[,"\r\n]')


def changed_by_spreadsheets(text: str) -> bool:
    """True for text a spreadsheet's CSV import would read as a different number: leading
    zeros (0790, a CDS code), 12 or more digits (shown as 1.2E+11), more than 15 significant
    digits (rounded), or an exponent (1E5)."""
    m = _NUMERIC_TEXT.fullmatch(text)
    if m is None:
        return False
    whole, frac = m.group("int"), m.group("frac") or ""
    return bool(m.group("exp")) or (len(whole) > 1 and whole[0] == "0") or len(whole) >= 12 \
        or len((whole + frac).lstrip("0")) > 15


def amount(value: float) -> Decimal:
    """A money amount for exports: rounded to the cent as Excel's ROUND does, never -0.00.

    CSV shows it with two decimals (1234.50); the .xlsx twin stores it as a number formatted
    #,##0.00.
    """
    from .money import excel_round

    rounded = excel_round(float(value), 2)
    return Decimal(f"{0.0 if rounded == 0 else rounded:.2f}")


def _csv_field(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        text = str(safe_text(value))
        quote = changed_by_spreadsheets(text) or _CSV_SPECIAL.search(text) is not None
    else:
        text = str(value)
        quote = _CSV_SPECIAL.search(text) is not None
    return '"' + text.replace('"', '""') + '"' if quote else text


def _csv_line(values: Sequence[object]) -> str:
    fields = [_csv_field(v) for v in values]
    if fields == [""]:
        return '""\n'  # a lone empty field, quoted so the row is not a blank line
    return ",".join(fields) + "\n"


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV text: formula-safe text, numbers as written, and text a spreadsheet would turn into
    another number (ids) quoted."""
    return "".join(_csv_line(row) for row in [header, *rows])


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A formula-safe CSV, written atomically."""
    write_text_atomically(path, csv_text(header, rows))


def twin_path(csv_path: Path) -> Path:
    """The .xlsx twin of a CSV export: allocations.csv -> allocations.xlsx."""
    csv_path = Path(csv_path)
    if csv_path.suffix.lower() == ".csv":
        return csv_path.with_suffix(".xlsx")
    return csv_path.with_name(csv_path.name + ".xlsx")


_SHEET_UNSAFE = re.compile(r"[\[\]:*?/\\]")


def write_xlsx_table(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]],
                     sheet: str | None = None) -> None:
    """The spreadsheet twin of a CSV export, written atomically: text (ids included) as text
    cells, numbers as numbers (amounts formatted #,##0.00), header frozen and filtered, columns
    as wide as their contents (up to 60 characters), printable on US Letter. The same table
    gives the same bytes (fixed document date and zip entry times)."""
    # table_book builds on this module (atomic_target, xlsx_value): imported when used
    from .table_book import FIXED_DATE, Column, TableSheet, write_table_book

    path = Path(path)
    name = _SHEET_UNSAFE.sub("_", sheet or path.stem)[:31].strip("'") or "data"
    table = TableSheet(name, [Column(str(h)) for h in header], [list(r) for r in rows])
    write_table_book(path, [table], created=FIXED_DATE)


def check_writable(directory: Path) -> None:
    """Fail early, with a clear message, when outputs cannot be written in a folder."""
    directory = Path(directory)
    require_folder(directory / "output")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".ssfr-write-test.", dir=directory)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise FileError(f"Cannot write in {line_text(directory)}: {e.strerror or e}. Choose a "
                        "folder you can write to.") from e


# --- where outputs may go ------------------------------------------------------------------

class OutputPlaceError(SsfrError):
    """An output would go inside the returned plans or replace an input (a usage error)."""

    exit_code = 2


def _real(path: Path) -> str:
    return os.path.realpath(os.fspath(path))


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def same_place(a: Path, b: Path) -> bool:
    """The same file or folder (by resolved path, or device and inode for hard links and
    case-insensitive file systems)."""
    ra, rb = _real(a), _real(b)
    if ra == rb:
        return True
    sa, sb = _stat(ra), _stat(rb)
    return sa is not None and sb is not None and os.path.samestat(sa, sb)


def _inside(path: Path, folder: Path) -> bool:
    """`path` is `folder` or anywhere below it (it need not exist yet)."""
    target = _stat(_real(folder))
    if target is None:
        return False
    here = _real(path)
    while True:
        st = _stat(here)
        if st is not None and os.path.samestat(st, target):
            return True
        parent = os.path.dirname(here)
        if parent == here:
            return False
        here = parent


def check_output_places(outputs: Sequence[tuple[str, Path | None]],
                        folders: Sequence[tuple[str, Path]],
                        files: Sequence[tuple[str, Path | None]]) -> None:
    """Refuse (usage error, exit 2) an output inside a folder of returned plans, equal to an
    input file, or equal to another output; messages name both.

    outputs: (option, path) of files and folders to write; folders: (what, folder) of returned
    plans; files: (what, path) of input files (returned files, the district workbook...).
    """
    given = [(label, Path(p)) for label, p in outputs if p is not None]
    for label, path in given:
        for what, folder in folders:
            if _inside(path, folder):
                raise OutputPlaceError(
                    f"{label} {line_text(path)} is inside {what} {line_text(folder)}. Outputs "
                    "never go in the folder of returned plans (they would be read as plans "
                    "next time): choose a place outside it.")
        for what, other in files:
            if other is not None and same_place(path, Path(other)):
                raise OutputPlaceError(
                    f"{label} {line_text(path)} is {what} {line_text(other)}: ssfr-xl never "
                    "writes over its inputs. Choose another name.")
    for i, (label, path) in enumerate(given):
        for other_label, other in given[i + 1:]:
            if same_place(path, other):
                raise OutputPlaceError(
                    f"{label} {line_text(path)} and {other_label} {line_text(other)} are the "
                    "same place. Give each output its own place.")


# --- one run's outputs, together or not at all ----------------------------------------------

class OutputSet:
    """Every file of one run, staged beside its final place and renamed into place together.

        outputs = OutputSet(protected=[district, *returned_files])
        path = outputs.file(totals)            # write there ...
        folder = outputs.folder(exports)       # ... and into that folder
        outputs.publish()                      # all appear, or none (old files stay)

    Staging folders are hidden (`.ssfr-xl-...`) and removed by `publish` and `discard`.
    Creating them is also the early check that the places are writable.
    """

    def __init__(self, protected: Iterable[Path] = ()):
        self._protected = [Path(p) for p in protected]
        self._stages: list[Path] = []
        self._files: list[tuple[Path, Path]] = []  # (staged file, final file)
        self._new_folders: list[tuple[Path, Path]] = []  # (staged folder, final folder)
        self._folders: dict[str, Path] = {}  # final folder -> where its files are staged
        self._published = False

    def _stage_in(self, directory: Path, name: str = "") -> Path:
        require_folder(Path(directory) / (name or "output"))  # no folder is ever made above
        try:
            stage = Path(tempfile.mkdtemp(prefix=_temp_prefix(name or "ssfr-xl") + ".stage-",
                                          dir=directory))
        except OSError as e:
            raise FileError(f"Cannot write in {line_text(directory)}: {e.strerror or e}. "
                            "Choose a folder you can write to.") from e
        self._stages.append(stage)
        return stage

    def file(self, final: Path) -> Path:
        """Where to write the file that will become `final`."""
        final = Path(final)
        directory = final.parent if str(final.parent) else Path(".")
        if final.is_dir():
            raise FileError(f"Cannot write {line_text(final)}: it is a folder. Give a file "
                            "name.")
        staged = self._stage_in(directory, final.name) / "output"
        self._files.append((staged, final))
        return staged

    def folder(self, final: Path) -> Path:
        """Where to write the files that will appear in the folder `final`."""
        final = Path(final)
        key = _real(final)
        if key in self._folders:
            return self._folders[key]
        if final.exists() and not final.is_dir():
            raise FileError(f"Cannot write in {line_text(final)}: it is a file, not a folder.")
        if final.is_dir():
            staged = self._stage_in(final)
        else:  # a new folder: staged whole beside it, renamed into place at the end
            parent = final.parent if str(final.parent) else Path(".")
            staged = self._stage_in(parent, final.name) / "folder"
            staged.mkdir()
            self._new_folders.append((staged, final))
        self._folders[key] = staged
        return staged

    def _guard(self, final: Path) -> None:
        for p in self._protected:
            if same_place(final, p):
                raise FileError(f"Refusing to write {line_text(final)}: it is an input of "
                                "this run. Nothing was written.")

    def publish(self) -> None:
        """Rename every staged file into place; on any failure undo and keep the old files."""
        done: list[tuple[str, Path, Path | None, Path]] = []  # (kind, final, backup, staged)
        try:
            moves = list(self._files)
            for staged_folder, final in self._new_folders:
                if final.exists():  # appeared meanwhile: fill it file by file
                    moves += [(p, final / p.name) for p in sorted(staged_folder.iterdir())]
                else:
                    os.rename(staged_folder, final)
                    done.append(("folder", final, None, staged_folder))
            for key, staged_folder in self._folders.items():
                if any(staged_folder == s for s, _f in self._new_folders):
                    continue
                moves += [(p, Path(key) / p.name) for p in sorted(staged_folder.iterdir())]
            for staged, final in moves:
                self._guard(final)
                backup = None
                if final.exists():
                    if final.is_dir():
                        raise FileError(f"Cannot write {line_text(final)}: a folder has that "
                                        "name.")
                    backup = staged.with_name(staged.name + ".old")
                    try:
                        os.link(final, backup)
                    except OSError:
                        backup = None  # no hard links here: the old file cannot be restored
                os.replace(staged, final)
                done.append(("file", final, backup, staged))
        except (OSError, FileError) as e:
            for kind, final, backup, staged in reversed(done):
                try:
                    if kind == "folder":
                        os.rename(final, staged)
                    elif backup is not None:
                        os.replace(backup, final)
                    else:
                        os.unlink(final)
                except OSError:
                    pass
            self.discard()
            if isinstance(e, FileError):
                raise
            raise FileError(f"Cannot write {line_text(e.filename or '')}: "
                            f"{e.strerror or e}. Nothing new was written.") from e
        self._published = True
        self.discard()

    def discard(self) -> None:
        """Remove the staging folders (and anything staged that was not published)."""
        for stage in self._stages:
            shutil.rmtree(stage, ignore_errors=True)
        self._stages.clear()
