"""Headless gnumeric (ssconvert) as a second independent spreadsheet engine.

LibreOffice is one implementation of Excel's formulas; gnumeric is another, written
separately. Recalculating the same workbook in both tells a formula that only one engine
evaluates as intended from one that is portable (DESIGN.md: "Portable formulas ... that
LibreOffice 7.4 and gnumeric 1.12 evaluate alike").

    find_ssconvert()        path of ssconvert, or None
    missing_tool_reason()   what to install when ssconvert is missing or cannot run; else None
    recalculate(paths, out_dir)
                            every workbook recalculated (`ssconvert --recalc in out`) and saved
                            as .xlsx in out_dir; many files run side by side, one process each
    recalculate_each(paths, out_dir)
                            the same, one (output or None, what went wrong) per file, for
                            batches where a file gnumeric cannot open must cost only that file

ssconvert converts one file per process (it has no batch mode that keeps each file's
sheets apart), but it starts in a fraction of a second, so `recalculate` runs several at a
time and reports every file that failed, not only the first. Outputs are written with the
Excel 2010 exporter (Gnumeric_Excel:xlsx2) and named like ssfr_xl.libreoffice.recalculate
names them: after the input, repeated names numbered -2, -3, ...

What gnumeric 1.12 keeps in a .xlsx round trip: formulas (re-spelled: it writes its own
canonical text), cached values of every formula, defined names, hidden sheets, sheet
protection. It prints warnings on stderr for parts it does not know (header and footer
variants, some chart properties) and goes on; those are not failures.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ssfr_xl.errors import FileError

#: What to install on Debian/Ubuntu when ssconvert is missing.
INSTALL_HINT = "apt-get install gnumeric"

#: gnumeric's exporter for .xlsx (ISO/IEC 29500, the Excel 2010 dialect).
XLSX_EXPORTER = "Gnumeric_Excel:xlsx2"

_SSCONVERT_PATHS = ("/usr/bin/ssconvert", "/usr/local/bin/ssconvert", "/opt/homebrew/bin/ssconvert")


def find_ssconvert() -> str | None:
    """Return the path of gnumeric's ssconvert, or None when it is not installed."""
    found = shutil.which("ssconvert")
    if found:
        return found
    return next((p for p in _SSCONVERT_PATHS if os.access(p, os.X_OK)), None)


@functools.cache
def _probe(path: str) -> str | None:
    """None when `ssconvert --version` runs; else why not."""
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL, env=_env())
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{path} cannot run ({e}): {INSTALL_HINT}"
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
        return f"{path} --version failed (exit code {done.returncode}: {said[0]}): {INSTALL_HINT}"
    return None


def missing_tool_reason() -> str | None:
    """Say what to install when ssconvert is missing or cannot run; None when it works."""
    path = find_ssconvert()
    if path is None:
        return f"gnumeric (ssconvert) is not installed: {INSTALL_HINT}"
    return _probe(path)


def version() -> str:
    """ssconvert's version line ('' when it cannot run)."""
    path = find_ssconvert()
    if path is None:
        return ""
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL, env=_env())
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (done.stdout.strip().splitlines() or [""])[0]


def recalculate(paths: Sequence[Path], out_dir: Path, timeout: float = 120,
                workers: int | None = None) -> list[Path]:
    """Recalculate every formula of each workbook in gnumeric; return the .xlsx outputs.

    One ssconvert process per file, `workers` at a time (default: the number of CPUs); each
    file gets `timeout` seconds. Raises FileError naming every file that failed, with what
    ssconvert said, after all of them have run.
    """
    results = recalculate_each(paths, out_dir, timeout, workers)
    failed = [why for _out, why in results if why]
    if failed:
        shown = "\n".join(failed[:10])
        more = f"\n... and {len(failed) - 10} more" if len(failed) > 10 else ""
        raise FileError(f"gnumeric could not recalculate {len(failed)} of {len(results)} "
                        f"file(s):\n{shown}{more}")
    return [out for out, _why in results if out is not None]


def recalculate_each(paths: Sequence[Path], out_dir: Path, timeout: float = 120,
                     workers: int | None = None) -> list[tuple[Path | None, str]]:
    """Like recalculate, but one (output, "") or (None, what went wrong) per input, in order:
    a file gnumeric cannot open costs that file only."""
    ssconvert = find_ssconvert()
    if ssconvert is None:
        raise FileError(f"gnumeric (ssconvert) is not installed: {INSTALL_HINT}")
    sources = [Path(p) for p in paths]
    for src in sources:
        if not src.is_file():
            raise FileError(f"cannot recalculate {src}: no such file")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = _unique_targets(sources, out_dir)
    if not sources:
        return []
    n = max(1, min(workers or os.cpu_count() or 1, len(sources)))
    with tempfile.TemporaryDirectory(prefix="ssfr-gnumeric-") as home:
        def one(job: tuple[Path, Path]) -> str | None:
            return _convert(ssconvert, job[0], job[1], timeout, home)

        with ThreadPoolExecutor(max_workers=n) as pool:
            problems = list(pool.map(one, zip(sources, targets, strict=True)))
    return [(None, why) if why is not None else (target, "")
            for target, why in zip(targets, problems, strict=True)]


def _convert(ssconvert: str, src: Path, target: Path, timeout: float, home: str) -> str | None:
    """Run one conversion; None when the output was written, else what went wrong."""
    # write beside the target, then rename: a killed ssconvert leaves no half-written output
    partial = target.with_name(f".{target.stem}.partial.xlsx")
    args = [ssconvert, "--recalc", "-T", XLSX_EXPORTER, str(src), str(partial)]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace",
                            start_new_session=True, env=_env(home))
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        proc.communicate()
        partial.unlink(missing_ok=True)
        return f"{src}: ssconvert took longer than {timeout:g} s"
    if proc.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        said = "\n  ".join(output.strip().splitlines()[-5:])
        return f"{src}: ssconvert failed (exit code {proc.returncode}):\n  {said}"
    os.replace(partial, target)
    return None


def _env(home: str | None = None) -> dict[str, str]:
    """The environment for ssconvert: no display, and (when given) a private HOME so its
    settings (GSettings, recent files) never touch the user's."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.setdefault("GSETTINGS_BACKEND", "memory")
    if home is not None:
        env["HOME"] = home
        env["XDG_CONFIG_HOME"] = os.path.join(home, ".config")
        env["XDG_CACHE_HOME"] = os.path.join(home, ".cache")
        env["XDG_DATA_HOME"] = os.path.join(home, ".local", "share")
    return env


def _kill(proc: subprocess.Popen) -> None:
    """Kill proc and anything it started."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (AttributeError, ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


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


__all__ = ["INSTALL_HINT", "XLSX_EXPORTER", "find_ssconvert", "missing_tool_reason",
           "recalculate", "recalculate_each", "version"]
