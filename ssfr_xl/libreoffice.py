"""Headless LibreOffice Calc as an independent spreadsheet engine.

openpyxl writes formulas without cached values and cannot calculate them, so the only way to
know what a workbook *shows* is to open it in a spreadsheet program. LibreOffice runs headless
on Linux CI, and being a separate implementation it also catches formulas that only our own
evaluator gets right.

    recalculate()      convert .xlsx -> .xlsx with every formula recalculated (one soffice run)
    type_into()        type values/formulas into cells like a person, recalculate, save .xlsx
    type_into_many()   the same for several workbooks sharing one soffice start-up

Every call uses a fresh temporary LibreOffice profile, so runs never share state with each
other or with a desktop LibreOffice, and the profile always says "recalculate on load".

What LibreOffice 7.4 keeps in a .xlsx round trip: formulas, defined names (global and
sheet-scoped), sheet protection and its options, locked=False, data validation, conditional
formats, merged cells, hidden sheets. It writes booleans as booleans (t="b") and errors as
their text (t="e", e.g. "#DIV/0!"). It drops workbook-structure protection and frozen panes,
and does not know Excel 365 functions such as XLOOKUP (#NAME?).
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from ssfr_xl.errors import FileError, WorkbookError

#: LibreOffice's export filter for .xlsx.
XLSX_FILTER = "Calc MS Excel 2007 XML"

#: What to install on Debian/Ubuntu when LibreOffice or its Python bridge is missing.
INSTALL_HINT = "apt-get install libreoffice-calc python3-uno"

_SOFFICE_PATHS = (
    "/usr/bin/soffice",
    "/usr/lib/libreoffice/program/soffice",
    "/opt/libreoffice/program/soffice",
    "/Applications/LibreOffice.app/Contents/MacOS/soffice",
)

# LibreOffice keeps the cached values of .xlsx/.ods files by default ("never recalculate"),
# which would make it repeat whatever stale numbers the file carries. 0 = always recalculate.
_REGISTRY = """\
<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" \
oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" \
oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""

_CELL = re.compile(r"[A-Za-z]{1,3}[1-9][0-9]*")

# Exit code by which the UNO script reports a problem with the caller's edits or workbook
# (unknown sheet, locked cell, unparsable formula) rather than with LibreOffice itself.
_EXIT_INPUT = 3

