"""Exceptions ssfr-xl raises, in two families, each carrying its command-line exit code.

    SsfrError                    base: the CLI catches only this and prints one line
    ├── InputError               the caller's input is wrong (policy, roster, workbook contents)
    │   ├── PolicyError          policy.toml or the Policy sheet
    │   ├── RosterError          roster CSV, CDE file, Schools sheet
    │   └── WorkbookError        a workbook's structure or cells (names the sheet and cell)
    └── FileError                the environment: missing, unreadable or unwritable files
        └── OutputExistsError    refusing to overwrite without --force

Problems in *returned school plans* are never exceptions: they are Findings (see model.py).
"""

from __future__ import annotations


class SsfrError(Exception):
    """Something ssfr-xl cannot do with what it was given."""

    exit_code = 1


class InputError(SsfrError):
    """The caller's input is wrong; the message says where and what to change."""


class PolicyError(InputError):
    """The funding policy (policy.toml or the Policy sheet) is not valid."""


class RosterError(InputError):
    """The school roster (CSV, CDE file or Schools sheet) is not valid."""


class WorkbookError(InputError):
    """A workbook does not have the structure or values ssfr-xl expects."""


class FileError(SsfrError):
    """A file could not be read or written."""


class OutputExistsError(FileError):
    """The output file exists; pass --force to replace it."""
