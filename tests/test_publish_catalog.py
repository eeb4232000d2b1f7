"""The site's message catalog: every message of the templates and modules has a translation
in every language, with the same placeholders, and the catalog holds nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from ssfr_xl.site.i18n import LANGUAGES, catalog_path, translations

SITE = Path(__file__).resolve().parent.parent / "ssfr_xl" / "site"
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def messages() -> dict[str, list[str]]:
    """msgid -> where it is used, from the templates (Jinja2) and the Python modules."""
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2.ext:babel_extract")]
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(SITE), method_map, keywords={"_": None, "N_": None, "gettext": None}):
        found.setdefault(message, []).append(f"{filename}:{lineno}")
    return found


def test_messages_are_found():
    found = messages()
    assert len(found) > 150
    assert "How the formula works" in found and "Lowest-need quarter" in found


@pytest.mark.parametrize("lang", [code for code in LANGUAGES if code != "en"])
def test_every_message_is_translated_with_its_placeholders(lang):
    with catalog_path(lang).open("rb") as fh:
        catalog = read_po(fh)
    found = messages()
    entries = {m.id: m for m in catalog if m.id}
    missing = sorted(set(found) - set(entries))
    assert missing == [], f"not in the {lang} catalog: {missing[:5]}"
    extra = sorted(set(entries) - set(found))
    assert extra == [], f"in the {lang} catalog but no longer used: {extra[:5]}"
    for msgid, entry in entries.items():
        assert entry.string.strip(), f"{msgid!r} has no {lang} translation"
        assert not entry.fuzzy, f"{msgid!r} is marked fuzzy"
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(entry.string)), \
            msgid
    t = translations(lang)
    assert t.gettext("How the formula works") != "How the formula works"