# Run by a Python that can `import uno` (Debian's python3-uno serves only /usr/bin/python3, not
# the project's interpreter). It connects to an soffice started by type_into_many and reads
# the jobs as JSON on stdin; the parent owns soffice and kills it whatever happens here.
_UNO_SCRIPT = r"""
import json, sys, time
import uno
from com.sun.star.beans import PropertyValue
from com.sun.star.sheet.AddressConvention import XL_OOX
from com.sun.star.sheet.FormulaLanguage import OOXML

EXIT_INPUT = 3
# LibreOffice's codes for formulas it could not parse (Err:501 invalid character,
# 504 parameter list, 507/508 parentheses, 509 operator missing, 510 variable missing).
SYNTAX_ERRORS = {501, 504, 507, 508, 509, 510}
ALL_MAP_GROUPS = 0x7FFFFFFF


def prop(name, value):
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p


def fail(message, code=EXIT_INPUT):
    sys.stderr.write(message + "\n")
    sys.exit(code)


def connect(pipe, timeout):
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.UnoUrlResolver", local)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
        except Exception:
            if time.monotonic() > deadline:
                fail(f"could not connect to soffice within {timeout:.0f} s", 1)
            time.sleep(0.1)


def formula_parser(doc):
    # Parse formulas as they are written in .xlsx files (and by openpyxl): comma separators,
    # Sheet!A1 references, English names. Cell.setFormula would expect LibreOffice syntax.
    parser = doc.createInstance("com.sun.star.sheet.FormulaParser")
    mapper = doc.createInstance("com.sun.star.sheet.FormulaOpCodeMapper")
    parser.FormulaConvention = XL_OOX
    parser.CompileEnglish = True
    parser.OpCodeMap = mapper.getAvailableMappings(OOXML, ALL_MAP_GROUPS)
    return parser


def run_job(desktop, job, respect_protection):
    src = job["src"]
    doc = desktop.loadComponentFromURL(
        uno.systemPathToFileUrl(src), "_blank", 0, (prop("Hidden", True),))
    if doc is None:
        fail(f"LibreOffice could not open {src}", 1)
    try:
        parser = formula_parser(doc)
        formulas = []
        # One recalculation after all edits, not one per typed cell.
        doc.enableAutomaticCalculation(False)
        for sheet_name, address, value in job["edits"]:
            where = f"{src}: {sheet_name}!{address}"
            if not doc.Sheets.hasByName(sheet_name):
                fail(f"{where}: no sheet named {sheet_name!r}")
            sheet = doc.Sheets.getByName(sheet_name)
            cell = sheet.getCellRangeByName(address)
            # The API writes through sheet protection; a person cannot, so neither do we.
            if respect_protection and sheet.isProtected() and cell.CellProtection.IsLocked:
                fail(f"{where} is locked on a protected sheet; a person could not type into it")
            if value is None:
                cell.setString("")
            elif isinstance(value, str) and value.startswith("="):
                cell.setTokens(parser.parseFormula(value, cell.getCellAddress()))
                formulas.append((where, value, cell))
            elif isinstance(value, str):
                cell.setString(value)
            else:
                cell.setValue(value)
        doc.enableAutomaticCalculation(True)
        doc.calculateAll()
        for where, value, cell in formulas:
            if cell.getError() in SYNTAX_ERRORS:
                fail(f"{where}: LibreOffice could not parse {value!r} (Err:{cell.getError()})")
        doc.storeToURL(
            uno.systemPathToFileUrl(job["out"]),
            (prop("FilterName", job["filter"]), prop("Overwrite", True)))
    finally:
        doc.close(True)


def main():
    pipe, timeout = sys.argv[1], float(sys.argv[2])
    request = json.load(sys.stdin)
    ctx = connect(pipe, timeout)
    desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
    try:
        for job in request["jobs"]:
            run_job(desktop, job, request["respect_protection"])
    finally:
        try:
            desktop.terminate()
        except Exception:
            pass  # the bridge drops as soffice quits; the parent kills it if it lingers


main()
"""


def find_soffice() -> str | None:
    """Return the path of LibreOffice's soffice, or None when it is not installed."""
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    return next((p for p in _SOFFICE_PATHS if os.access(p, os.X_OK)), None)


