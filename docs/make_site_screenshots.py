"""Screenshots of the published site: the district page, a school page and the strategies
library, at desktop and phone width.

    python docs/make_site_screenshots.py      # writes docs/screenshots/site-*.png

Builds the small consolidated test season (tests/publish_season.py: the sample district, its
plans returned and consolidated with a ledger), publishes it in English and Spanish and
photographs the pages in headless Chromium (Debian package `chromium`; the DevTools client
needs websocket-client, from the test extras). The README's publish section shows them; run
this after changing a page's layout or style.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ssfr_xl.site import publish_site  # noqa: E402
from ssfr_xl.site.browser import Browser  # noqa: E402
from tests.publish_season import make_publish_season  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
WIDTHS = {"desktop": (1280, False), "phone": (390, True)}


def main() -> None:
    """Build, publish, photograph."""
    with tempfile.TemporaryDirectory(prefix="ssfr-xl-site-shots-") as tmp:
        season = make_publish_season(Path(tmp))
        site = Path(tmp) / "site"
        publish_site(season.district, site, ledger=season.ledger, langs=("en", "es"))
        school = sorted((site / "en" / "schools").glob("*.html"))[1]
        pages = {"district": site / "en" / "index.html", "school": school,
                 "library": site / "en" / "library.html",
                 "school-es": site / "es" / "schools" / school.name}
        with Browser() as browser:
            for name, page_path in pages.items():
                for width_name, (width, mobile) in WIDTHS.items():
                    if name == "school-es" and width_name == "desktop":
                        continue
                    with browser.page(width, 800, mobile) as page:
                        page.open(page_path.as_uri())
                        target = OUT / f"site-{name}-{width_name}.png"
                        page.screenshot(target, width, mobile)
                        print(f"wrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
