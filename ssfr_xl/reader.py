"""Safe, fast, isolated reading of returned plan workbooks (untrusted files from e-mail).

Every file goes through a pre-flight before any spreadsheet parser touches it:

    bytes       empty / too large / OLE2 (.xls or password-protected) / CSV or other text
    zip         directory: entry count, declared sizes and ratios, overlaps, damage
    inflate     every entry streamed through zlib with byte caps (declared sizes can lie),
                CRC-checked, scanned for DOCTYPE/ENTITY declarations; every part
                python-calamine reads must be UTF-8 (what every spreadsheet program writes),
                so it and the scans below decode the same characters from the same bytes
    structure   [Content_Types].xml, _rels/.rels, xl/workbook.xml and its rels,
                docProps/app.xml (defusedxml), mapped exactly as python-calamine maps them;
                sheets, names and <calcPr> only where Excel reads them (no
                mc:AlternateContent around them), each name once. Part names and
                relationship targets only in the one spelling every program resolves alike
                (no dot segments, //, backslashes, %-escapes; each Id once), and the parts
                python-calamine reads by name (xl/workbook.xml, xl/sharedStrings.xml) exactly
                the parts the relationships name (styles are never given to it)
    sheets      every worksheet part: cell references and the declared dimension against
                the row/column limits; formulas (their text, shared formulas expanded, the
                ranges array formulas cover), merged ranges and error values; and inside
                sheetData only what Excel reads the way python-calamine reads it: the
                schema's rows, cells and cell content in SpreadsheetML (any prefix), each
                cell once, at its canonical address (r="G7"); every <v> a value
                python-calamine reads whole (no comments, CDATA or references in it, a plain
                number, text number within the texts, 0/1, or an error it knows).
                C-level patterns when the XML has the canonical form Excel, LibreOffice,
                gnumeric and openpyxl write (cross-checked), else a streaming expat pass by
                namespace
    strings     sharedStrings.xml in the same schema form (python-calamine joins every <t>
                of a text outside its phonetic runs, as Excel shows it, in any form)

Only then does python-calamine read the values, of the requested sheets only, and only from
a new uncompressed zip of exactly the parts that were checked, so no difference between how
this module and python-calamine read a zip (duplicate names, lying sizes) can matter.
read_many does all of this in forked worker processes with a memory limit and a per-file
timeout, so a file that makes python-calamine abort (it does, on a cell at XFD1048576) costs
one worker, not the run.

ReadProblem codes (stable; `message` speaks to the person who sent the file):

    empty-file, file-too-large, unreadable          the file itself
    old-excel-format, password-protected            OLE2 container (.xls / encrypted .xlsx)
    not-an-xlsx-file, opendocument-file             some other kind of file
    truncated-file                                  damaged or incomplete zip
    zip-bomb, unsafe-xml, too-many-cells,           hostile or absurd content
    too-many-strings
    unsupported-encoding                            a part python-calamine reads is not UTF-8
    duplicate-cells                                 one cell recorded twice on a sheet
    alternate-content                               mc:AlternateContent around cells, rows,
                                                    texts, or the workbook's sheets and names
    unexpected-markup                               cell content or text in a form Excel
                                                    does not read (foreign or misplaced
                                                    elements, <v> before <f>, two <t> ...)
    read-timeout, read-crashed, read-out-of-memory  the isolated worker gave up (read_many)
    macro-enabled, external-links                   warnings: values were read
"""

from __future__ import annotations

import codecs
import faulthandler
import hashlib
import io
import os
import re
import resource
import signal
import stat
import struct
import time
import zipfile
import zlib
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing import connection as mp_connection
from multiprocessing import get_context
from operator import itemgetter
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError
from xml.parsers import expat

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring
from python_calamine import CalamineWorkbook

from .errors import SsfrError
from .model import Finding

__all__ = [
    "Limits",
    "RawWorkbook",
    "ReadProblem",
    "preflight",
    "read_many",
    "read_workbook",
]

MB = 2**20


@dataclass(frozen=True)
class Limits:
    """Named limits for reading one returned plan (a plan is about 50 KB)."""

    max_file_bytes: int = 25 * MB
    max_zip_entries: int = 300
    max_uncompressed_bytes: int = 150 * MB
    max_compression_ratio: float = 150.0  # per entry, for entries above ratio_floor_bytes
    ratio_floor_bytes: int = 1 * MB  # small parts compress far better; only big ones count
    max_rows: int = 5000  # per sheet: declared <dimension> and any cell reference
    max_columns: int = 250
    max_shared_strings_bytes: int = 30 * MB
    timeout_seconds: float = 30.0  # per file, in the worker (read_many)
    memory_mb: int = 1500  # address space per worker (RLIMIT_AS, read_many)