@functools.cache
def find_uno_python() -> str | None:
    """Return a Python interpreter that can `import uno`, or None."""
    soffice = find_soffice()
    candidates = ["/usr/bin/python3", "/usr/local/bin/python3"]
    if soffice:
        # LibreOffice's own Linux and macOS builds (not distro packages) bundle a uno Python.
        program = Path(soffice).resolve().parent
        candidates += [str(program / "python"), str(program.parent / "Resources" / "python")]
    for python in candidates:
        if not os.access(python, os.X_OK):
            continue
        try:
            probe = subprocess.run(
                [python, "-c", "import uno"], env=_uno_env(), capture_output=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return python
    return None


def missing_tool_reason(uno: bool = True) -> str | None:
    """Say what to install when soffice (or, with uno=True, Python-UNO) is missing; else None."""
    if find_soffice() is None:
        return f"LibreOffice (soffice) is not installed: {INSTALL_HINT}"
    if uno and find_uno_python() is None:
        return f"no Python with LibreOffice's 'uno' module was found: {INSTALL_HINT}"
    return None


def recalculate(paths: Sequence[Path], out_dir: Path, timeout: float = 600) -> list[Path]:
    """Recalculate every formula of each workbook in LibreOffice; return the .xlsx outputs."""
    soffice = _require_soffice()
    sources = [Path(p) for p in paths]
    for src in sources:
        if not src.is_file():
            raise FileError(f"cannot recalculate {src}: no such file")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = _unique_targets(sources, out_dir)
    if not sources:
        return []

    with _profile() as profile, tempfile.TemporaryDirectory(prefix="ssfr-lo-") as tmp:
        # soffice names each output after its input, so identical names would overwrite one
        # another; numbered copies keep one soffice start-up for all of them.
        in_dir, conv_dir = Path(tmp, "in"), Path(tmp, "out")
        in_dir.mkdir()
        copies = []
        for i, src in enumerate(sources):
            copies.append(in_dir / f"{i:05d}{src.suffix}")
            shutil.copyfile(src, copies[-1])
        args = [
            soffice, *_SOFFICE_FLAGS, profile,
            "--convert-to", f"xlsx:{XLSX_FILTER}", "--outdir", str(conv_dir),
            *map(str, copies),
        ]  # fmt: skip
        output = _run(args, timeout)
        for i, (src, target) in enumerate(zip(sources, targets, strict=True)):
            converted = conv_dir / f"{i:05d}.xlsx"
            if not converted.is_file():
                raise FileError(f"LibreOffice did not convert {src}; its output:\n{output}")
            shutil.move(converted, target)
    return targets


def type_into(
    path: Path,
    edits: Mapping[tuple[str, str], object],
    out_path: Path,
    timeout: float = 300,
    respect_protection: bool = True,
) -> Path:
    """Type values into cells in LibreOffice, recalculate and save the workbook as .xlsx."""
    return type_into_many([(path, edits, out_path)], timeout, respect_protection)[0]


def type_into_many(
    jobs: Sequence[tuple[Path, Mapping[tuple[str, str], object], Path]],
    timeout: float = 600,
    respect_protection: bool = True,
) -> list[Path]:
    """Run type_into on several (path, edits, out_path) jobs with one soffice start-up.

    Each edit maps (sheet name, A1 address) to a number, a string (entered as text), a string
    starting with "=" (entered as a formula in .xlsx syntax: commas, Sheet!A1, English names,
    _xlfn. prefixes as openpyxl writes them) or None (clears the cell). Like a person, it
    refuses locked cells on protected sheets (WorkbookError) unless respect_protection=False;
    sheets are never unprotected, because LibreOffice's API writes through protection anyway.
    """
    soffice = _require_soffice()
    python = find_uno_python()
    if python is None:
        raise FileError(f"no Python with LibreOffice's 'uno' module was found: {INSTALL_HINT}")
    requests: list[dict[str, object]] = []
    outputs: list[Path] = []
    for src, edits, out in jobs:
        src, out = Path(src).resolve(), Path(out).resolve()
        if not src.is_file():
            raise FileError(f"cannot open {src} in LibreOffice: no such file")
        if out in outputs:
            raise ValueError(f"two jobs write {out}")
        out.parent.mkdir(parents=True, exist_ok=True)
        outputs.append(out)
        requests.append(
            {"src": str(src), "out": str(out), "filter": XLSX_FILTER, "edits": _edit_list(edits)}
        )
    if not outputs:
        return []
    request = {"respect_protection": respect_protection, "jobs": requests}

    pipe = f"ssfr-{uuid.uuid4().hex}"
    with _profile() as profile, tempfile.TemporaryFile("w+") as log:
        # soffice's output goes to a file: nobody reads a pipe while it runs.
        accept = f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext"
        office = _popen([soffice, *_SOFFICE_FLAGS, profile, accept], stdout=log, stderr=log)
        try:
            try:
                script = subprocess.run(
                    [python, "-c", _UNO_SCRIPT, pipe, str(min(timeout, 120))],
                    input=json.dumps(request),
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    env=_uno_env(),
                )
            except subprocess.TimeoutExpired as exc:
                message = f"LibreOffice took longer than {timeout:g} s"
                raise FileError(f"{message}; soffice said:\n{_read(log)}") from exc
            message = script.stderr.strip()
            if script.returncode == _EXIT_INPUT:
                raise WorkbookError(message)
            if script.returncode != 0:
                raise FileError(
                    f"typing into workbooks in LibreOffice failed:\n{message}\n"
                    f"soffice said:\n{_read(log)}"
                )
            try:
                office.wait(timeout=30)  # soffice quits by itself after desktop.terminate()
            except subprocess.TimeoutExpired:
                pass  # the outputs are written; _kill below ends it
        finally:
            _kill(office)
    for out in outputs:
        if not out.is_file():
            raise FileError(f"LibreOffice did not write {out}")
    return outputs


# --- internals ----------------------------------------------------------------------------

# --norestore/--nolockcheck: never show recovery or lock dialogs, which would hang headless.
_SOFFICE_FLAGS = (
    "--headless",
    "--invisible",
    "--nologo",
    "--nodefault",
    "--norestore",
    "--nolockcheck",
)


def _require_soffice() -> str:
    soffice = find_soffice()
    if soffice is None:
        raise FileError(f"LibreOffice (soffice) is not installed: {INSTALL_HINT}")
    return soffice


@contextmanager
def _profile() -> Iterator[str]:
    """Yield the -env:UserInstallation argument of a fresh profile that always recalculates."""
    with tempfile.TemporaryDirectory(prefix="ssfr-lo-profile-") as tmp:
        user = Path(tmp, "user")
        user.mkdir()
        (user / "registrymodifications.xcu").write_text(_REGISTRY, encoding="utf-8")
        yield f"-env:UserInstallation={Path(tmp).as_uri()}"


def _uno_env() -> dict[str, str]:
    # The project's interpreter may export settings that would break the system Python.
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH")}


def _popen(args: list[str], **kwargs: object) -> subprocess.Popen:
    # A new session makes soffice's children (oosplash -> soffice.bin) one killable group.
    return subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True, **kwargs)


