"""Where the site goes: one folder, built whole in a hidden folder beside it and renamed into
place, so a reader never sees half a site and a failure leaves the old one.

The --out folder must be new, empty, or a site ssfr-xl published before (it holds the marker
file); anything else is refused, since publishing replaces the whole folder. It may not be a
file, an input, or inside the folder of returned plans (a folder holding a plan workbook of
one of the district's schools, or a folder the totals workbook lists files of).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ..errors import FileError
from ..exports import OutputPlaceError, _inside, line_text, require_folder, same_place

#: The file that marks a folder as a site ssfr-xl published (so it may be replaced).
MARKER = ".ssfr-xl-site"


#: What a published site holds at its top (a page left from an earlier build is replaced
#: too); anything else in the folder, a spreadsheet or notes, is someone's file.
_SITE_FILES = frozenset({MARKER})
_SITE_SUFFIXES = frozenset({".html", ".css", ".js", ".csv", ".svg", ".png"})
_SITE_FOLDERS = frozenset({"assets", "data"})
_LANGUAGE_FOLDER = re.compile(r"[a-z]{2,3}(?:_[A-Z]{2})?")


def is_earlier_site(folder: Path) -> bool:
    """Whether a folder holds only a site ssfr-xl published (its marker, its pages and
    folders): a marker alone does not make a folder of other files replaceable."""
    if not (folder / MARKER).is_file():
        return False
    for entry in os.scandir(folder):
        if entry.is_symlink():
            return False
        if entry.is_dir():
            if entry.name not in _SITE_FOLDERS and not _LANGUAGE_FOLDER.fullmatch(entry.name):
                return False
        elif entry.name not in _SITE_FILES and Path(entry.name).suffix not in _SITE_SUFFIXES:
            return False
    return True


def check_out(out: Path, inputs: Iterable[tuple[str, Path]], plan_names: set[str]) -> None:
    """Refuse an --out that would lose or mix up anything (usage error, exit 2)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputPlaceError(f"--out {line_text(out)} is a file: give a folder for the "
                               "site (it is created, or replaced if it holds an earlier site).")
    for what, path in inputs:
        if same_place(out, path) or _inside(path, out):
            raise OutputPlaceError(f"--out {line_text(out)} holds {what} {line_text(path)}: "
                                   "the site replaces its whole folder. Choose another folder.")
    here = Path(os.path.abspath(out)).parent
    for folder in (here, *here.parents):
        try:
            names = {e.name for e in os.scandir(folder) if e.is_file()}
        except OSError:
            continue
        found = sorted(names & plan_names)
        if found:
            raise OutputPlaceError(
                f"--out {line_text(out)} is inside {line_text(folder)}, which holds the school "
                f"plan {line_text(found[0])}: outputs never go in the folder of returned plans "
                "(they would be read as plans next time). Choose a place outside it.")
    if out.is_dir() and any(out.iterdir()) and not is_earlier_site(out):
        raise OutputPlaceError(f"--out {line_text(out)} is a folder with files that are not a "
                               "site ssfr-xl published: publishing replaces the whole folder. "
                               "Give a new or empty folder.")
    require_folder(out, "--out", creates=True)


def check_not_inside(out: Path, folders: Iterable[tuple[str, Path]]) -> None:
    """Refuse an --out inside any of these folders (e.g. the totals' returned folder)."""
    for what, folder in folders:
        if folder.is_dir() and _inside(out, folder):
            raise OutputPlaceError(
                f"--out {line_text(out)} is inside {what} {line_text(folder)}. Outputs never "
                "go in the folder of returned plans: choose a place outside it.")


class SiteFolder:
    """A staging folder beside --out; `publish` swaps it into place."""

    def __init__(self, out: Path):
        self.out = Path(out)
        parent = Path(os.path.abspath(self.out)).parent
        try:
            self._stage = Path(tempfile.mkdtemp(prefix=f".{self.out.name[:100]}.stage-",
                                                dir=parent))
        except OSError as e:
            raise FileError(f"Cannot write in {line_text(parent)}: {e.strerror or e}. Choose "
                            "a folder you can write to.") from e
        self.root = self._stage / "site"
        self.root.mkdir()

    def path(self, relative: str) -> Path:
        """A file of the site by its path inside it (never outside: checked)."""
        target = (self.root / relative).resolve()
        if not target.is_relative_to(self.root.resolve()):
            raise FileError(f"Refusing to write {line_text(relative)}: outside the site.")
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def write(self, relative: str, data: str | bytes) -> None:
        """Write a file of the site."""
        target = self.path(relative)
        if isinstance(data, str):
            target.write_text(data, encoding="utf-8", newline="\n")
        else:
            target.write_bytes(data)

    def publish(self) -> None:
        """Put the new site in place of --out (the old site, if any, is removed after)."""
        (self.root / MARKER).write_text("A site written by ssfr-xl publish. Publishing again "
                                        "replaces this whole folder.\n", encoding="utf-8")
        old = self._stage / "old"
        try:
            if self.out.exists():
                os.rename(self.out, old)
            try:
                os.rename(self.root, self.out)
            except OSError:
                if old.exists():
                    os.rename(old, self.out)
                raise
        except OSError as e:
            raise FileError(f"Cannot put the site in {line_text(self.out)}: "
                            f"{e.strerror or e}. Nothing was changed.") from e
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove the staging folder (and the old site after a publish)."""
        shutil.rmtree(self._stage, ignore_errors=True)