class ReadProblem(Exception):
    """A file that cannot be read; code is stable kebab-case, message speaks to the sender."""

    def __init__(self, code: str, message: str, severity: str = "error", *,
                 sheet: str = "", cell: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.severity = severity
        self.sheet = sheet
        self.cell = cell

    def __reduce__(self):
        # Exceptions pickle their args; ours are keyword-shaped, and results cross a pipe.
        return (_rebuild_problem, (self.code, self.message, self.severity, self.sheet,
                                   self.cell))

    def __repr__(self) -> str:
        return f"ReadProblem({self.code!r}, {self.message!r}, {self.severity!r})"

    def as_finding(self, file: str, school_id: str = "") -> Finding:
        """The problem as a Finding on `file`."""
        return Finding(file, school_id, self.sheet, self.cell, self.severity, self.code,
                       self.message)


def _rebuild_problem(code: str, message: str, severity: str, sheet: str,
                     cell: str) -> ReadProblem:
    return ReadProblem(code, message, severity, sheet=sheet, cell=cell)


@dataclass
class RawWorkbook:
    """What a returned workbook holds, read safely; no interpretation."""

    path: Path
    sheet_names: list[str]  # in workbook order
    hidden_sheets: set[str]  # hidden and very hidden
    values: dict[str, list[list[object]]]  # requested worksheets: rows from A1; '' for empty
    # requested worksheets: A1 coordinates of every formula cell: formula_text's keys plus
    # every cell an array formula or data table covers
    formulas: dict[str, set[str]]
    defined_names: dict[str, str]  # workbook-scoped name -> text ("'Staffing'!$D$7:$D$156")
    merged: dict[str, list[str]]  # requested worksheets: merged ranges ("A1:C1")
    warnings: list[ReadProblem]  # non-fatal: macro-enabled, external-links
    application: str  # docProps/app.xml <Application>, '' if none
    local_names: dict[str, dict[str, str]] = field(default_factory=dict)  # sheet-scoped names
    errors: dict[str, dict[str, str]] = field(default_factory=dict)  # sheet -> cell -> "#REF!"
    sha256: str = ""  # of the bytes that were read
    size: int = 0  # bytes
    # requested worksheets: cell -> formula as a spreadsheet shows it, without the "=" and
    # XML-unescaped; shared formulas expanded to each cell (relative references moved, as
    # Excel does); an array formula's or data table's text on its anchor only (a data table
    # as Excel shows it, without braces: "TABLE(A1,B1)", "TABLE(A1,)", "TABLE(,B1)")
    formula_text: dict[str, Mapping[str, str]] = field(default_factory=dict)
    # requested worksheets: anchor cell -> the range ("D7:D20") its array formula or data table
    # covers (every cell of it is in formulas)
    array_ranges: dict[str, dict[str, str]] = field(default_factory=dict)
    # workbook.xml <calcPr> attributes as written (calcMode, fullCalcOnLoad, iterate ...);
    # empty if none: the validator decides what they mean
    calc: dict[str, str] = field(default_factory=dict)


# --- messages -----------------------------------------------------------------------------

_RESAVE = "Open it in Excel, save it as Excel Workbook (.xlsx) and send that file again."


def _mb(n: float) -> str:
    return f"{n / MB:,.1f} MB" if n >= MB else f"{n / 1024:,.0f} KB"


def _damaged(detail: str) -> ReadProblem:
    return ReadProblem(
        "truncated-file",
        f"The file is incomplete or damaged ({detail}); it may have been cut off while it was "
        "sent or saved. Open it in Excel to check that your plan is all there, save it again "
        "as Excel Workbook (.xlsx) and send it again.")


def _not_xlsx(detail: str) -> ReadProblem:
    return ReadProblem(
        "not-an-xlsx-file",
        f"{detail} Send the plan workbook the district sent you, filled in and saved as Excel "
        "Workbook (.xlsx).")


def _bomb(detail: str) -> ReadProblem:
    return ReadProblem(
        "zip-bomb",
        f"The file unpacks to far more than any plan workbook ({detail}), so it was not read. "
        "It may be damaged or not a real spreadsheet. Send the plan again as a normal .xlsx "
        "file saved by Excel.")


def _unsafe(part: str) -> ReadProblem:
    return ReadProblem(
        "unsafe-xml",
        f"The file contains XML declarations (DOCTYPE/ENTITY in {part}) that Excel never "
        f"writes, so it was not read, for safety. {_RESAVE}")


# --- pre-flight: bytes --------------------------------------------------------------------

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_STREAMS = ("EncryptionInfo".encode("utf-16-le"),
                      "EncryptedPackage".encode("utf-16-le"))


def _load(path: Path, limits: Limits) -> bytes:
    """The file's bytes, after the checks that need only its size and kind."""
    try:
        # O_NONBLOCK: opening a FIFO someone dropped in the folder must not hang the reader.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | os.O_CLOEXEC)
    except OSError as e:
        raise ReadProblem("unreadable", f"The file could not be opened ({e.strerror or e}). "
                          "Send it again.") from None
    try:
        st = os.fstat(fd)
    except OSError as e:
        os.close(fd)
        raise ReadProblem("unreadable", f"The file could not be read ({e.strerror or e}). "
                          "Send it again.") from None
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise ReadProblem("unreadable", "This is not a regular file (a folder, device or pipe); "
                          "send the plan workbook itself.")
    with os.fdopen(fd, "rb") as fh:
        if st.st_size > limits.max_file_bytes:
            raise _too_large(st.st_size, limits)
        try:
            data = fh.read(limits.max_file_bytes + 1)  # the file may grow after fstat
        except OSError as e:
            raise ReadProblem("unreadable", f"The file could not be read ({e.strerror or e}). "
                              "Send it again.") from None
    if not data:
        raise ReadProblem("empty-file", "The file is empty (0 bytes): it was not saved "
                          "completely, or the attachment failed. Save the plan in Excel and "
                          "send it again.")
    if len(data) > limits.max_file_bytes:
        raise _too_large(len(data), limits)
    return data


def _too_large(size: int, limits: Limits) -> ReadProblem:
    return ReadProblem(
        "file-too-large",
        f"The file is {_mb(size)}, far larger than a plan workbook (about 50 KB; the limit is "
        f"{_mb(limits.max_file_bytes)}). Remove pictures or pasted data, save it as Excel "
        "Workbook (.xlsx) and send it again.")


def _not_a_zip(data: bytes) -> ReadProblem:
    """Say what the file is, when it is not a zip, in words the sender can act on."""
    if data.startswith(_OLE2):
        if any(name in data for name in _ENCRYPTED_STREAMS):
            return ReadProblem(
                "password-protected",
                "The workbook has a password to open it, so it cannot be read. Remove the "
                "password (in Excel: File > Info > Protect Workbook > Encrypt with Password, "
                "clear it), save, and send it again.")
        return ReadProblem(
            "old-excel-format",
            "This is an old-format Excel file (.xls, Excel 97-2003) or another old Office "
            "file. In Excel choose File > Save As > Excel Workbook (.xlsx) and send the .xlsx "
            "file.")
    head = data[:4096]
    low = head.lower()
    if head.startswith(b"%PDF"):
        return _not_xlsx("This is a PDF, not an Excel workbook.")
    if b"urn:schemas-microsoft-com:office:spreadsheet" in head:
        return _not_xlsx("This is an XML Spreadsheet 2003 file renamed .xlsx.")
    if b"<html" in low or b"<!doctype html" in low or b"<table" in low:
        return _not_xlsx("This is a web page (HTML) renamed .xlsx, not an Excel workbook.")
    text = _as_text(head)
    if text is not None:
        lines = [ln for ln in text.splitlines()[:10] if ln.strip()]
        delimited = sum(1 for ln in lines if any(d in ln for d in ",;\t"))
        if lines and delimited >= max(1, len(lines) // 2):
            return _not_xlsx("This is a CSV/text file renamed .xlsx, not an Excel workbook.")
        return _not_xlsx("This is a text file renamed .xlsx, not an Excel workbook.")
    return _not_xlsx("This file is not an Excel workbook (.xlsx).")


def _as_text(head: bytes) -> str | None:
    """The start of the file as text, if it looks like text at all."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", errors="replace")
    else:
        text = head.decode("utf-8", errors="replace")
        if text.count("\ufffd") > len(text) // 100:  # not UTF-8: Excel's CSV is often cp1252
            text = head.decode("cp1252", errors="replace")
    bad = sum(1 for ch in text if (ch < " " and ch not in "\t\r\n\f") or ch == "\ufffd")
    return text if text and bad <= len(text) // 100 else None


# --- pre-flight: text encoding ------------------------------------------------------------

_BOM_UTF8 = b"\xef\xbb\xbf"
_HEAD = 1024  # bytes at a part's start that hold its byte-order mark and XML declaration
_DECLARED_ENCODING = re.compile(rb"""\sencoding\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _utf8_part(name: str) -> bool:
    """Whether python-calamine reads the part (so it must be UTF-8, as our scans read it)."""
    lower = name.lower()
    return lower in _CALAMINE_PARTS or (lower.startswith(_WORKSHEET_DIRS)
                                        and lower.endswith(".xml"))


def _encoding_problem(part: str, how: str) -> ReadProblem:
    return ReadProblem(
        "unsupported-encoding",
        f"Part {part} of the file {how}, but Excel, LibreOffice and Google Sheets always "
        "write UTF-8, so the file might not be read the way a spreadsheet shows it (another "
        "program made or changed it). Open the file in Excel and save it as Excel Workbook "
        "(.xlsx), then send that file again.")


class _Utf8Guard:
    """Refuses a part that is not UTF-8: by its start (byte-order mark, NUL pattern, the
    encoding its XML declaration names), then by decoding every byte, incrementally.

    python-calamine and the scans here must read the same characters from the same bytes;
    every program that writes .xlsx files writes UTF-8, so nothing else is accepted.
    """

    def __init__(self, part: str):
        self.part = part
        self.head = b""
        self.decided = False
        self.decoder = codecs.getincrementaldecoder("utf-8")()

    def feed(self, chunk: bytes) -> None:
        if self.decided:
            self._decode(chunk)
            return
        self.head += chunk
        if len(self.head) >= _HEAD:
            self._judge()

    def close(self) -> None:
        if not self.decided:
            self._judge()
        self._decode(b"", final=True)

    def _judge(self) -> None:
        head, self.head, self.decided = self.head, b"", True
        if head.startswith((b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")):
            raise _encoding_problem(self.part, "is written in UTF-32")
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise _encoding_problem(self.part, "is written in UTF-16")
        if b"\x00" in head[:4]:
            raise _encoding_problem(self.part, "is written in UTF-16 or UTF-32 (without a "
                                               "byte-order mark)")
        text = (head[3:] if head.startswith(_BOM_UTF8) else head).lstrip(b" \t\r\n")
        if text.startswith(b"<?xml") and text[5:6] in (b" ", b"\t", b"\r", b"\n"):
            end = text.find(b"?>")
            m = _DECLARED_ENCODING.search(text, 0, end if end >= 0 else len(text))
            if m is not None:
                name = m[1] if m[1] is not None else m[2]
                if name.lower() != b"utf-8":
                    shown = name.decode("ascii", "replace")[:40]
                    raise _encoding_problem(self.part, f"says it is written in {shown!r}")
        self._decode(head)

    def _decode(self, data: bytes, final: bool = False) -> None:
        try:
            self.decoder.decode(data, final)
        except UnicodeDecodeError:
            raise _encoding_problem(self.part, "holds bytes that are not UTF-8 text") from None


# --- pre-flight: zip ----------------------------------------------------------------------

_LOCAL_SIG = b"PK\x03\x04"
_EOCD_SIG = b"PK\x05\x06"
_READ_CHUNK = 256 * 1024  # compressed bytes fed to zlib at a time
_OUT_CHUNK = 256 * 1024  # decompressed bytes zlib may produce per call: the byte cap's grain


def _utf16_pattern(word: bytes, little: bool) -> bytes:
    parts = [re.escape(b"<"), re.escape(b"!")]
    parts += [b"[" + re.escape(bytes([c, c | 32])) + b"]" for c in word]
    return b"".join(p + b"\x00" if little else b"\x00" + p for p in parts)


# DOCTYPE or ENTITY in UTF-8 or UTF-16 (either byte order), case-insensitively because
# quick-xml, which python-calamine uses, does not insist on the upper case. Each pattern is
# searched only where its literal start occurs: `in` is memchr-fast, an alternation is not.
_UNSAFE = (
    (b"<!", re.compile(rb"<!(?i:DOCTYPE|ENTITY)")),
    (b"<\x00!\x00", re.compile(b"|".join(_utf16_pattern(w, True)
                                        for w in (b"DOCTYPE", b"ENTITY")))),
    (b"\x00<\x00!", re.compile(b"|".join(_utf16_pattern(w, False)
                                        for w in (b"DOCTYPE", b"ENTITY")))),
)
_UNSAFE_OVERLAP = 32  # longer than the longest pattern, so a match across chunks is found


def _declaration_patterns(head: bytes) -> tuple[tuple[bytes, re.Pattern[bytes]], ...]:
    """The patterns worth searching in a part that starts with `head`.

    UTF-8 text cannot hold NUL bytes, so only a part with NULs near its start (UTF-16, with or
    without a byte-order mark) needs the UTF-16 patterns; searching all three everywhere
    costs a millisecond per plan.
    """
    return _UNSAFE if b"\x00" in head[:4] or head[:2] in (b"\xff\xfe", b"\xfe\xff") \
        else _UNSAFE[:1]


def _declares(buf: bytes, patterns: tuple[tuple[bytes, re.Pattern[bytes]], ...]) -> bool:
    """Whether bytes hold a DOCTYPE or ENTITY declaration."""
    return any(start in buf and pattern.search(buf) for start, pattern in patterns)


def _entry_count(data: bytes) -> int | None:
    """Entry count from the end-of-central-directory record, before zipfile builds them all."""
    pos = data.rfind(_EOCD_SIG, max(0, len(data) - 65557))
    if pos < 0 or pos + 22 > len(data):
        return None
    total = int.from_bytes(data[pos + 10:pos + 12], "little")
    if total == 0xFFFF and pos >= 20 and data[pos - 20:pos - 16] == b"PK\x06\x07":
        at = int.from_bytes(data[pos - 12:pos - 4], "little")
        if data[at:at + 4] == b"PK\x06\x06":
            total = int.from_bytes(data[at + 32:at + 40], "little")
    return total


def _damaged_part(detail: str) -> ReadProblem:
    return ReadProblem("not-an-xlsx-file", f"The file is damaged: {detail}. {_RESAVE}")


def _odd_part(detail: str) -> ReadProblem:
    return ReadProblem(
        "unexpected-markup",
        f"The file {detail}, which Excel never writes and which spreadsheet programs read "
        "differently, so what a spreadsheet shows could differ from what would be counted; "
        f"the file was not read. {_RESAVE}")


def _check_entry_name(name: str) -> None:
    """Refuse a zip entry name that programs could map to different paths."""
    segments = name.split("/")
    if name.startswith("/") or "\\" in name or any(
            seg in ("", ".", "..") for seg in (segments[:-1] if name.endswith("/") else segments)):
        raise _damaged_part(f"it holds a part with a path no spreadsheet program writes "
                            f"({name[:80]!r})")


@dataclass
class _Entry:
    info: zipfile.ZipInfo
    start: int  # offset of the compressed data
    end: int


class _Package:
    """A zip held in memory whose entries are only ever read through capped streams."""

    def __init__(self, data: bytes, limits: Limits):
        self.data = data
        self.view = memoryview(data)
        self.limits = limits
        self.inflated = 0  # decompressed bytes so far, over all entries
        self.kept: dict[str, bytes] = {}  # checked parts python-calamine will be given
        count = _entry_count(data)
        if count is None:
            raise _damaged("the end of the zip directory is missing")
        if count > limits.max_zip_entries:
            raise _bomb(f"{count:,} parts; a plan has about 20")
        try:
            infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
        except Exception as e:  # zipfile raises many types on hostile directories
            raise _damaged(f"the zip directory cannot be read: {e}") from None
        if len(infos) > limits.max_zip_entries:
            raise _bomb(f"{len(infos):,} parts; a plan has about 20")
        self.entries: dict[str, _Entry] = {}
        self.by_lower: dict[str, str] = {}
        for info in infos:
            _check_entry_name(info.filename)
            lower = info.filename.lower()
            if lower in self.by_lower:
                # python-calamine looks names up ignoring case and takes the first: a second
                # copy is what a checker and a parser could disagree about.
                raise _damaged(f"it holds two parts named {info.filename}")
            self.by_lower[lower] = info.filename
            self.entries[info.filename] = _Entry(info, *self._span(info))
        self._check_overlap()

    def _span(self, info: zipfile.ZipInfo) -> tuple[int, int]:
        off = info.header_offset
        head = self.data[off:off + 30]
        if len(head) < 30 or head[:4] != _LOCAL_SIG:
            raise _damaged(f"part {info.filename} is missing")
        name_len, extra_len = struct.unpack("<HH", head[26:30])
        start = off + 30 + name_len + extra_len
        end = start + info.compress_size
        if end > len(self.data):
            raise _damaged(f"part {info.filename} is cut off")
        return start, end

    def _check_overlap(self) -> None:
        # Entries sharing compressed bytes are the classic way to multiply a bomb.
        spans = sorted((e.info.header_offset, e.end, name) for name, e in self.entries.items())
        for (_, end, name), (nxt, _, other) in zip(spans, spans[1:], strict=False):
            if end > nxt:
                raise _bomb(f"parts {name} and {other} overlap")

    def find(self, name: str) -> str | None:
        """The entry name matching `name` ignoring ASCII case, as python-calamine finds it."""
        return self.by_lower.get(name.lower())

    def chunks(self, name: str, cap: int | None = None,
               cap_problem: Callable[[int], ReadProblem] | None = None) -> Iterator[bytes]:
        """Decompressed chunks of an entry, checked against every byte cap as they come."""
        entry = self.entries[name]
        info, limits = entry.info, self.limits
        if info.flag_bits & 0x1:
            raise ReadProblem("password-protected", "The file is a password-protected zip, "
                              f"not an Excel workbook. {_RESAVE}")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _not_xlsx(f"Part {name} is packed in a way Excel never uses.")
        scan = not name.lower().endswith(".bin")  # OLE binaries (VBA) are never parsed as XML
        ratio_cap = max(limits.ratio_floor_bytes,
                        limits.max_compression_ratio * max(info.compress_size, 1))
        produced, crc, tail = 0, 0, b""
        patterns = _UNSAFE
        guard = _Utf8Guard(name) if _utf8_part(name) else None
        held: list[bytes] = []  # until the guard has seen the part's start
        for chunk in self._raw_chunks(entry):
            if produced == 0:
                patterns = _declaration_patterns(chunk)
            produced += len(chunk)
            self.inflated += len(chunk)
            if produced > info.file_size:
                raise _bomb(f"part {name} unpacks to more than its declared "
                            f"{_mb(info.file_size)}")
            if self.inflated > limits.max_uncompressed_bytes:
                raise _bomb(f"more than {_mb(limits.max_uncompressed_bytes)} in all")
            if produced > ratio_cap:
                raise _bomb(f"part {name} unpacks more than "
                            f"{limits.max_compression_ratio:g} times its packed size")
            if cap is not None and produced > cap:
                assert cap_problem is not None
                raise cap_problem(produced)
            if scan and (_declares(chunk, patterns)
                         or _declares(tail + chunk[:_UNSAFE_OVERLAP], patterns)):
                raise _unsafe(name)
            tail = chunk[-_UNSAFE_OVERLAP:]
            crc = zlib.crc32(chunk, crc)
            if guard is None:
                yield chunk
                continue
            guard.feed(chunk)
            if not guard.decided:
                held.append(chunk)
                continue
            if held:
                yield from held
                held = []
            yield chunk
        if produced != info.file_size or crc != info.CRC:
            raise _damaged(f"part {name} does not match its checksum")
        if guard is not None:
            guard.close()
            yield from held

    def _raw_chunks(self, entry: _Entry) -> Iterator[bytes]:
        if entry.info.compress_type == zipfile.ZIP_STORED:
            for pos in range(entry.start, entry.end, _OUT_CHUNK):
                yield bytes(self.view[pos:min(pos + _OUT_CHUNK, entry.end)])
            return
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        pos, pending = entry.start, b""
        try:
            while not inflater.eof:
                if not pending:
                    if pos >= entry.end:
                        # input exhausted: drain what zlib holds, a bounded piece at a time
                        out = inflater.decompress(b"", _OUT_CHUNK)
                        if not out:
                            break
                        yield out
                        continue
                    pending = self.view[pos:min(pos + _READ_CHUNK, entry.end)]
                    pos += len(pending)
                out = inflater.decompress(pending, _OUT_CHUNK)
                pending = inflater.unconsumed_tail
                if out:
                    yield out
        except zlib.error as e:
            raise _damaged(f"part {entry.info.filename} cannot be unpacked: {e}") from None
        if not inflater.eof:
            raise _damaged(f"part {entry.info.filename} is cut off")

    def read(self, name: str) -> bytes:
        """A whole (small, structural) entry; kept if python-calamine will need it."""
        data = b"".join(self.chunks(name))
        if name.lower() in _CALAMINE_PARTS:
            self.kept[name] = data
        return data


# --- pre-flight: structure ----------------------------------------------------------------

_WORKSHEET_DIRS = ("xl/worksheets/", "xl/chartsheets/", "xl/dialogsheets/")
_SHARED_STRINGS = "xl/sharedStrings.xml"  # python-calamine reads this name, not the rels
#: What python-calamine reads besides the worksheets (lower case: it ignores case). It is
#: handed a new zip of exactly these checked bytes, never the file as received.
_CALAMINE_PARTS = frozenset({"_rels/.rels", "[content_types].xml", "xl/workbook.xml",
                             "xl/_rels/workbook.xml.rels", "xl/styles.xml",
                             "xl/sharedstrings.xml"})


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _parse_xml(pkg: _Package, name: str) -> Element:
    """A structural part parsed with defusedxml (the bytes were already DOCTYPE-scanned)."""
    try:
        return safe_fromstring(pkg.read(name), forbid_dtd=True)
    except DefusedXmlException:
        raise _unsafe(name) from None
    except (ParseError, ValueError) as e:
        raise _not_xlsx(f"The file is damaged: its part {name} is not valid ({e}).") from None


_REL_NS = frozenset({"http://schemas.openxmlformats.org/officeDocument/2006/relationships",
                     "http://purl.oclc.org/ooxml/officeDocument/relationships"})
_TARGET_FORBIDDEN = re.compile(r"[\\%?#:\s\x00-\x1f\x7f]")


def _rel_path(rels_name: str, base: str, target: str) -> str:
    """A relationship's internal target as a zip entry name, refusing every spelling that
    programs resolve differently (dot segments, //, backslashes, %-escapes ...): then the
    literal spelling is the only reading (an absolute /xl/... is resolved from the root)."""
    path = target[1:] if target.startswith("/") else base + target
    if not target or _TARGET_FORBIDDEN.search(target) or any(
            seg in ("", ".", "..") for seg in path.split("/")):
        raise _odd_part(f"names one of its parts in its list of parts ({rels_name}) in an "
                        f"unusual spelling ({target[:80]!r})")
    return path


def _relationships(pkg: _Package, name: str, base: str) -> list[tuple[str, str]]:
    """(type, entry path) of each internal relationship of a rels part, in order; each Id
    once (programs disagree on which of two with one Id counts)."""
    ids: set[str] = set()
    out = []
    for rel in _parse_xml(pkg, name):
        if _local(rel.tag) != "Relationship":
            continue
        rid = rel.get("Id", "")
        if rid in ids:
            raise _damaged_part(f"its list of parts ({name}) gives the relationship Id "
                                f"{rid[:40]!r} twice")
        ids.add(rid)
        if rel.get("TargetMode", "").lower() == "external":
            continue
        out.append((rel.get("Type", ""), _rel_path(name, base, rel.get("Target", ""))))
    return out


def _of_type(rels: list[tuple[str, str]], kind: str) -> list[str]:
    return [path for rtype, path in rels if rtype.rsplit("/", 1)[-1] == kind]


def _calamine_path(target: str) -> str:
    """A workbook relationship target resolved exactly as python-calamine resolves it."""
    if target.startswith("/xl/"):
        return target[1:]
    if target.startswith("xl/"):
        return target
    return f"xl/{target}"


@dataclass
class _SheetInfo:
    name: str
    state: str
    part: str | None  # the zip entry python-calamine reads for it, if any
    kind: str  # worksheet | chartsheet | dialogsheet | other


@dataclass
class _Inspection:
    sheets: list[_SheetInfo]
    defined_names: dict[str, str]
    local_names: dict[str, dict[str, str]]
    application: str
    warnings: list[ReadProblem]
    calc: dict[str, str] = field(default_factory=dict)
    formulas: dict[str, set[str]] = field(default_factory=dict)
    formula_text: dict[str, dict[str, str]] = field(default_factory=dict)
    array_ranges: dict[str, dict[str, str]] = field(default_factory=dict)
    merged: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, dict[str, str]] = field(default_factory=dict)
    parts: dict[str, bytes] = field(default_factory=dict)  # for python-calamine
    string_index: dict[str, tuple[int, str]] = field(default_factory=dict)  # sheet -> top
    # sheet parts the fast path found plain: no date cells (t="d"), and no text without
    # xml:space="preserve" that starts or ends with a space (python-calamine would trim it)
    no_dates: set[str] = field(default_factory=set)
    spaces_kept: set[str] = field(default_factory=set)


_WORKBOOK_READ = frozenset({"sheets", "sheet", "definedNames", "definedName", "calcPr",
                            "workbookPr"})  # what python-calamine or this module reads
_WORKBOOK_ONCE = ("sheets", "definedNames", "calcPr", "workbookPr")  # children of the root
_WORKBOOK_LISTS = {"sheets": "sheet", "definedNames": "definedName"}
_WORKBOOK_ELSEWHERE = (
    "so which sheets and names a spreadsheet shows could differ from what would be read; the "
    f"file was not read. {_RESAVE}")


def _split_tag(tag: str) -> tuple[str, str]:
    """(namespace, local name) of an ElementTree tag."""
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        return uri, local
    return "", tag


def _read_by_name(el: Element) -> bool:
    """Whether python-calamine or this module would read the element by its local name.

    python-calamine takes any <sheet> and any workbookPr's date1904 in the workbook, whatever
    its namespace; extensions Excel writes (<x15:workbookPr chartTrackingRefBase="1"/>,
    <x14:definedName> argument descriptions) are read by neither, so they are fine.
    """
    uri, local = _split_tag(el.tag)
    if local in ("sheets", "sheet"):
        return True
    if uri in _MAIN_NS:
        return local in _WORKBOOK_READ
    return local == "workbookPr" and any(_local(k) == "date1904" for k in el.attrib)


def _workbook_checks(workbook: Element) -> tuple[dict[str, str], list[Element], list[Element]]:
    """The calculation settings (<calcPr>'s attributes), the <sheet> and the <definedName>
    elements, once sure that what python-calamine and this module read is exactly what Excel
    reads: in SpreadsheetML, in its place, once, never in alternate content."""
    if _split_tag(workbook.tag) not in {(ns, "workbook") for ns in _MAIN_NS}:
        raise _not_xlsx("The file is damaged: its list of sheets (xl/workbook.xml) is not "
                        "SpreadsheetML.")
    for alternate in workbook.iter(f"{{{_MC_NS}}}AlternateContent"):
        for el in alternate.iter():
            if _read_by_name(el):
                raise ReadProblem(
                    "alternate-content",
                    "The workbook's list of sheets, names or settings (xl/workbook.xml) holds "
                    f"<{_local(el.tag)}> in alternative versions for different spreadsheet "
                    f"programs (mc:AlternateContent), {_WORKBOOK_ELSEWHERE}")
    placed: set[int] = set()
    seen: set[str] = set()
    calc: dict[str, str] = {}
    lists: dict[str, list[Element]] = {"sheet": [], "definedName": []}
    for child in workbook:
        uri, local = _split_tag(child.tag)
        if uri not in _MAIN_NS or local not in _WORKBOOK_ONCE or local in seen:
            continue  # a second one stays unplaced: refused below
        seen.add(local)
        placed.add(id(child))
        item = _WORKBOOK_LISTS.get(local)
        for el in child if item else ():
            if _split_tag(el.tag) == (uri, item):
                placed.add(id(el))
                lists[item].append(el)
        if local == "calcPr":
            calc = {_local(k): v for k, v in child.attrib.items()}
    for el in workbook.iter():
        if id(el) not in placed and _read_by_name(el):
            raise ReadProblem(
                "unexpected-markup",
                f"The workbook's list of sheets, names or settings (xl/workbook.xml) has "
                f"<{_local(el.tag)}> in a place or form Excel does not read it from, "
                f"{_WORKBOOK_ELSEWHERE}")
    return calc, lists["sheet"], lists["definedName"]


def _structure(pkg: _Package, file_name: str) -> _Inspection:
    """Sheets, names, application and warnings from the package's structural parts."""
    types_name, workbook_name = pkg.find("[Content_Types].xml"), pkg.find("xl/workbook.xml")
    if types_name is None or workbook_name is None:
        names = set(pkg.by_lower)
        if "xl/workbook.bin" in names:
            raise _not_xlsx("This is an Excel Binary Workbook (.xlsb); in Excel choose File > "
                            "Save As > Excel Workbook (.xlsx).")
        if "word/document.xml" in names:
            raise _not_xlsx("This is a Word document, not an Excel workbook.")
        if "ppt/presentation.xml" in names:
            raise _not_xlsx("This is a PowerPoint presentation, not an Excel workbook.")
        raise _not_xlsx("This zip file is not an Excel workbook (it has no workbook inside).")
    types = _parse_xml(pkg, types_name)
    # python-calamine reads xl/workbook.xml by name; spreadsheets the part _rels/.rels names
    package_rels = pkg.find("_rels/.rels")
    if package_rels is None:
        raise _damaged_part("the list of its parts (_rels/.rels) is missing")
    documents = _of_type(_relationships(pkg, package_rels, ""), "officeDocument")
    if documents != [workbook_name] or workbook_name != "xl/workbook.xml":
        raise _odd_part("names its workbook part (_rels/.rels) "
                        + (f"as {documents[0]!r}, not xl/workbook.xml" if len(documents) == 1
                           else f"{len(documents)} times"))
    workbook = _parse_xml(pkg, workbook_name)
    rels_name = pkg.find("xl/_rels/workbook.xml.rels")
    if rels_name is None:
        raise _not_xlsx("The file is damaged: the list of its sheets' parts "
                        "(xl/_rels/workbook.xml.rels) is missing.")
    rels = _parse_xml(pkg, rels_name)
    workbook_rels = _relationships(pkg, rels_name, "xl/")
    for _rtype, path in workbook_rels:
        if _calamine_path(path) != path:  # an absolute target outside xl/
            raise _odd_part(f"names one of its parts in its list of parts ({rels_name}) "
                            f"outside the workbook's folder ({path[:80]!r})")
    # python-calamine reads xl/sharedStrings.xml by name; spreadsheets the part named here
    strings = _of_type(workbook_rels, "sharedStrings")
    present = pkg.find(_SHARED_STRINGS)
    if len(strings) > 1:
        raise _odd_part(f"names {len(strings)} lists of texts (shared strings) in "
                        f"{rels_name}; a workbook has one")
    if strings and (strings[0] != _SHARED_STRINGS or present != _SHARED_STRINGS):
        raise _odd_part(f"keeps its list of texts in {strings[0]!r}, not "
                        f"{_SHARED_STRINGS}")
    if present is not None and not strings:
        raise _odd_part(f"holds a list of texts ({present}) that its list of parts "
                        f"({rels_name}) does not name")
    app_name = pkg.find("docProps/app.xml")
    application = ""
    if app_name:
        app = _parse_xml(pkg, app_name)
        for el in app:
            if _local(el.tag) == "Application":
                application = (el.text or "").strip()

    warnings = []
    content_types = " ".join(el.get("ContentType", "") for el in types).lower()
    if (pkg.find("xl/vbaProject.bin") or "macroenabled" in content_types
            or file_name.lower().endswith((".xlsm", ".xltm"))):
        warnings.append(ReadProblem(
            "macro-enabled",
            "This workbook is macro-enabled (.xlsm or with VBA macros). Macros are never run by "
            "ssfr-xl; values were read. Please use the .xlsx plan file the district sent "
            "(File > Save As > Excel Workbook (.xlsx)).", "warning"))
    if any(name.startswith("xl/externallinks/") for name in pkg.by_lower):
        warnings.append(ReadProblem(
            "external-links",
            "This workbook links to other files (Data > Edit Links). Values were read as they "
            "were saved, not from the linked files. Break the links (Data > Edit Links > Break "
            "Link), save, and send the plan again.", "warning"))

    targets: dict[str, str] = {}
    for rel in rels:
        if rel.get("TargetMode", "").lower() != "external" and rel.get("Id"):
            targets[rel.get("Id", "")] = rel.get("Target", "")  # checked above
    calc, sheet_elements, name_elements = _workbook_checks(workbook)
    sheets: list[_SheetInfo] = []
    defined: dict[str, str] = {}
    local: dict[str, dict[str, str]] = {}
    names_seen: set[tuple[str, str | None]] = set()
    for el in [*sheet_elements, *name_elements]:
        tag = _local(el.tag)
        if tag == "sheet":
            ids = [(k, v) for k, v in el.attrib.items() if _local(k) == "id"]
            if len(ids) != 1 or _split_tag(ids[0][0])[0] not in _REL_NS:
                # python-calamine takes any attribute named id, spreadsheets r:id
                raise _odd_part(f"gives sheet {el.get('name', '')[:40]} its part in an unusual "
                                "way (xl/workbook.xml)")
            rid = ids[0][1]
            target = targets.get(rid)
            part = pkg.find(_calamine_path(target)) if target is not None else None
            if part is not None and part != _calamine_path(target):
                raise _odd_part(f"names the part of sheet {el.get('name')} as {target!r} "
                                f"while it is stored as {part!r}")
            folder = _calamine_path(target).split("/")[1] if target is not None else ""
            kind = {"worksheets": "worksheet", "chartsheets": "chartsheet",
                    "dialogsheets": "dialogsheet"}.get(folder, "other")
            if part is None:
                raise _not_xlsx(f"The file is damaged: the contents of sheet {el.get('name')} "
                                "are missing.")
            if kind == "other":  # python-calamine cannot open such a workbook at all
                raise _not_xlsx(f"Sheet {el.get('name')} is of a kind a plan never has (an "
                                "Excel 4.0 macro sheet or similar); delete it, save, and send "
                                "the plan again.")
            sheets.append(_SheetInfo(el.get("name", ""), el.get("state", "visible"), part, kind))
        elif tag == "definedName":
            name, text = el.get("name", ""), el.text or ""
            scope = el.get("localSheetId")
            if scope is not None and scope.strip().isdigit():
                scope = str(int(scope))
            if (name.lower(), scope) in names_seen:
                raise ReadProblem(
                    "unexpected-markup",
                    f"The workbook defines the name {name} twice (in xl/workbook.xml), which "
                    "Excel never writes: spreadsheet programs use the first, so what they show "
                    f"could differ from what would be checked; the file was not read. "
                    f"{_RESAVE}")
            names_seen.add((name.lower(), scope))
            if el.get("localSheetId") is None:
                defined[name] = text
            else:
                local.setdefault(el.get("localSheetId", ""), {})[name] = text
    seen: set[str] = set()
    for s in sheets:
        # Excel never allows it, and the values of one and the formulas of the other could be
        # read as one sheet
        if s.name.lower() in seen:
            raise _not_xlsx(f"The file is damaged: it has two sheets named {s.name}.")
        seen.add(s.name.lower())
    by_index = {str(i): s.name for i, s in enumerate(sheets)}
    local_names = {by_index.get(i, i): names for i, names in local.items()}
    return _Inspection(sheets, defined, local_names, application, warnings, calc)


# --- pre-flight: sheet XML ----------------------------------------------------------------

_REF = re.compile(r"([A-Z]{1,3})([1-9][0-9]{0,6})")
_LOOSE_REF = re.compile(r"\$?([A-Za-z]+)\$?([0-9]+)")
_COLUMNS: dict[str, int] = {}


def _column_number(letters: str) -> int:
    """Column number of upper-case letters (cached: the cache holds only valid letters)."""
    n = _COLUMNS.get(letters)
    if n is None:
        n = 0
        for ch in letters:
            n = n * 26 + ord(ch) - 64
        if len(letters) <= 3 and letters.isalpha() and letters.isascii() and letters.isupper():
            _COLUMNS[letters] = n
    return n


def _column_letters(n: int) -> str:
    letters = ""
    while n > 0:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


class _TooFar(Exception):
    """A cell beyond the limits (raised inside a scan, turned into a ReadProblem)."""

    def __init__(self, cell: str, what: str):
        super().__init__(cell)
        self.cell, self.what = cell, what


def _loose_ref(ref: str) -> tuple[int, int]:
    """(column, row) of a reference written loosely ($A$1, a1); refuses what is not one."""
    m = _LOOSE_REF.fullmatch(ref.strip())
    if m is None:
        raise _TooFar(ref[:20], "unreadable reference")
    letters, digits = m[1].upper(), m[2]
    # absurd lengths are far beyond any limit; don't do arithmetic on them
    col = _column_number(letters) if len(letters) <= 4 else 10**9
    row = int(digits) if len(digits) <= 9 else 10**12
    if row < 1 or col < 1:
        raise _TooFar(ref[:20], "unreadable reference")
    return col, row


def _check_range(ref: str, what: str, limits: Limits) -> None:
    """Refuse a range (A1:K156) reaching beyond the limits."""
    for corner in ref.split(":")[:2]:
        m = _REF.fullmatch(corner)
        col, row = (_column_number(m[1]), int(m[2])) if m else _loose_ref(corner)
        if row > limits.max_rows or col > limits.max_columns:
            raise _TooFar(f"{_column_letters(min(col, 10**6))}{row}", what)


@dataclass
class _SheetFacts:
    """What a worksheet part says besides its values."""

    formulas: set[str] = field(default_factory=set)  # formula_text keys + array-covered cells
    formula_text: Mapping[str, str] = field(default_factory=dict)
    array_ranges: dict[str, str] = field(default_factory=dict)  # anchor -> "D7:D20"
    merged: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    # the highest shared-string number a cell of the sheet uses, and that cell
    string_index: tuple[int, str] = (-1, "")
    # hints for read_workbook, not facts of the sheet (the paths may differ in them)
    no_dates: bool = field(default=False, compare=False)  # no cell of type d (False: unknown)
    spaces_kept: bool = field(default=False, compare=False)  # no text trimmed (False: unknown)


class FormulaTexts(Mapping[str, str]):
    """A sheet's formula texts as the fast path found them: XML-unescaped on first use.

    The usual returned plan holds exactly the template's formulas; `spelled_as` tells so by
    comparing the bytes as stored with the template's, without unescaping or splitting
    thousands of cells. Read as a mapping (cell -> text) it is the same as a dict.
    Only made when every "&" in the texts starts one of XML's five named references, so
    unescaping cannot fail.
    """

    __slots__ = ("_coords", "_raw", "_texts")

    def __init__(self, coords: bytes, raw: bytes):
        self._coords, self._raw = coords, raw  # "\x00"-joined, in the order of the sheet
        self._texts: dict[str, str] | None = None

    def spelled_as(self, coords: bytes, escaped: bytes) -> bool:
        """Whether the cells, in this order, hold these texts (joined by NUL, with &, < and >
        written as &amp;, &lt; and &gt;; quotes may be written either way in the file)."""
        if self._coords != coords:
            return False
        if self._raw == escaped:
            return True
        if b"&quot;" not in self._raw and b"&apos;" not in self._raw:
            return False
        return self._raw.replace(b"&quot;", b'"').replace(b"&apos;", b"'") == escaped

    def _all(self) -> dict[str, str]:
        if self._texts is None:
            text = _unescape(self._raw) if b"&" in self._raw else self._raw
            assert text is not None  # only made when unescaping cannot fail
            coords = self._coords.decode("ascii").split("\x00") if self._coords else []
            texts = text.decode("utf-8").split("\x00") if self._coords else []
            self._texts = dict(zip(coords, texts, strict=True))
        return self._texts

    def __getitem__(self, cell: str) -> str:
        return self._all()[cell]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __reduce__(self):
        return (FormulaTexts, (self._coords, self._raw))

    def __repr__(self) -> str:
        return f"FormulaTexts({self._all()!r})"


def escaped_texts(texts: Mapping[str, str]) -> tuple[bytes, bytes]:
    """(cells, texts) as FormulaTexts.spelled_as takes them, for formulas as written."""
    coords = "\x00".join(texts).encode("ascii")
    raw = "\x00".join(texts.values()).replace("&", "&amp;").replace("<", "&lt;") \
        .replace(">", "&gt;").encode("utf-8")
    return coords, raw


#: Cell types python-calamine reads (t="d" is refused in read_workbook, naming the sheet).
_CELL_TYPES = frozenset({"n", "s", "str", "b", "e", "inlineStr", "d"})
#: A number as python-calamine (Rust's f64 parser) reads it; anything else it cannot read.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                     r"|[+-]?(?i:inf|infinity|nan)")
_STRING_INDEX = re.compile(r"0|[1-9][0-9]{0,8}")
_CALAMINE_ERRORS = ("#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!")
_CANONICAL_REF = re.compile(r"[A-Z]+[1-9][0-9]*")


def _value_problem(kind: str | None, value: str) -> str | None:
    """Why python-calamine cannot read a cell's <v> the way spreadsheets do; None if it can."""
    if not value or kind in ("str", "d", "inlineStr"):
        return None
    if kind is None or kind == "n":
        ok, what = _NUMBER.fullmatch(value), "number"
    elif kind == "s":
        ok, what = _STRING_INDEX.fullmatch(value), "text number"
    elif kind == "b":
        ok, what = value in ("0", "1"), "true/false value (0 or 1)"
    else:
        ok, what = value in _CALAMINE_ERRORS, "known error value"
    return None if ok else f"a value {value[:30]!r} that is not a plain {what}"


def _type_problem(kind: str) -> str:
    return f"a cell of a type Excel does not know (t={kind[:20]!r})"


class _Unusual(Exception):
    """Content a spreadsheet would not show as it would be read (turned into a ReadProblem).

    code: duplicate-cells, alternate-content, unexpected-markup, or damaged.
    """

    def __init__(self, code: str, cell: str = "", detail: str = "", index: int = -1):
        super().__init__(code, cell, detail)
        self.code, self.cell, self.detail = code, cell, detail
        self.index = index  # the shared string's number, for problems in sharedStrings.xml


def _unusual_problem(sheet: str, e: _Unusual) -> ReadProblem:
    """A problem a scan found in a sheet, in words for the sender."""
    at = f" at cell {e.cell}" if e.cell else ""
    if e.code == "duplicate-cells":
        message = (
            f"Sheet {sheet} holds cell {e.cell} twice (two records for one cell), which Excel "
            "never writes: which of them a spreadsheet shows is uncertain, so the file was not "
            f"read. Open it in Excel, check cell {e.cell}, save it as Excel Workbook (.xlsx) "
            "and send it again.")
    elif e.code == "alternate-content":
        message = (
            f"Sheet {sheet} holds cells{' near ' + e.cell if e.cell else ''} in alternative "
            "versions for different spreadsheet programs (mc:AlternateContent), so what one "
            "program shows can differ from what would be counted; the file was not read. "
            f"{_RESAVE}")
    elif e.code == "unexpected-markup":
        message = (
            f"Sheet {sheet} stores {'cell ' + e.cell if e.cell else 'its cells'} in a form Excel "
            f"does not read ({e.detail}), so what a spreadsheet shows there could differ from "
            f"what would be counted; the file was not read. {_RESAVE}")
    else:
        return ReadProblem(
            "not-an-xlsx-file",
            f"The file is damaged: sheet {sheet}{at}: {e.detail}. Open it in Excel to check "
            "that your plan is all there, save it as Excel Workbook (.xlsx) and send it again.",
            sheet=sheet, cell=e.cell)
    return ReadProblem(e.code, message, sheet=sheet, cell=e.cell)


# --- formulas -------------------------------------------------------------------------------

_RANGE = re.compile(r"([A-Z]{1,3})([1-9][0-9]{0,6})(?::([A-Z]{1,3})([1-9][0-9]{0,6}))?")


def _box(ref: str | None) -> tuple[int, int, int, int] | None:
    """(first column, first row, last column, last row) of "A1" or "A1:B2"; None if neither."""
    m = _RANGE.fullmatch(ref or "")
    if m is None:
        return None
    c1, r1 = _column_number(m[1]), int(m[2])
    c2, r2 = (_column_number(m[3]), int(m[4])) if m[3] else (c1, r1)
    return (c1, r1, c2, r2) if c1 <= c2 and r1 <= r2 else None


def _inside(coord: str, box: tuple[int, int, int, int]) -> bool:
    m = _REF.fullmatch(coord)
    if m is None:
        return False
    col, row = _column_number(m[1]), int(m[2])
    return box[0] <= col <= box[2] and box[1] <= row <= box[3]


def _on(value: str | None) -> bool:
    return value in ("1", "true")


def _table_text(attrs: dict[str, str]) -> str:
    """What Excel shows for a data table's cells: {=TABLE(row input, column input)}."""
    r1 = "#REF!" if _on(attrs.get("del1")) else attrs.get("r1", "")
    r2 = "#REF!" if _on(attrs.get("del2")) else attrs.get("r2", "")
    if _on(attrs.get("dt2D")):
        return f"TABLE({r1},{r2})"
    return f"TABLE({r1},)" if _on(attrs.get("dtr")) else f"TABLE(,{r1})"


def _resolve_formulas(texts: dict[str, str], special: list[tuple[str, dict[str, str]]],
                      limits: Limits) -> tuple[dict[str, str], set[str], dict[str, str]]:
    """Every formula cell's text, with shared formulas expanded as Excel expands them.

    `texts` holds each <f>'s own text by cell; `special` the attributes of those with a t=
    (shared, array, dataTable). Returns (formula_text, formula cells including every cell an
    array formula or data table covers, anchor -> range of those).
    """
    masters: dict[str, tuple[str, tuple[int, int, int, int], str]] = {}
    followers: list[tuple[str, str]] = []
    ranges: dict[str, str] = {}
    for coord, attrs in special:
        kind = attrs.get("t", "normal")
        ref = attrs.get("ref")
        if kind == "normal":
            continue
        if kind == "shared":
            si = attrs.get("si", "")
            if not (si.isascii() and si.isdigit() and len(si) <= 9):
                raise _Unusual("damaged", coord, "a shared formula has no valid number (si)")
            si = str(int(si))  # a number: "07" is 7
            if ref is None:
                followers.append((coord, si))
                continue
            box = _box(ref)
            if box is None:
                raise _Unusual("damaged", coord, f"shared formula {si} has a range ({ref!r}) "
                               "that is not a range of cells")
            if not _inside(coord, box):
                raise _Unusual("damaged", coord, f"shared formula {si} lies outside its own "
                               f"range {ref}")
            if si in masters:
                raise _Unusual("damaged", coord, f"shared formula {si} is defined twice")
            if not texts[coord].strip():
                raise _Unusual("damaged", coord, f"shared formula {si} has no formula")
            masters[si] = (coord, box, ref)
        elif kind in ("array", "dataTable"):
            what = "an array formula" if kind == "array" else "a data table"
            box = _box(ref)
            if box is None:
                raise _Unusual("damaged", coord, f"{what} has a range ({ref!r}) that is not a "
                               "range of cells")
            assert ref is not None
            _check_range(ref, "declared size", limits)
            if not _inside(coord, box):
                raise _Unusual("damaged", coord, f"{what} lies outside its own range {ref}")
            ranges[coord] = ref
            if kind == "dataTable" and not texts[coord]:
                texts[coord] = _table_text(attrs)
        else:
            raise _Unusual("damaged", coord, f"a formula of a kind Excel does not know "
                           f"({kind!r})")
    if followers:
        from openpyxl.formula.translate import Translator  # only files with shared formulas

        translators: dict[str, Translator] = {}
        for coord, si in followers:
            if si not in masters:
                raise _Unusual("damaged", coord, f"the cell uses shared formula {si}, which "
                               "the sheet never defines")
            origin, box, ref = masters[si]
            if not _inside(coord, box):
                raise _Unusual("damaged", coord, f"the cell uses shared formula {si}, whose "
                               f"range {ref} does not include it")
            try:
                if si not in translators:
                    translators[si] = Translator("=" + texts[origin], origin=origin)
                text = translators[si].translate_formula(coord)[1:]
            except Exception:  # the tokenizer's and translator's errors: a broken formula
                raise _Unusual("damaged", coord, f"shared formula {si} cannot be applied to "
                               "this cell") from None
            own = texts[coord]
            if own and own != text:
                raise _Unusual("damaged", coord, f"the cell has its own formula and shared "
                               f"formula {si} at once")
            texts[coord] = text
    covered = set(texts)
    if ranges:
        in_arrays: set[str] = set()
        for anchor, ref in ranges.items():
            c1, r1, c2, r2 = _box(ref)  # type: ignore[misc]
            letters = [_column_letters(c) for c in range(c1, c2 + 1)]
            for row in range(r1, r2 + 1):
                for col in letters:
                    cell = f"{col}{row}"
                    if cell in in_arrays:
                        raise _Unusual("damaged", cell, "two array formulas or data tables "
                                       "cover the cell")
                    if cell != anchor and cell in texts:
                        raise _Unusual("damaged", cell, "the cell has a formula of its own "
                                       f"inside the range {ref} of the formula in {anchor}")
                    in_arrays.add(cell)
        covered |= in_arrays
    return texts, covered, ranges


# --- the general path: expat, by namespace --------------------------------------------------

#: SpreadsheetML: transitional (what every program writes) and strict.
_MAIN_NS = frozenset({"http://schemas.openxmlformats.org/spreadsheetml/2006/main",
                      "http://purl.oclc.org/ooxml/spreadsheetml/main"})
_MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_ALTERNATE = f"{_MC_NS} AlternateContent"  # expat's name for it, namespace_separator " "
_XML_SPACE = "http://www.w3.org/XML/1998/namespace space"
_XML_WHITESPACE = " \t\r\n"
_RUN_SPACES = ("a run of rich text with spaces at its ends that are not marked to be kept "
               "(xml:space), which spreadsheets show differently")
#: Local names of the SpreadsheetML elements the scans look at, by expat's full name.
_MAIN_LOCAL = {f"{ns} {local}": local for ns in _MAIN_NS for local in (
    "worksheet", "chartsheet", "dialogsheet", "sst", "sheetData", "row", "c", "f", "v", "is",
    "si", "t", "r", "rPr", "rPh", "phoneticPr", "dimension", "mergeCell")}

# What a cell's content may hold, as the schema orders it (CT_SheetData, CT_Row, CT_Cell,
# CT_Rst ...): child -> (place, may repeat). python-calamine reads any element of these local
# names in any order and namespace (the last <v>, <is> or <f> of a cell wins; every <t> of a
# text is joined), where Excel refuses the file or reads something else; so inside sheetData
# and shared strings only this form is accepted. t and r share a place: a text is one <t> or
# runs <r>, never both.
_RICH = {"t": (0, False), "r": (0, True), "rPh": (1, True), "phoneticPr": (2, False)}
_CHILDREN: dict[str, dict[str, tuple[int, bool]]] = {
    "sheetData": {"row": (0, True)},
    "row": {"c": (0, True)},
    "c": {"f": (0, False), "v": (1, False), "is": (2, False)},
    "is": _RICH,
    "si": _RICH,
    "sst": {"si": (0, True)},
    "r": {"rPr": (0, False), "t": (1, False)},
    "rPh": {"t": (0, False)},
}
_TEXT_PARTS = frozenset({"t", "r", "rPh", "si", "is", "c", "row", "f", "v", "sheetData"})


def _child(frame: list, local: str, in_main: bool, where: str) -> None:
    """Refuse an element where the cell-content schema has no place for it."""
    parent = frame[0]
    if parent == "rPr":  # run properties: any formatting element, never text
        if in_main and local not in _TEXT_PARTS:
            frame[2] = local
            return
        raise _Unusual("unexpected-markup", where, f"<{local}> inside a text's formatting")
    rule = _CHILDREN.get(parent, {}).get(local) if in_main else None
    if rule is None:
        other = "" if in_main else " from another vocabulary"
        raise _Unusual("unexpected-markup", where, f"an element <{local}>{other} inside "
                       f"<{parent}>")
    place, repeats = rule
    if place < frame[1] or (place == frame[1] and not (repeats and frame[2] == local)):
        how = "twice" if frame[2] == local else "out of order"
        raise _Unusual("unexpected-markup", where, f"<{local}> {how} inside <{parent}>")
    frame[1], frame[2] = place, local


def _guarded_parser(namespaces: bool = False) -> expat.XMLParserType:
    """An expat parser with defusedxml's guards: no DTD, entity declarations or externals.

    With namespaces, element names are "uri local" (or "local" without a namespace), so
    prefixes never matter; the bytes are UTF-8 (checked before any scan sees them).
    """

    def forbidden(*_args: object) -> None:
        raise DefusedXmlException("DTD or entity declaration")

    p = (expat.ParserCreate(encoding="UTF-8", namespace_separator=" ") if namespaces
         else expat.ParserCreate())
    p.StartDoctypeDeclHandler = forbidden
    p.EntityDeclHandler = forbidden
    p.UnparsedEntityDeclHandler = forbidden
    p.ExternalEntityRefHandler = forbidden
    p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    return p


class _SheetScan:
    """The general path: one streaming expat pass over a worksheet part, any size or form.

    Checks every cell reference and the declared dimension against the limits before
    python-calamine sizes a grid from them, and collects formulas (text, shared formulas
    expanded), merged ranges and error values. Positions are found by local names, ignoring
    namespaces, because python-calamine finds them that way (cells without an r attribute are
    counted the way it counts them). What a cell holds is read by namespace, as a spreadsheet
    reads it: a formula is an <f> in the SpreadsheetML namespace, with any prefix, inside a
    cell of the sheet's <sheetData> (x14's <xm:f> elsewhere hold data-validation sources).
    Inside sheetData only the schema's form is accepted (see _CHILDREN): no alternate content,
    no foreign elements, no cell recorded twice.
    """

    def __init__(self, limits: Limits):
        self.limits = limits
        self.facts = _SheetFacts()
        self.texts: dict[str, str] = {}
        self.special: list[tuple[str, dict[str, str]]] = []
        self.misplaced = False  # a <sheetData> not where Excel reads it
        self.parser = _guarded_parser(namespaces=True)
        self.parser.buffer_text = True
        self._install()

    def feed(self, chunk: bytes) -> None:
        self.parser.Parse(chunk, False)

    def close(self) -> _SheetFacts:
        self.parser.Parse(b"", True)
        if self.misplaced:
            raise _Unusual("unexpected-markup", "A1", "a second or misplaced list of cells "
                           "<sheetData>")
        facts = self.facts
        facts.formula_text, facts.formulas, facts.array_ranges = _resolve_formulas(
            self.texts, self.special, self.limits)
        return facts

    def _install(self) -> None:
        limits, facts, parser = self.limits, self.facts, self.parser
        texts, special = self.texts, self.special
        max_rows, max_cols = limits.max_rows, limits.max_columns
        columns_get, ref_match = _COLUMNS.get, _REF.fullmatch
        main_local = _MAIN_LOCAL.get
        # positions: 1-based row of the current <row> and its r text, last column, cell
        row, row_text, col, cell = 0, "", 0, ""
        depth = 0
        alternate = 0  # open mc:AlternateContent elements (outside sheetData)
        data: list[list] | None = None  # [local, place, last child] from <sheetData> down
        data_seen = False
        seen: set[str] = set()
        cell_type: str | None = None
        text: list[str] | None = None  # character data of the current <f> or error <v>

        def start(name: str, attrs: dict[str, str]) -> None:
            nonlocal row, row_text, col, cell, depth, alternate, data, data_seen, cell_type
            nonlocal text
            local = main_local(name)
            if local is not None:
                in_main = True
            else:
                uri, _, local = name.rpartition(" ")
                in_main = uri in _MAIN_NS
            depth += 1
            if depth == 1 and not in_main:
                raise _Unusual("damaged", "", "it is not a worksheet as Excel writes one (its "
                               "XML is not SpreadsheetML)")
            if local == "c":
                r = attrs.get("r")
                if data is not None:  # in sheetData: gnumeric places other cells elsewhere
                    if not r:
                        if row > max_rows or col + 1 > max_cols:  # the bigger problem first
                            raise _TooFar(f"{_column_letters(min(col + 1, 10**6))}{row}",
                                          "cell")
                        raise _Unusual("unexpected-markup",
                                       f"{_column_letters(col + 1)}{max(row, 1)}",
                                       "a cell without its address (r)")
                    if ref_match(r) is None and _CANONICAL_REF.fullmatch(r) is None \
                            and _LOOSE_REF.fullmatch(r.strip()) is not None:
                        lc, lr = _loose_ref(r)
                        raise _Unusual("unexpected-markup",
                                       f"{_column_letters(min(lc, 10**6))}{lr}",
                                       f"a cell address written as {r[:20]!r}")
                    kind = attrs.get("t")
                    if kind is not None and kind not in _CELL_TYPES:
                        raise _Unusual("unexpected-markup", r if ref_match(r) else "",
                                       _type_problem(kind))
                if r:
                    # fast path: "AB12" on row 12 with AB a column seen before (the cache
                    # holds only valid letters, so "A112" on row 12 cannot pass as "A1")
                    c = columns_get(r[: len(r) - len(row_text)]) if r.endswith(row_text) \
                        else None
                    if c is not None:
                        rr = row
                    else:
                        m = ref_match(r)
                        if m is not None:
                            c, rr = _column_number(m[1]), int(m[2])
                        else:  # $A$1, a1, or junk: normalise, or refuse
                            c, rr = _loose_ref(r)
                            r = None
                else:
                    c, rr = col + 1, max(row, 1)
                col = c
                if rr > max_rows or c > max_cols:
                    raise _TooFar(r or f"{_column_letters(min(c, 10**6))}{rr}", "cell")
                cell = r or f"{_column_letters(c)}{rr}"
            elif local == "row":
                r = attrs.get("r")
                if r and r.isdigit():  # any size: python-calamine places r-less cells there
                    row, row_text = (int(r) if len(r) <= 12 else 10**12), r
                else:
                    row += 1
                    row_text = str(row)
                col = 0
            elif local == "dimension":
                ref = attrs.get("ref")
                if ref:
                    _check_range(ref, "declared size", limits)
            elif local == "mergeCell":
                ref = attrs.get("ref")
                if ref:
                    facts.merged.append(ref.replace("$", "").upper())
            if data is not None:
                frame = data[-1]
                # the cell, else where the next one would be: the next row, or the next cell
                where = cell or (f"A{row + 1}" if frame[0] == "sheetData"
                                 else f"{_column_letters(col + 1)}{max(row, 1)}")
                if name == _ALTERNATE:
                    raise _Unusual("alternate-content", where)
                _child(frame, local, in_main, where)
                data.append([local, -1, None])
                if local == "c":
                    if cell in seen:
                        raise _Unusual("duplicate-cells", cell)
                    seen.add(cell)
                    cell_type = attrs.get("t")
                elif local == "t" and frame[0] == "r" and attrs.get(_XML_SPACE) != "preserve":
                    # python-calamine trims the ends of such a text, as Excel does for a whole
                    # <t>; for a run of rich text spreadsheets differ: keep it to look at it
                    text = []
                    parser.CharacterDataHandler = text.append
                elif frame[0] == "c":  # f, v or is
                    if local == "f":
                        text = []
                        parser.CharacterDataHandler = text.append
                        if "t" in attrs:
                            special.append((cell, dict(attrs)))
                    elif local == "v":
                        if cell_type == "inlineStr":
                            raise _Unusual("unexpected-markup", cell, "a value <v> in a cell "
                                           "of inline text")
                        # piece by piece, to see references (&#51;) in it: python-calamine
                        # reads only the text before one
                        text = []
                        in_value[:] = [-1, False]
                        parser.buffer_text = False
                        parser.CharacterDataHandler = value_data
                    elif cell_type != "inlineStr":
                        raise _Unusual("unexpected-markup", cell, "inline text <is> in a cell "
                                       "that is not of inline text")
                return
            if name == _ALTERNATE:
                alternate += 1
            elif local == "sheetData":
                if alternate:  # the whole list of cells, in alternative versions
                    raise _Unusual("alternate-content", "A1")
                if not in_main:
                    raise _Unusual("unexpected-markup", "A1", "a list of cells <sheetData> "
                                   "from another vocabulary")
                if depth != 2 or data_seen:  # refused at the end, unless the XML is broken
                    self.misplaced = True
                data, data_seen = [["sheetData", -1, None]], True

        def end(name: str) -> None:
            nonlocal depth, alternate, data, cell, cell_type, text
            depth -= 1
            if data is None:
                if name == _ALTERNATE:
                    alternate -= 1
                elif name.endswith((" c", ":c")) or name == "c":
                    cell = ""
                return
            local = data.pop()[0]
            if text is not None:  # the end of an <f>, <v> or run <t>: no elements inside
                joined = "".join(text)
                if local == "f":
                    texts[cell] = joined
                elif local == "v":
                    parser.buffer_text = True
                    nxt, broken = in_value
                    in_value.clear()
                    if (broken or (nxt >= 0 and parser.CurrentByteIndex != nxt)) \
                            and cell_type != "str":
                        raise _Unusual("unexpected-markup", cell, "a value <v> spelled with "
                                       "character or entity references (&...;)")
                    problem = _value_problem(cell_type, joined)
                    if problem is not None:
                        raise _Unusual("unexpected-markup", cell, problem)
                    if cell_type == "e":
                        facts.errors[cell] = joined.strip()
                    elif cell_type == "s" and joined and int(joined) > facts.string_index[0]:
                        facts.string_index = (int(joined), cell)
                elif joined != joined.strip(_XML_WHITESPACE):
                    raise _Unusual("unexpected-markup", cell, _RUN_SPACES)
                text = None
                parser.CharacterDataHandler = None
            if local == "c":
                cell, cell_type = "", None
            elif not data:
                data = None

        in_value: list = []  # [byte index the <v>'s next text must start at, broken]

        def value_data(piece: str) -> None:
            at = parser.CurrentByteIndex
            if in_value[0] >= 0 and at != in_value[0]:
                in_value[1] = True
            in_value[0] = at + len(piece.encode("utf-8", "surrogatepass"))
            assert text is not None
            text.append(piece)

        def inside_value(what: str) -> Callable[..., None]:
            def handler(*_args: object) -> None:
                if in_value:
                    raise _Unusual("unexpected-markup", cell, f"{what} inside a value <v>")
            return handler

        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CommentHandler = inside_value("an XML comment")
        parser.ProcessingInstructionHandler = inside_value("a processing instruction")
        parser.StartCdataSectionHandler = inside_value("a CDATA section")


# --- the fast path: C-level patterns over the canonical form --------------------------------

# The fast path's form: what Excel, LibreOffice, gnumeric and openpyxl write. SpreadsheetML is
# the default namespace, declared once on the root, and no prefix is bound to it; cell tags
# carry no prefix, r comes first, and every attribute value is plain (no > or & that could
# hide another attribute); the cell list is nothing but rows and cells whose content is
# <f>?<v>|<is><t>. Then the r values alone place every cell, exactly as python-calamine
# places them, and an unprefixed <f> is a formula. Each pattern starts with a literal, which
# the regex engine finds fast.
# possessive quantifiers (*+, ++): what they take is never given back, which no match here
# needs, and saves the regex engine a third of its time
_ATTRS = rb'(?: [^\s="\'<>/&]++="[^"<>&]*+")*+'
_ANY_CELL = re.compile(rb"<c[\s/>]")
_PREFIXED_CELL = re.compile(rb":c[\s/>]")  # text such as "a:c d" also sends a sheet to expat
# A cell in the canonical form, whitespace between elements (gnumeric indents) included.
# The fast path removes these from the cell list and requires that only row tags are left;
# the patterns below then read what it needs from cells known to be canonical, with few
# groups each (every group of every match is a new bytes object: they cost most).
_CANON_CELL = re.compile(
    rb'<c r="[A-Z]{1,3}[1-9][0-9]{0,6}"' + _ATTRS + rb'\s*+(?:/>|>\s*+'
    rb'(?:<f' + _ATTRS + rb'\s*+(?:/>|>[^<]*+</f>)\s*+)?'
    rb'(?:(?:<v\s*+/>|<v>[^<]*+</v>)\s*+|<is>\s*+(?:<t(?: xml:space="preserve")?>[^<]*+</t>'
    rb'|<t\s*+/>)\s*+</is>\s*+)?</c>)\s*+')
_CELL_REF = re.compile(rb'<c r="(([A-Z]{1,3})([1-9][0-9]{0,6}))"')
# in canonical cells: the formula cells' r, "<f" with its attributes, and text; the
# attributes of cells of inline text; a <v> in a cell of inline text; error values
_FORMULA_CELL = re.compile(
    rb'<c r="([A-Z]{1,3}[1-9][0-9]{0,6})"[^>]*+>\s*+(<f' + _ATTRS + rb')\s*+(?:/>|>([^<]*+)</f>)')
_INLINE_CELL = re.compile(rb'<c r="[^"]*+"([^>]*+)>\s*+<is>')
_INLINE_VALUE = re.compile(rb' t="inlineStr"[^>]*+>\s*+(?:<f[^>]*+(?:/>|>[^<]*+</f>)\s*+)?<v')
_ERROR_CELL = re.compile(  # possessive attributes never give back t="e": skip it by name
    rb'<c r="([A-Z]{1,3}[1-9][0-9]{0,6})"(?: (?!t=)[^\s="\'<>/&]++="[^"<>&]*+")*+ t="e"' + _ATTRS
    + rb"\s*+>\s*+(?:<f[^<>]*+/>\s*+|<f[^<>]*+>[^<]*+</f>\s*+)?<v>([^<]*+)</v>")
_ANY_F = re.compile(rb"<f[\s/>]")
# in canonical cells: a cell of a type python-calamine does not know; the first <v>
# python-calamine cannot read as spreadsheets do (a number, text number, true/false value or
# error value in another form: references, spaces, commas ...); cells of shared text
_NOT_T = rb'(?: (?!t=)[^\s="\'<>/&]++="[^"<>&]*+")*+'
_ODD_TYPE = re.compile(rb'<c r="([A-Z]{1,3}[1-9][0-9]{0,6})"' + _NOT_T
                       + rb' t="(?!(?:n|s|str|b|e|inlineStr|d)")([^"]*+)"')
_VALUE_START = rb'\s*+>\s*+(?:<f' + _ATTRS + rb'\s*+(?:/>|>[^<]*+</f>)\s*+)?<v>'
_BAD_VALUE = re.compile(
    rb'<c r="([A-Z]{1,3}[1-9][0-9]{0,6})"' + _NOT_T + rb'(?:'
    rb'(?: t="n"' + _ATTRS + rb')?' + _VALUE_START
    + rb'(?!(?:[+-]?+(?:[0-9]++\.?+[0-9]*+|\.[0-9]++)(?:[eE][+-]?+[0-9]++)?+'
      rb'|[+-]?+(?i:inf|infinity|nan))?+</v>)'
    rb'| t="s"' + _ATTRS + _VALUE_START + rb'(?!(?:0|[1-9][0-9]{0,8})?+</v>)'
    rb'| t="b"' + _ATTRS + _VALUE_START + rb'(?![01]?+</v>)'
    rb'| t="e"' + _ATTRS + _VALUE_START + rb'(?!(?:#DIV/0!|#N/A|#NAME\?|#NULL!|#NUM!|#REF!'
      rb'|#VALUE!)?+</v>))([^<]*+)')
_V_TEXT = re.compile(rb"<v>([^<]*+)</v>")
_PLAIN_NUMBER = rb"(?:-?+[0-9]++(?:\.[0-9]++)?+(?:[eE][+-]?+[0-9]++)?+)?+"
_PLAIN_VALUES = re.compile(_PLAIN_NUMBER + rb"(?:<" + _PLAIN_NUMBER + rb")*+")  # "<" joins
_STRING_CELL = re.compile(rb'<c r="([A-Z]{1,3}[1-9][0-9]{0,6})"' + _NOT_T + rb' t="s"' + _ATTRS
                          + _VALUE_START + rb'([0-9]++)</v>')
_ROW_OPEN = re.compile(rb"<row(?:[\s/][^<>]*+)?>\s*+")
_ROW_CLOSE = re.compile(rb"</row>\s*+")
_LEADING_SPACE = re.compile(rb"\s*+")
_DIGITS = re.compile(rb"[0-9]{0,12}")
_CANON_DIMENSION = re.compile(rb'<dimension ref="([^"<>&]*)"\s*/>')
_CANON_MERGE = re.compile(rb'<mergeCell ref="([^"<>&]*)"\s*/>')
# what expat refuses and a pattern would not notice: characters XML forbids, "]]>" in text
_CONTROLS = bytes(c for c in range(32) if c not in (9, 10, 13))
_XMLNS = re.compile(rb"""xmlns(?::([A-Za-z_][\w.\-]*))?\s*=\s*(?:"([^"<&]*)"|'([^'<&]*)')""")
_ROOT = re.compile(rb"(?:\xef\xbb\xbf)?(?:<\?xml\s[^<>]*\?>)?\s*<([A-Za-z_][\w.\-:]*)[\s/>]")
_MAIN_NS_BYTES = frozenset(ns.encode() for ns in _MAIN_NS)
_ATTR = re.compile(rb'([^\s="\'<>/&]+)="([^"]*)"')
_ENTITY = re.compile(rb"&(?:(amp|lt|gt|quot|apos)|#([0-9]{1,7})|#x([0-9A-Fa-f]{1,6}));")
_OTHER_REFERENCE = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos);)")
_NAMED_ENTITIES = {b"amp": b"&", b"lt": b"<", b"gt": b">", b"quot": b'"', b"apos": b"'"}
_BARE_INLINE = re.compile(rb"<t>([^<]*+)</t>")
_TYPE_VALUE = re.compile(rb'<c r="[A-Z]{1,3}[1-9][0-9]{0,6}"' + _NOT_T + rb' t="([^"]*+)"')
_KNOWN_TYPES = frozenset({b"n", b"s", b"str", b"b", b"e", b"inlineStr", b"d"})
_FAST_MAX = 8 * MB  # larger sheets are not held whole: the streaming path reads them


def _plain_namespaces(buf: bytes, root: bytes) -> bool:
    """Whether unprefixed elements are SpreadsheetML and prefixed ones never are.

    True when the root element is `root`, unprefixed, and declares SpreadsheetML as the
    default namespace; no other element declares a default namespace; and no prefix is
    bound to SpreadsheetML anywhere. Every "xmlns" in the bytes must be such a declaration.
    """
    m = _ROOT.match(buf)
    if m is None or m[1] != root:
        return False
    root_end = buf.find(b">", m.end() - 1)
    declarations = defaults = 0
    for d in _XMLNS.finditer(buf):
        if buf[d.start() - 1:d.start()] not in (b" ", b"\t", b"\r", b"\n"):
            return False  # not an attribute of its own: leave it to expat
        declarations += 1
        uri = d[2] if d[2] is not None else d[3]
        if d[1] is None:
            if d.start() > root_end or uri not in _MAIN_NS_BYTES:
                return False
            defaults += 1
        elif uri in _MAIN_NS_BYTES:
            return False
    return defaults == 1 and declarations == buf.count(b"xmlns")


def _not_xml(buf: bytes) -> bool:
    """Whether bytes hold what expat refuses in any XML: forbidden characters, "]]>"."""
    return b"]]>" in buf or b"\xef\xbf\xbe" in buf or b"\xef\xbf\xbf" in buf \
        or len(buf.translate(None, _CONTROLS)) != len(buf)


def _xml_char(n: int) -> bool:
    return n in (9, 10, 13) or 0x20 <= n <= 0xD7FF or 0xE000 <= n <= 0xFFFD \
        or 0x10000 <= n <= 0x10FFFF


def _unescape(text: bytes) -> bytes | None:
    """XML character content with its references replaced; None where expat would refuse."""
    if _OTHER_REFERENCE.search(text) is None:  # the usual case (&amp; &quot;): no callbacks
        for name in (b"lt", b"gt", b"quot", b"apos", b"amp"):  # &amp; last: &amp;lt; is &lt;
            if b"&" + name + b";" in text:
                text = text.replace(b"&" + name + b";", _NAMED_ENTITIES[name])
        return text
    if text.count(b"&") != len(_ENTITY.findall(text)):
        return None  # an entity XML does not define (expat refuses it)
    bad = False

    def one(m: re.Match[bytes]) -> bytes:
        nonlocal bad
        if m[1]:
            return _NAMED_ENTITIES[m[1]]
        n = int(m[2]) if m[2] else int(m[3], 16)
        if not _xml_char(n):
            bad = True
            return b""
        return chr(n).encode("utf-8")

    out = _ENTITY.sub(one, text)
    return None if bad else out


def _fast_attrs(raw: bytes) -> dict[str, str] | None:
    """The unprefixed attributes of a canonical tag (None if one is repeated)."""
    pairs = _ATTR.findall(raw)
    if len({k for k, _ in pairs}) != len(pairs):
        return None
    return {k.decode(): v.decode() for k, v in pairs if b":" not in k}


def _scan_fast(buf: bytes, limits: Limits) -> _SheetFacts | None:
    """The fast path over a whole sheet: None when it is not in the canonical form.

    C-level regular expressions instead of a Python call per element (a few milliseconds a
    plan). Every count is cross-checked, and anything unusual (prefixes, namespaces other than
    the canonical ones, comments, CDATA, an <f> that is not first in its cell, rich text, any
    element in sheetData besides rows and cells) goes to the streaming expat path instead,
    which reads it by namespace and refuses what a spreadsheet would not show. Whether the
    rest of the XML is well-formed is left to python-calamine, which reports it. Each pass
    over the bytes costs about 0.2 ms a plan, so there are few.
    """
    if b"\x00" in buf:
        return None  # NUL, which expat refuses
    opened = buf.find(b"<sheetData")
    closed = buf.rfind(b"</sheetData>")
    if opened < 0 or b"sheetData" in buf[:opened] or b"sheetData" in buf[max(closed, opened) + 12:]:
        return None
    if closed < 0:
        if not buf.startswith(b"<sheetData/>", opened):
            return None
        body, closed = b"", opened + len(b"<sheetData/>")
    else:
        if not buf.startswith(b"<sheetData>", opened):
            return None
        body = buf[opened + len(b"<sheetData>"):closed]
    # Outside sheetData, anything unusual sends the sheet to expat. Inside, the checks
    # below leave nothing but canonical cells and row tags, where these can only be text;
    # only a namespace declaration (xmlns as a cell's attribute) is looked for there too.
    outside = buf[:opened] + b"<" + buf[closed:]
    if b"<!" in outside or _PREFIXED_CELL.search(outside) or b"xmlns" in body:
        return None  # comments, CDATA, declarations; prefixed elements
    if not _plain_namespaces(outside, b"worksheet"):
        return None
    if b"AlternateContent" in buf[:opened]:
        return None  # the general path says whether it wraps the cells

    last = body.rfind(b'<row r="')  # rows come in order: the last says if rows are too many
    if last >= 0 and int(_DIGITS.match(body, last + 8)[0] or 0) > limits.max_rows:  # type: ignore[index]
        for ref, letters, digits in _CELL_REF.findall(body):  # say which: the first too far
            if int(digits) > limits.max_rows or _column_number(letters.decode()) > \
                    limits.max_columns:
                raise _TooFar(ref.decode(), "cell")
    # outside sheetData: no cell and no <f> (python-calamine and the general path would
    # count or place them); inside, nothing but canonical cells and row tags
    if _ANY_CELL.search(buf, 0, opened) or _ANY_CELL.search(buf, closed) \
            or _ANY_F.search(buf, 0, opened) or _ANY_F.search(buf, closed):
        return None
    refs = _CELL_REF.findall(body)
    rest, canonical = _CANON_CELL.subn(b"", body)
    if canonical != len(refs):
        return None
    opens = _ROW_OPEN.findall(rest)
    if _ROW_CLOSE.sub(b"", _ROW_OPEN.sub(b"", rest)).strip():
        return None  # something besides rows and cells in sheetData
    if len(opens) - sum(1 for tag in opens if tag.rstrip().endswith(b"/>")) \
            != rest.count(b"</row>"):
        return None  # a row left open: expat says how the XML is broken
    # every occurrence of the words must be a canonical tag (a note that says "dimension"
    # only costs the slow path); "mergeCells" is the container, not a range
    # (inside sheetData, which holds nothing but canonical cells and rows, the words can
    # only be text)
    dimensions = _CANON_DIMENSION.findall(outside)
    if len(dimensions) != outside.count(b"dimension"):
        return None
    merges = _CANON_MERGE.findall(outside) if b"mergeCell" in outside else []
    if len(merges) != outside.count(b"mergeCell") - outside.count(b"mergeCells"):
        return None
    for ref in dimensions:
        _check_range(ref.decode("ascii", "replace"), "declared size", limits)
    facts = _SheetFacts()
    if refs:
        rows, columns = set(map(itemgetter(2), refs)), set(map(itemgetter(1), refs))
        if max(map(int, rows)) > limits.max_rows or \
                max(_column_number(c.decode()) for c in columns) > limits.max_columns:
            for ref, letters, digits in refs:  # say which cell: the first one too far
                if int(digits) > limits.max_rows or \
                        _column_number(letters.decode()) > limits.max_columns:
                    raise _TooFar(ref.decode(), "cell")
        if len(set(map(itemgetter(0), refs))) != len(refs):
            once: set[bytes] = set()
            for ref, _, _ in refs:  # say which cell: the first one seen twice
                if ref in once:
                    raise _Unusual("duplicate-cells", ref.decode())
                once.add(ref)
    # inline text only in cells of inline text, which hold no <v> (python-calamine reads the
    # <is> of any cell, Excel the <v> of one of shared text)
    # the value of every cell's t= (its first, as python-calamine and the patterns below
    # read it): which of the exact patterns below must look
    types = Counter(_TYPE_VALUE.findall(body))
    inline = _INLINE_CELL.findall(body) if b"<is>" in body else []
    if inline or b"inlineStr" in types:
        if len(inline) != body.count(b"<is>") \
                or b"\x00".join(inline).count(b' t="inlineStr"') != len(inline) \
                or _INLINE_VALUE.search(body):
            return None
    if not types.keys() <= _KNOWN_TYPES:
        odd = _ODD_TYPE.search(body)
        if odd is not None:
            raise _Unusual("unexpected-markup", odd[1].decode(),
                           _type_problem(odd[2].decode("utf-8", "replace")))
        return None  # text or an attribute that looks like a type could hide one: expat reads
    used = _STRING_CELL.findall(body) if b"s" in types else []
    # the usual case, cheaply: every <v> a plain number, every text number plain, no cells
    # of true/false or error values; else the pattern that finds the first odd value
    if b"b" in types or b"e" in types or len(used) != types[b"s"] \
            or any(n[:1] == b"0" and n != b"0" for _, n in used) \
            or not _PLAIN_VALUES.fullmatch(b"<".join(_V_TEXT.findall(body))):
        bad = _BAD_VALUE.search(body)
        if bad is not None:
            raise _Unusual("unexpected-markup", bad[1].decode(),
                           f"a value {bad[2][:30].decode('utf-8', 'replace')!r} in a form "
                           "spreadsheets read differently")
    if used:
        numbers = [int(n) for _, n in used]
        top = max(range(len(numbers)), key=numbers.__getitem__)
        facts.string_index = (numbers[top], used[top][0].decode())
    if b"e" in types:
        errors = _ERROR_CELL.findall(body)
        if len(errors) != buf.count(b' t="e"') or any(b"&" in text for _, text in errors):
            return None
        facts.errors = {coord.decode(): text.decode().strip() for coord, text in errors}

    formula_tags = body.count(b"<f")
    formula_cells = _FORMULA_CELL.findall(body) if formula_tags else []
    if len(formula_cells) != formula_tags:
        return None
    special: list[tuple[str, dict[str, str]]] = []
    raw = coords = b""
    if formula_cells:
        raw = b"\x00".join(map(itemgetter(2), formula_cells))
        if b"\r" in raw or len(raw.translate(None, _CONTROLS)) != len(raw) - len(formula_cells) + 1:
            return None  # expat normalises line ends and refuses control characters
        if b"&" in raw and _OTHER_REFERENCE.search(raw) is not None:
            unescaped = _unescape(raw)  # numeric references: unescaped (and checked) now
            if unescaped is None:
                return None
            raw = unescaped.replace(b"&", b"&amp;").replace(b"<", b"&lt;")
        coords = b"\x00".join(map(itemgetter(0), formula_cells))
        if any(b' t="' in tag for tag in set(map(itemgetter(1), formula_cells))):
            for coord, tag, _ in formula_cells:
                if b' t="' in tag:
                    attrs = _fast_attrs(tag[2:])
                    if attrs is None:
                        return None
                    special.append((coord.decode(), attrs))
    texts = FormulaTexts(coords, raw)
    if special:
        facts.formula_text, facts.formulas, facts.array_ranges = _resolve_formulas(
            dict(texts), special, limits)
    else:  # the usual case: texts stay as stored until someone reads them
        facts.formula_text = texts
        facts.formulas = set(coords.decode("ascii").split("\x00")) if coords else set()
    facts.merged = [m.decode("ascii", "replace").replace("$", "").upper() for m in merges]
    facts.no_dates = b"d" not in types
    # every text of the sheet is in a canonical <is>: python-calamine trims the ends of those
    # not marked xml:space="preserve"; bytes at 128 and above may be Unicode spaces, and a
    # reference (&#10;) may be a line break
    facts.spaces_kept = b"<t" not in outside and not any(
        t[0] <= 32 or t[0] >= 128 or t[-1] <= 32 or t[-1] >= 128 or b"&" in t
        for t in _BARE_INLINE.findall(body) if t)
    return facts


def _scan_sheet_bytes(chunks: Iterator[bytes], limits: Limits) -> _SheetFacts:
    """Scan a worksheet part: the fast path when it is small and canonical, else expat's."""
    held: list[bytes] | None = []
    size = 0
    scan: _SheetScan | None = None
    for chunk in chunks:
        if scan is not None:
            scan.feed(chunk)
            continue
        assert held is not None
        held.append(chunk)
        size += len(chunk)
        if size > _FAST_MAX:
            scan = _SheetScan(limits)
            for piece in held:
                scan.feed(piece)
            held = None
    if scan is not None:
        return scan.close()
    assert held is not None
    whole = b"".join(held)
    facts = _scan_fast(whole, limits)
    if facts is None:
        scan = _SheetScan(limits)
        scan.feed(whole)
        facts = scan.close()
    return facts


# --- shared strings ---------------------------------------------------------------------------

_CANON_SI = re.compile(rb'<si>\s*(?:<t(?: xml:space="preserve")?>[^<]*</t>|<t\s*/>)\s*</si>\s*')
_SST_OPEN = re.compile(rb"<sst" + _ATTRS + rb"\s*(/?)>")


class _StringsScan:
    """The general path over sharedStrings.xml: expat, by namespace, every <si> in the schema's
    form (one <t>, or runs <r>, then phonetic runs <rPh> that no spreadsheet shows), so that
    python-calamine's reading of each text (it joins every <t> outside <rPh>, in any
    namespace or place) is what a spreadsheet shows."""

    def __init__(self) -> None:
        self.parser = parser = _guarded_parser(namespaces=True)
        self.parser.buffer_text = True
        self.index = -1  # of the current <si>
        depth = 0
        stack: list[list] = []
        text: list[str] | None = None  # a run's <t> not marked xml:space="preserve"

        def start(name: str, attrs: dict[str, str]) -> None:
            nonlocal depth, text
            local = _MAIN_LOCAL.get(name)
            if local is not None:
                in_main = True
            else:
                uri, _, local = name.rpartition(" ")
                in_main = uri in _MAIN_NS
            depth += 1
            if depth == 1:
                if not (in_main and local == "sst"):
                    raise _Unusual("damaged", "", "its list of texts is not SpreadsheetML")
                stack.append(["sst", -1, None])
                return
            if name == _ALTERNATE:
                raise _Unusual("alternate-content", index=max(self.index, 0))
            _child(stack[-1], local, in_main, "")
            if depth == 2:
                self.index += 1
            elif local == "t" and stack[-1][0] == "r" and attrs.get(_XML_SPACE) != "preserve":
                text = []
                parser.CharacterDataHandler = text.append
            stack.append([local, -1, None])

        def end(_name: str) -> None:
            nonlocal depth, text
            depth -= 1
            stack.pop()
            if text is not None:
                joined, text = "".join(text), None
                parser.CharacterDataHandler = None
                if joined != joined.strip(_XML_WHITESPACE):
                    raise _Unusual("unexpected-markup", detail=_RUN_SPACES)

        self.parser.StartElementHandler = start
        self.parser.EndElementHandler = end

    def scan(self, data: bytes) -> None:
        try:
            self.parser.Parse(data, True)
        except _Unusual as e:
            e.index = self.index if e.index < 0 else e.index
            raise


def _scan_strings(data: bytes) -> int:
    """Refuse shared strings that python-calamine would read otherwise than Excel shows them;
    the number of texts."""
    if not (b"<!" in data or _not_xml(data)) and _plain_namespaces(data, b"sst") \
            and data.count(b"<sst") == 1:
        m = _SST_OPEN.search(data)
        if m is not None:
            if m[1]:  # <sst/>
                return 0
            closed = data.rfind(b"</sst>")
            if closed >= m.end():
                rest, count = _CANON_SI.subn(b"", data[m.end():closed])
                if not rest.strip():
                    return count
    scan = _StringsScan()
    scan.scan(data)
    return scan.index + 1


def _too_many_cells(sheet: str, cell: str, what: str, limits: Limits) -> ReadProblem:
    extent = f"a plan uses at most {limits.max_columns:,} columns and {limits.max_rows:,} rows"
    if what == "unreadable reference":
        return _not_xlsx(f"The file is damaged: sheet {sheet} has a cell reference {cell!r} "
                         "that is not a cell address.")
    where = {"cell": f"has something in cell {cell}",
             "declared size": f"says it uses cells up to {cell}"}[what]
    return ReadProblem(
        "too-many-cells",
        f"Sheet {sheet} {where}, far outside the plan area ({extent}). Clear everything outside "
        "the plan area: select the extra rows and columns, delete them (right-click > Delete), "
        "save, and send the plan again.", sheet=sheet, cell=cell)


# --- pre-flight: all together -------------------------------------------------------------

def _inspect(data: bytes, file_name: str, limits: Limits,
             wanted: Collection[str] | None) -> _Inspection:
    """Every pre-flight check; also collects what the sheet XML tells (formulas, merges)."""
    if not data.startswith(_LOCAL_SIG) and not data.startswith(_EOCD_SIG):
        raise _not_a_zip(data)
    pkg = _Package(data, limits)

    mimetype = pkg.find("mimetype")
    if mimetype is not None:
        head = b"".join(pkg.chunks(mimetype, cap=256, cap_problem=lambda _n: _not_xlsx(
            "This file is not an Excel workbook (.xlsx).")))
        if head.startswith(b"application/vnd.oasis.opendocument"):
            raise ReadProblem(
                "opendocument-file",
                "This is an OpenDocument spreadsheet (.ods), not an Excel workbook. Save as "
                "Excel Workbook (.xlsx): in LibreOffice choose File > Save As, file type "
                "Excel 2007-365 (.xlsx), and send that file.")

    declared = sum(e.info.file_size for e in pkg.entries.values())
    if declared > limits.max_uncompressed_bytes:
        raise _bomb(f"{_mb(declared)} in all")
    strings = pkg.find(_SHARED_STRINGS)
    if strings is not None and pkg.entries[strings].info.file_size > \
            limits.max_shared_strings_bytes:
        raise _too_many_strings(pkg.entries[strings].info.file_size, limits)
    for name, e in pkg.entries.items():
        size, packed = e.info.file_size, max(e.info.compress_size, 1)
        if size > limits.ratio_floor_bytes and size / packed > limits.max_compression_ratio:
            raise _bomb(f"part {name} is {_mb(size)}, packed {size / packed:,.0f} to 1")

    found = _structure(pkg, file_name)
    wanted_set = None if wanted is None else set(wanted)
    # every part python-calamine could read as a sheet is scanned, mapped or not
    sheet_parts: dict[str, list[str]] = {}
    for s in found.sheets:
        if s.part is not None:
            sheet_parts.setdefault(s.part, []).append(s.name)
    for name in pkg.entries:
        if name.lower().startswith(_WORKSHEET_DIRS) and name.lower().endswith(".xml"):
            sheet_parts.setdefault(name, [])
    done = set()
    for name in (pkg.find("[Content_Types].xml"), pkg.find("xl/workbook.xml"),
                 pkg.find("xl/_rels/workbook.xml.rels"), pkg.find("docProps/app.xml"),
                 pkg.find("_rels/.rels")):
        done.add(name)
    readable = {s.part for s in found.sheets if s.kind == "worksheet"
                and (wanted_set is None or s.name in wanted_set)}
    strings_problem: _Unusual | None = None
    string_count = 0
    for name in pkg.entries:
        if name in done:
            continue
        if name in sheet_parts:
            kept = _scan_sheet(pkg, name, sheet_parts[name], found, limits, wanted_set,
                               keep=name in readable)
            if kept is not None:
                pkg.kept[name] = kept
        elif name == strings:
            pkg.kept[name] = b"".join(pkg.chunks(
                name, cap=limits.max_shared_strings_bytes,
                cap_problem=lambda n: _too_many_strings(n, limits)))
            try:
                string_count = _scan_strings(pkg.kept[name])
            except _Unusual as e:
                strings_problem = e  # raised once the sheets say which cell shows it
            except DefusedXmlException:
                raise _unsafe(name) from None
            except expat.ExpatError as e:
                raise _not_xlsx(f"The file is damaged: its texts ({name}) are not valid "
                                f"({expat.ErrorString(e.code)}, line {e.lineno}).") from None
        elif name.lower() in _CALAMINE_PARTS:
            pkg.read(name)
        else:
            for _ in pkg.chunks(name):
                pass
    if strings_problem is not None:
        raise _strings_problem(strings_problem, found, pkg.kept)
    for s in found.sheets:  # python-calamine cannot read a text number beyond the list
        index, cell = found.string_index.get(s.name, (-1, ""))
        if index >= string_count:
            raise ReadProblem(
                "unexpected-markup",
                f"Sheet {s.name} shows at cell {cell} text number {index + 1} of the "
                f"workbook's list of texts, which holds only {string_count}, so what a "
                f"spreadsheet shows there could differ from what would be counted; the file "
                f"was not read. {_RESAVE}", sheet=s.name, cell=cell)
    found.parts = pkg.kept
    return found


def _strings_problem(e: _Unusual, found: _Inspection, kept: dict[str, bytes]) -> ReadProblem:
    """A problem in sharedStrings.xml, placed at the first cell of a read sheet showing it."""
    sheet, cell = "", ""
    if e.index >= 0:
        shown = re.compile(rb"<(?:[\w.\-]+:)?c\s([^>]*)>\s*(?:<(?:[\w.\-]+:)?f[\s/>][^<]*"
                           rb"(?:</(?:[\w.\-]+:)?f>)?\s*)?<(?:[\w.\-]+:)?v>\s*%d\s*<" % e.index)
        for s in found.sheets:
            data = kept.get(s.part or "")
            for m in shown.finditer(data or b""):
                ref = re.search(rb"""(?:^|\s)r\s*=\s*["']([A-Za-z]{1,3}[0-9]{1,7})["']""", m[1])
                if ref and re.search(rb"""(?:^|\s)t\s*=\s*["']s["']""", m[1]):
                    sheet, cell = s.name, ref[1].decode().upper()
                    break
            if cell:
                break
    where = (f"cell {cell} of sheet {sheet}" if cell
             else f"text number {e.index + 1} of the workbook's list of texts" if e.index >= 0
             else "the workbook's list of texts")
    if e.code == "alternate-content":
        message = (f"The workbook's list of texts (xl/sharedStrings.xml), from {where} on, is "
                   "stored in alternative versions for different spreadsheet programs "
                   "(mc:AlternateContent), so the texts one program shows can differ from "
                   f"what would be read; the file was not read. {_RESAVE}")
        return ReadProblem(e.code, message, sheet=sheet, cell=cell)
    if e.code == "unexpected-markup":
        message = (f"The text of {where} is stored in a form Excel does not read ({e.detail}), "
                   "so what a spreadsheet shows there could differ from what would be read; "
                   f"the file was not read. {_RESAVE}")
        return ReadProblem(e.code, message, sheet=sheet, cell=cell)
    return ReadProblem("not-an-xlsx-file", f"The file is damaged: {e.detail}. {_RESAVE}",
                       sheet=sheet, cell=cell)


#: A <t> (any prefix) that does not say how to treat the spaces at its ends.
_BARE_TEXT = re.compile(rb"<((?:[A-Za-z_][\w.\-]*:)?t)(?=[\s>/])(?![^>]*xml:space)")
#: A cell whose value is an ISO 8601 date (t="d"): gnumeric does not read it as a number.
_DATE_CELL = re.compile(rb'<(?:[A-Za-z_][\w.\-]*:)?c\s[^>]*?\bt\s*=\s*["\']d["\']')


def _for_calamine(name: str, data: bytes, spaces_kept: bool = False) -> bytes | None:
    """A checked part as python-calamine gets it, so that it reads what spreadsheets show.

    - Texts keep the spaces and line breaks at their ends, as LibreOffice and gnumeric do:
      python-calamine trims those of a <t> not marked xml:space="preserve". (Excel may trim
      them; then a code reads with spaces here and is reported, never counted.)
    - No styles: python-calamine turns numbers formatted as dates into dates, and cannot turn
      some back (serial 60, Excel's 1900-02-29); without styles every number is a number.
    """
    low = name.lower()
    if low.endswith("styles.xml"):
        return None
    if low.endswith(".xml") and (low.startswith(_WORKSHEET_DIRS) or low == _SHARED_STRINGS) \
            and not spaces_kept:
        return _BARE_TEXT.sub(rb'<\1 xml:space="preserve"', data)
    return data


def _stored_zip(parts: dict[str, bytes], spaces_kept: Collection[str] = ()) -> bytes:
    """An uncompressed zip of checked parts: all python-calamine ever sees of a file."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for name, data in parts.items():
            kept = _for_calamine(name, data, name in spaces_kept)
            if kept is not None:
                z.writestr(name, kept)
    return out.getvalue()


def _too_many_strings(size: int, limits: Limits) -> ReadProblem:
    return ReadProblem(
        "too-many-strings",
        f"The workbook holds more than {_mb(size)} of text, far more than a plan does (the "
        f"limit is {_mb(limits.max_shared_strings_bytes)}): something large was pasted in. "
        "Delete the pasted data (check every sheet, including hidden ones), save, and send "
        "the plan again.")


def _scan_sheet(pkg: _Package, part: str, names: list[str], found: _Inspection,
                limits: Limits, wanted: set[str] | None, keep: bool) -> bytes | None:
    """Scan one sheet part into `found`; its bytes when `keep` (python-calamine reads it)."""
    collect_for = [n for n in names if wanted is None or n in wanted]
    label = names[0] if names else part
    held: list[bytes] = []

    def chunks() -> Iterator[bytes]:
        for chunk in pkg.chunks(part):
            if keep:
                held.append(chunk)
            yield chunk

    try:
        facts = _scan_sheet_bytes(chunks(), limits)
    except _TooFar as e:
        raise _too_many_cells(label, e.cell, e.what, limits) from None
    except _Unusual as e:
        raise _unusual_problem(label, e) from None
    except ReadProblem as p:
        if p.code == "unsupported-encoding" and names:  # say which sheet the part holds
            raise ReadProblem(p.code, p.message.replace(f"Part {part} ", f"Sheet {label} "
                                                        f"({part}) ", 1),
                              sheet=label) from None
        raise
    except DefusedXmlException:
        raise _unsafe(part) from None
    except expat.ExpatError as e:
        raise _not_xlsx(f"The file is damaged: sheet {label} is not valid "
                        f"({expat.ErrorString(e.code)}, line {e.lineno}).") from None
    for n in names or [label]:
        found.string_index[n] = facts.string_index
    if facts.no_dates:
        found.no_dates.add(part)
    if facts.spaces_kept:
        found.spaces_kept.add(part)
    for n in collect_for:
        found.formulas[n] = set(facts.formulas)
        found.formula_text[n] = facts.formula_text  # never changed once read
        found.array_ranges[n] = dict(facts.array_ranges)
        found.merged[n] = list(facts.merged)
        found.errors[n] = dict(facts.errors)
    return b"".join(held) if keep else None


# --- public: one file ---------------------------------------------------------------------

def preflight(path: Path, limits: Limits = Limits()) -> list[ReadProblem]:
    """Check a file without parsing its values: raises ReadProblem if fatal, returns warnings."""
    path = Path(path)
    return _inspect(_load(path, limits), path.name, limits, wanted=()).warnings


def read_workbook(path: Path, limits: Limits = Limits(),
                  sheets: Collection[str] | None = None) -> RawWorkbook:
    """Pre-flight a file, then read values (python-calamine) of `sheets` (all if None).

    Formulas (cells and text), array ranges, merged ranges and error values are given for the
    same sheets. Requested sheets the workbook lacks, and sheets that are not worksheets (chart
    sheets), have no entry.
    Runs in this process with no timeout or memory limit: use read_many for files from others.
    """
    path = Path(path)
    data = _load(path, limits)
    found = _inspect(data, path.name, limits, sheets)
    wanted = [s for s in found.sheets if s.kind == "worksheet" and s.part is not None
              and (sheets is None or s.name in sheets)]
    values: dict[str, list[list[object]]] = {}
    for s in wanted:
        part = found.parts.get(s.part or "")
        if part is not None and s.part not in found.no_dates and _DATE_CELL.search(part):
            raise ReadProblem(
                "unexpected-markup",
                f"Sheet {s.name} stores a date as text in ISO form (a cell of type d), which "
                "spreadsheet programs read differently (gnumeric does not count it). "
                f"{_RESAVE}", sheet=s.name)
    try:
        if wanted:
            # never the file as received: only the parts checked above, stored uncompressed
            stored = _stored_zip(found.parts, found.spaces_kept)
            book = CalamineWorkbook.from_filelike(io.BytesIO(stored))
            present = set(book.sheet_names)
            for s in wanted:
                if s.name in present:
                    values[s.name] = book.get_sheet_by_name(s.name).to_python(
                        skip_empty_area=False)
    except MemoryError:
        raise
    except Exception as e:  # python-calamine's own errors: the file is broken in a new way
        raise ReadProblem("unreadable", f"The file could not be read ({e}). {_RESAVE}") from None
    except BaseException as e:
        # a Rust panic arrives as pyo3's PanicException, a BaseException
        if isinstance(e, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        raise ReadProblem("unreadable", f"The file could not be read ({e}). {_RESAVE}") from None
    keep = set(values)
    return RawWorkbook(
        path=path,
        sheet_names=[s.name for s in found.sheets],
        hidden_sheets={s.name for s in found.sheets if s.state in ("hidden", "veryHidden")},
        values=values,
        formulas={n: v for n, v in found.formulas.items() if n in keep},
        formula_text={n: v for n, v in found.formula_text.items() if n in keep},
        array_ranges={n: v for n, v in found.array_ranges.items() if n in keep},
        calc=found.calc,
        defined_names=found.defined_names,
        merged={n: v for n, v in found.merged.items() if n in keep},
        warnings=found.warnings,
        application=found.application,
        local_names=found.local_names,
        errors={n: v for n, v in found.errors.items() if n in keep},
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


# --- public: many files, isolated ---------------------------------------------------------

Result = RawWorkbook | ReadProblem
_ALLOC_FAILED = re.compile(rb"memory allocation of (\d+) bytes failed")
_START_TIMEOUT = 60.0  # seconds for a forked worker to report ready (it takes milliseconds)


def _timeout_problem(limits: Limits) -> ReadProblem:
    return ReadProblem(
        "read-timeout",
        f"Reading this file took longer than {limits.timeout_seconds:g} seconds (a plan takes "
        "a fraction of a second), so it was stopped. Open it in Excel, save it as Excel "
        "Workbook (.xlsx) and send it again; if that does not help, ask the budget office.")


def _crash_problem() -> ReadProblem:
    return ReadProblem(
        "read-crashed",
        "The spreadsheet reader crashed on this file: it is damaged in a way that cannot be "
        f"read safely. {_RESAVE}")


def _memory_problem(limits: Limits) -> ReadProblem:
    return ReadProblem(
        "read-out-of-memory",
        f"Reading this file needed more than {limits.memory_mb:,} MB of memory, far more than "
        "a plan needs, so it was stopped. Remove pasted data or pictures, save it as Excel "
        "Workbook (.xlsx) and send it again.")


def _unexpected_problem(e: BaseException) -> ReadProblem:
    """An exception of ssfr-xl's own while reading: a fault to report, never disguised."""
    return ReadProblem(
        "internal-error",
        f"ssfr-xl could not finish reading this file: internal error ({type(e).__name__}: "
        f"{str(e)[:500]}). This is a fault in ssfr-xl, not something the school can fix; "
        "please report this to the budget office's ssfr-xl maintainer, with the file.")


def _address_space() -> int:
    """This process's virtual size in bytes (0 if unknown)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _limit_memory(memory_mb: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    # A worker forked from a big parent already holds its address space; never set the limit
    # below that plus room to work, or every read would fail for reasons of the parent's.
    limit = max(memory_mb * MB, _address_space() + 256 * MB)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _die_with_parent() -> None:
    """Ask Linux to kill this worker if the parent dies (best effort, elsewhere a no-op)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _hooked_read(hook: Callable[[Path], None] | None, path: Path, limits: Limits,
                 sheets: Collection[str] | None) -> Result:
    if hook is not None:
        hook(path)
    return read_workbook(path, limits, sheets)


def _attempt(limits: Limits, step: Callable[..., object], *args: object
             ) -> tuple[object, bool]:
    """What one step of a worker gives for a file, and whether the worker must retire: a
    ReadProblem raised is the result; running out of memory or any other failure is a
    problem with that file, never the end of the others."""
    try:
        return step(*args), False
    except ReadProblem as p:
        return p, False
    except MemoryError:
        return _memory_problem(limits), True
    except BaseException as e:  # noqa: B036 - one file never stops the others
        if isinstance(e, SystemExit | KeyboardInterrupt):
            raise
        return _unexpected_problem(e), False


def _worker_main(conn, limits: Limits, sheets: Collection[str] | None, err_fd: int,
                 inherited: list, hook: Callable[[Path], None] | None,
                 then: Callable[[Path, Result], object] | None = None) -> None:
    """Worker loop: say it is ready, then read each (index, path) sent, answer with results
    (or with what `then` makes of each result, computed here in the worker)."""
    try:
        for other in inherited:  # the parent's ends of the pipes: holding them hides EOFs
            other.close()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        _die_with_parent()
        os.dup2(err_fd, 2)  # the parent reads why a worker died (e.g. a Rust abort message)
        if faulthandler.is_enabled():
            # the host's handler writes to its own copy of stderr (pytest) or to an object
            # without a descriptor (click's CliRunner): point it at this worker's fd 2
            faulthandler.enable(file=2)
        _limit_memory(limits.memory_mb)
    except Exception as e:  # the environment, not a file: the parent raises it
        conn.send(("failed", f"{type(e).__name__}: {e}"))
        return
    conn.send(("ready", ""))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        index, path = task
        os.ftruncate(err_fd, 0)
        result, retire = _attempt(limits, _hooked_read, hook, path, limits, sheets)
        if then is not None and not retire:
            result, retire = _attempt(limits, then, path, result)
        try:
            conn.send((index, result, retire))
        except MemoryError:
            retire = True
            conn.send((index, _memory_problem(limits), retire))
        except Exception as e:  # a result that does not pickle
            conn.send((index, _unexpected_problem(e), retire))
        if retire:  # a worker that hit its memory limit may be fragmented: start afresh
            return


class _Worker:
    """A forked reader process and the file it is working on."""

    def __init__(self, ctx, limits: Limits, sheets, hook, others: list[_Worker], then=None):
        self.conn, child = ctx.Pipe(duplex=True)
        self.err_fd = _temp_fd()
        inherited = [w.conn for w in others] + [self.conn]  # closed in the child
        self.proc = ctx.Process(target=_worker_main, daemon=True,
                                args=(child, limits, sheets, self.err_fd, inherited, hook,
                                      then))
        self.proc.start()
        child.close()
        self.task: tuple[int, Path] | None = None
        self.started = 0.0
        self.killed = False
        # A worker that cannot start is the environment's fault, not the files': say so
        # instead of reporting every file as read-crashed.
        state, detail = "did not answer", ""
        if self.conn.poll(_START_TIMEOUT):
            try:
                state, detail = self.conn.recv()
            except (EOFError, OSError):
                state = "died"
                detail = os.pread(self.err_fd, 2000, 0).decode("utf-8", "replace").strip()
        if state != "ready":
            self.kill()
            self.close()
            raise SsfrError(f"ssfr-xl could not start a process to read plans ({state}"
                            f"{': ' + detail if detail else ''}).")

    def send(self, index: int, path: Path) -> None:
        self.conn.send((index, path))
        self.task, self.started = (index, path), time.monotonic()

    def death_problem(self, limits: Limits) -> ReadProblem:
        """Why the worker died, as a problem with the file it was reading."""
        self.proc.join(timeout=5)
        code = self.proc.exitcode
        try:
            tail = os.pread(self.err_fd, 64 * 1024, 0)
        except OSError:
            tail = b""
        m = _ALLOC_FAILED.search(tail)
        if m is not None:
            # Rust aborts when an allocation fails: a request beyond the worker's allowance
            # because memory ran out, or an absurd size a broken file asked for.
            return (_memory_problem(limits) if int(m[1]) <= limits.memory_mb * MB
                    else _crash_problem())
        if code == -signal.SIGKILL and not self.killed:
            return _memory_problem(limits)  # the kernel's OOM killer
        return _crash_problem()

    def stop(self, wait: float) -> None:
        if self.proc.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.proc.join(timeout=wait)
        if self.proc.is_alive():
            self.kill()
        self.close()

    def kill(self) -> None:
        self.killed = True
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=5)

    def close(self) -> None:
        self.conn.close()
        try:
            os.close(self.err_fd)
        except OSError:
            pass