def _kill(proc: subprocess.Popen) -> None:
    """Kill proc and everything it started that is still running."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (AttributeError, ProcessLookupError, PermissionError):
        proc.kill()  # no process groups (Windows), or the group is already gone
    proc.wait()


def _read(log: IO[str]) -> str:
    log.seek(0)
    return log.read().strip()


def _run(args: list[str], timeout: float) -> str:
    """Run soffice to completion and return its output; FileError on failure or timeout."""
    proc = _popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        _kill(proc)
        output, _ = proc.communicate()
        raise FileError(f"LibreOffice took longer than {timeout:g} s:\n{output}") from exc
    finally:
        _kill(proc)
    if proc.returncode != 0:
        raise FileError(f"LibreOffice failed (exit code {proc.returncode}):\n{output}")
    return output


def _unique_targets(sources: list[Path], out_dir: Path) -> list[Path]:
    """Name each output after its input (.xlsx); repeated names get -2, -3, ..."""
    targets: list[Path] = []
    taken: set[str] = set()  # lower case: macOS and Windows file names ignore case
    for src in sources:
        name, n = f"{src.stem}.xlsx", 1
        while name.lower() in taken:
            n += 1
            name = f"{src.stem}-{n}.xlsx"
        taken.add(name.lower())
        targets.append(out_dir / name)
    return targets


def _edit_list(edits: Mapping[tuple[str, str], object]) -> list[list[object]]:
    """Check the edits and turn them into JSON-ready [sheet, address, value] triples."""
    checked: list[list[object]] = []
    for (sheet, address), value in edits.items():
        if not _CELL.fullmatch(address):
            raise ValueError(f"{sheet}!{address}: not an A1 cell address")
        if isinstance(value, bool) or not isinstance(value, int | float | str | type(None)):
            raise TypeError(f"{sheet}!{address}: cannot type {value!r}; give a number or a str")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{sheet}!{address}: cannot type {value!r}")
        checked.append([sheet, address.upper(), value])
    return checked
