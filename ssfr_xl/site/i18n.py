"""One message catalog for every language of the site, and numbers formatted per language.

The English text is the message id. Each other language has a gettext catalog,
``ssfr_xl/site/locale/<lang>/LC_MESSAGES/messages.po``, compiled to .mo in memory when the
site is built (Babel), so a translator edits one .po file and nothing else. Money, numbers,
percentages and dates are formatted by Babel for the language's locale (US dollars in every
language: the district's money is dollars).

Messages in Python modules are marked with ``N_`` (kept as English until a page asks for the
language); templates call ``_()``. tests/test_publish_catalog.py checks that every message of
the templates and modules has a translation in every catalog, with the same placeholders.
"""

from __future__ import annotations

import datetime as _dt
import gettext
import io
from dataclasses import dataclass
from importlib import resources

from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent

from ..money import excel_round

#: Languages the site can be written in: code -> (Babel locale, the language's own name).
LANGUAGES: dict[str, tuple[str, str]] = {
    "en": ("en_US", "English"),
    "es": ("es_US", "Español"),
}


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "translate later"
    """Mark a message for the catalog; it is translated where a page shows it."""
    return message


def catalog_path(lang: str):
    """The .po file of a language (a Traversable inside the package)."""
    return resources.files("ssfr_xl.site").joinpath("locale", lang, "LC_MESSAGES",
                                                     "messages.po")


def translations(lang: str) -> gettext.NullTranslations:
    """The language's messages: its .po catalog compiled in memory (English: the ids)."""
    if lang == "en":
        return gettext.NullTranslations()
    with catalog_path(lang).open("rb") as fh:
        catalog = read_po(fh, locale=LANGUAGES[lang][0])
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@dataclass(frozen=True)
class Formats:
    """Numbers, money, shares and dates as a language writes them."""

    lang: str

    @property
    def locale(self) -> str:
        """The Babel locale, e.g. es_US."""
        return LANGUAGES[self.lang][0]

    def money(self, value: float, decimals: int = 2) -> str:
        """$1,234.56 (negative: -$1,234.56)."""
        pattern = None if decimals == 2 else "¤#,##0"
        value = excel_round(value, decimals)  # Babel would round half to even
        return format_currency(value, "USD", format=pattern, locale=self.locale,
                               currency_digits=decimals == 2)

    def number(self, value: float, decimals: int = 0) -> str:
        """1,234 or 1,234.5 with that many decimals."""
        pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
        value = excel_round(value, decimals)
        return format_decimal(value, format=pattern, locale=self.locale)

    def decimal(self, value: float, most: int = 3) -> str:
        """A weight or ratio with at most `most` decimals and no trailing zeros: 1.09, 1."""
        return format_decimal(excel_round(value, most), format="#,##0." + "#" * most,
                              locale=self.locale)

    def measure(self, value: float) -> str:
        """A measured value with one to three decimals, as the results workbook shows it
        (#,##0.0##): 12.5, -3.25, 40.0."""
        return format_decimal(excel_round(value, 3), format="#,##0.0##", locale=self.locale)

    def share(self, value: float, decimals: int = 1) -> str:
        """12.3% (a small share keeps its digits: 0.056%)."""
        if 0 < abs(value) < 0.01 and decimals < 3:
            decimals = 3
        pattern = "#,##0" + ("." + "0" * decimals if decimals else "") + "%"
        return format_percent(value, format=pattern, locale=self.locale)

    def date(self, value: _dt.date) -> str:
        """4 May 2026 in the language's long form."""
        return format_date(value, "long", locale=self.locale)

    def statistic(self, value: float | None, decimals: int = 3) -> str:
        """A statistic with its decimals, or n/a when it is undefined."""
        return "n/a" if value is None else self.number(value, decimals)
