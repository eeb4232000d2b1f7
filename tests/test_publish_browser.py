"""The published site in a real browser (headless Chromium over the DevTools protocol): every
page of two sites (the sample district alone, and a consolidated season) opens with no console
error and no failed load, every link and image resolves, axe-core finds no serious or critical
WCAG 2.1 A/AA violation, the library's search finds a strategy by a word in it, the library
lists everything with JavaScript off, and a school page prints on at most two pages.

Needs the Debian package `chromium`, the Python package websocket-client (test extras) and
the npm package axe-core in node_modules/ (.ci/run installs all three). Without them the tests
skip, except in CI (CI set), where they fail.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from ssfr_xl.site import publish_site
from ssfr_xl.site.browser import Browser, find_chromium
from tests.publish_season import SEARCH_WORD, shared_publish_season

ROOT = Path(__file__).resolve().parent.parent
AXE = Path(os.environ.get("SSFR_XL_AXE", ROOT / "node_modules" / "axe-core" / "axe.min.js"))
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _missing() -> str | None:
    if find_chromium() is None:
        return "Chromium is not installed (Debian package chromium)"
    try:
        import websocket  # noqa: F401
    except ImportError:
        return "websocket-client is not installed (pip install -e '.[test]')"
    if not AXE.is_file():
        return f"axe-core is not installed ({AXE}; npm install axe-core)"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but the browser tests cannot run: {reason}", pytrace=False)
        pytest.skip(reason)
    with Browser() as b:
        yield b


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    season = shared_publish_season()
    root = tmp_path_factory.mktemp("browser-sites")
    publish_site(season.district, root / "plain")
    publish_site(season.district, root / "season", ledger=season.ledger)
    return {"plain": root / "plain", "season": root / "season"}


LINKS = """Array.from(document.querySelectorAll('a[href], img[src], link[href], script[src]'))
  .map(e => [e.tagName, e.href || e.src])"""
IMAGES = """Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)
  .map(i => i.src)"""
AXE_RUN = ("axe.run(document, {runOnly: {type: 'tag', values: %s}}).then(r => r.violations"
           ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
           ".map(v => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3)"
           ".map(n => n.html.slice(0, 120)).join(' | ')))")


def _target(url: str) -> tuple[Path, str]:
    parts = urlsplit(url)
    assert parts.scheme == "file", f"not a file of the site: {url}"
    return Path(unquote(parts.path)), parts.fragment


@pytest.mark.parametrize("name", ["plain", "season"])
def test_every_page_opens_cleanly_and_is_accessible(browser, sites, name):
    site = sites[name]
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 10
    axe = AXE.read_text(encoding="utf-8")
    ids: dict[Path, set[str]] = {}
    problems: list[str] = []
    with browser.page() as page:
        for path in pages:
            page.open(path.as_uri())
            problems += [f"{path.relative_to(site)}: {e}" for e in page.errors()]
            problems += [f"{path.relative_to(site)}: broken image {src}"
                         for src in page.evaluate(IMAGES)]
            for tag, url in page.evaluate(LINKS):
                target, fragment = _target(url)
                if not target.is_file():
                    problems.append(f"{path.relative_to(site)}: broken {tag} {url}")
                    continue
                if fragment:
                    if target not in ids:
                        ids[target] = set(re.findall(r'id="([^"]+)"', target.read_text()))
                    if fragment not in ids[target]:
                        problems.append(f"{path.relative_to(site)}: no #{fragment} in {url}")
                assert target.resolve().is_relative_to(site.resolve()), url
            page.evaluate(axe)
            problems += [f"{path.relative_to(site)}: {v}" for v in
                         page.evaluate(AXE_RUN % AXE_TAGS, await_promise=True)]
    assert problems == []


def _visible(page) -> list[str]:
    return page.evaluate("Array.from(document.querySelectorAll('article.strategy'))"
                         ".filter(a => a.offsetParent !== null).map(a => a.textContent)")


@pytest.mark.parametrize("lang", ["en", "es"])
def test_search_finds_a_strategy_by_a_word_in_it(browser, sites, lang):
    with browser.page() as page:
        page.open((sites["season"] / lang / "library.html").as_uri())
        everything = _visible(page)
        assert len(everything) > 10
        word = SEARCH_WORD.lower()[2:9]  # part of the word, in other case
        page.evaluate(f"(() => {{ const q = document.getElementById('q'); q.value = "
                      f"'{word}'; q.dispatchEvent(new Event('input')); }})()")
        found = _visible(page)
        assert len(found) == 1 and SEARCH_WORD in found[0]
        count = page.evaluate("document.getElementById('count').textContent")
        assert "1" in count and str(len(everything)) in count
        page.evaluate("(() => { const q = document.getElementById('q'); q.value = "
                      "'no such strategy anywhere'; q.dispatchEvent(new Event('input')); })()")
        assert _visible(page) == []
        assert page.evaluate("document.getElementById('none').hidden") is False
        goal = page.evaluate("document.querySelector('#f-goal option:nth-child(2)').value")
        page.evaluate(f"(() => {{ const q = document.getElementById('q'); q.value = ''; "
                      f"const g = document.getElementById('f-goal'); g.value = '{goal}'; "
                      f"g.dispatchEvent(new Event('change')); }})()")
        shown = page.evaluate("Array.from(document.querySelectorAll('article.strategy'))"
                              ".filter(a => a.offsetParent !== null).map(a => a.dataset.goal)")
        assert shown and set(shown) == {goal}
        assert page.errors() == []


def test_without_javascript_the_library_lists_everything(browser, sites):
    with browser.page() as page:
        page.send("Emulation.setScriptExecutionDisabled", value=True)
        page.open((sites["season"] / "en" / "library.html").as_uri())
        articles = page.evaluate("document.querySelectorAll('article.strategy').length")
        assert articles > 10
        assert page.evaluate("document.getElementById('filters').offsetParent") is None


def test_a_school_page_prints_on_one_or_two_pages(browser, sites):
    with browser.page() as page:
        for lang in ("en", "es"):
            for path in sorted((sites["season"] / lang / "schools").glob("*.html")):
                page.open(path.as_uri())
                pdf = base64.b64decode(page.send("Page.printToPDF",
                                                 preferCSSPageSize=True)["data"])
                pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
                assert 1 <= pages <= 2, f"{lang}/{path.name} prints on {pages} pages"


def test_a_phone_sees_the_page_without_sideways_scrolling(browser, sites):
    school = sorted((sites["season"] / "es" / "schools").glob("*.html"))[0]
    axe = AXE.read_text(encoding="utf-8")
    with browser.page(390, 800, mobile=True) as page:
        for rel in ("en/index.html", "es/library.html", "en/services.html",
                    str(school.relative_to(sites["season"]))):
            page.open((sites["season"] / rel).as_uri())
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 392, f"{rel} is {width}px wide on a 390px phone"
            page.evaluate(axe)
            assert page.evaluate(AXE_RUN % AXE_TAGS, await_promise=True) == [], rel
