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

The pre-flight's pieces are in ssfr_xl/preflight/, one module per step above: problems (the
limits, ReadProblem, the raw workbook), package (bytes, encoding, zip), structure, cells (what a
sheet holds, as both scans report it), sheet_scan (the general path), fast_scan, strings, and
workbook (one file end to end: preflight, read_workbook). This module is the public face and
holds read_many's isolated workers.

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

import faulthandler
import gc
import os
import re
import resource
import signal
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator, Sequence
from multiprocessing import connection as mp_connection
from multiprocessing import get_context
from pathlib import Path

from .errors import SsfrError
from .preflight.cells import FormulaTexts, escaped_texts
from .preflight.problems import _RESAVE, MB, Limits, RawWorkbook, ReadProblem
from .preflight.workbook import preflight, read_workbook

__all__ = [
    "FormulaTexts",
    "Limits",
    "RawWorkbook",
    "ReadProblem",
    "preflight",
    "read_many",
    "read_workbook",
    "escaped_texts",
]


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
        # what the parent held (the district record) lives as long as this worker: the
        # collector never walks it (which would also copy its pages), only what each file makes
        gc.freeze()
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