def _temp_fd() -> int:
    import fcntl
    import tempfile

    fd, name = tempfile.mkstemp(prefix="ssfr-reader-", suffix=".stderr")
    os.unlink(name)
    # append mode: after the worker truncates it, writes start at 0 again, not at a hole
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_APPEND)
    return fd


def _collect(w: _Worker, limits: Limits, assign: Callable[[_Worker], None],
             replace: Callable[[_Worker], None]) -> tuple[Path, Result] | None:
    """The busy worker's outcome if it has one: its answer, its death, or its timeout."""
    assert w.task is not None
    index, path = w.task
    # Readable means an answer, or end-of-file when it died; checked first, so a worker that
    # answered just before its deadline is never killed for being late.
    if w.conn.poll():
        try:
            got_index, result, retiring = w.conn.recv()
        except Exception:  # EOF or a message cut off by its death
            got_index = None
        if got_index == index:
            w.task = None
            if retiring:
                w.proc.join(timeout=5)
                replace(w)
            else:
                assign(w)
            return path, result
    elif w.proc.is_alive():
        if time.monotonic() < w.started + limits.timeout_seconds:
            return None
        w.kill()
        w.task = None
        replace(w)
        return path, _timeout_problem(limits)
    problem = w.death_problem(limits)
    w.task = None
    replace(w)
    return path, problem


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def read_many(paths: Sequence[Path], limits: Limits = Limits(), workers: int | None = None,
              sheets: Collection[str] | None = None,
              progress: Callable[[str], None] | None = None, *,
              then: Callable[[Path, Result], object] | None = None,
              _hook: Callable[[Path], None] | None = None,
              ) -> Iterator[tuple[Path, object]]:
    """Read files in forked worker processes; yield (path, RawWorkbook | ReadProblem) for each.

    With `then`, each worker hands back `then(path, what it read)` instead (checking a plan
    where it was read: only the verdict crosses to this process). A file whose worker died,
    hung or ran out of memory still yields its ReadProblem, for the caller to turn into a
    verdict the same way.

    Results come in any order, every path exactly once. A worker that exceeds the timeout,
    crashes or runs out of memory is killed and replaced; that file yields read-timeout,
    read-crashed or read-out-of-memory and the others go on. `_hook` (tests only) runs in the
    worker before each file is read.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        return
    sheets = None if sheets is None else frozenset(sheets)
    n_workers = max(1, min(workers or _cpu_count(), len(paths)))
    ctx = get_context("fork")
    todo = deque(enumerate(paths))
    pool: list[_Worker] = []
    done = 0

    def spawn() -> _Worker:
        w = _Worker(ctx, limits, sheets, _hook, pool, then)
        pool.append(w)
        return w

    def assign(w: _Worker) -> None:
        if todo:
            index, path = todo.popleft()
            try:
                w.send(index, path)
            except OSError:  # died between files: nothing of this file was started
                todo.appendleft((index, path))
                replace(w)

    def replace(w: _Worker) -> None:
        w.kill()
        w.close()
        pool.remove(w)
        assign(spawn())

    try:
        for _ in range(n_workers):
            spawn()
        for w in list(pool):
            assign(w)
        while done < len(paths):
            busy = [w for w in pool if w.task is not None]
            if not busy:
                raise RuntimeError("read_many lost track of its files")  # cannot happen
            now = time.monotonic()
            wait_for = max(0.0, min(w.started + limits.timeout_seconds for w in busy) - now)
            mp_connection.wait([w.conn for w in busy] + [w.proc.sentinel for w in busy],
                               timeout=wait_for)
            for w in busy:
                result = _collect(w, limits, assign, replace)
                if result is not None:
                    done += 1
                    if progress is not None and (done % 50 == 0 or done == len(paths)):
                        progress(f"read {done:,}/{len(paths):,} files")
                    yield result
    finally:
        for w in list(pool):
            w.stop(wait=2.0)
