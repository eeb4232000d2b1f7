"""Pre-flight of a returned file as bytes, text encoding and zip: what is in it, inflated
within caps, CRC-checked and scanned for declarations, before any XML parser sees it."""

from __future__ import annotations

import codecs
import io
import os
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .problems import _RESAVE, Limits, ReadProblem, _bomb, _damaged, _mb, _not_xlsx, _unsafe

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

_WORKSHEET_DIRS = ("xl/worksheets/", "xl/chartsheets/", "xl/dialogsheets/")
_SHARED_STRINGS = "xl/sharedStrings.xml"  # python-calamine reads this name, not the rels
#: What python-calamine reads besides the worksheets (lower case: it ignores case). It is
#: handed a new zip of exactly these checked bytes, never the file as received.
_CALAMINE_PARTS = frozenset({"_rels/.rels", "[content_types].xml", "xl/workbook.xml",
                             "xl/_rels/workbook.xml.rels", "xl/styles.xml",
                             "xl/sharedstrings.xml"})
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


