"""The oversight site in a real browser: Debian's Chromium, headless, driven by Playwright for Python,
against the site served over HTTP by `assay dashboard serve`'s own server.

Pages load with no console errors and nothing from outside the site, the filters narrow the rows
(alone and together), the language switch goes to English and back, and every internal link of
every page resolves. Screenshots go to $ASSAY_TEST_ARTIFACTS/dashboard (or the test's tmp folder).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from site_ledger import build_ledger

from assay.dashboards.site import build_site
from assay.flows.dashboard_cli import make_server

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Build the hand-made ledger's site and serve it on a free loopback port; yield its url."""
    root = tmp_path_factory.mktemp("dashboard")
    site = root / "site"
    build_site(build_ledger(root / "ledger"), site)
    server = make_server(site, 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless (the test is skipped when it is not installed)."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)"
        if os.environ.get("CI"):  # .ci/run installs it: a missing browser there is a failure
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """The folder screenshots are written to."""
    folder = Path(os.environ.get("ASSAY_TEST_ARTIFACTS", tmp_path)) / "dashboard"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Watched:
    """A page whose console errors, uncaught exceptions and requests outside the site are recorded."""

    def __init__(self, browser: Any, base_url: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ko-KR")
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.page.on(
            "console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

        def request(r: Any) -> None:
            if not r.url.startswith((base_url, "data:")):
                self.outside.append(r.url)

        self.page.on("request", request)

    def visible_rows(self) -> list[str]:
        """Return the ids of the index's rows a reader sees."""
        return self.page.locator("#entries tbody tr:visible").evaluate_all("rows => rows.map(r => r.id)")


@pytest.fixture
def watched(browser: Any, base_url: str) -> Iterator[Watched]:
    """A fresh page; at the end, no console error and no request left the site."""
    w = Watched(browser, base_url)
    try:
        yield w
        assert w.errors == []
        assert w.outside == []
    finally:
        w.context.close()


ALL = [f"entry-00000{i}" for i in (6, 5, 4, 3, 2, 1)]


def test_the_index_a_trend_page_and_a_report_load_cleanly(
    watched: Watched, base_url: str, shots: Path
) -> None:
    page = watched.page
    response = page.goto(base_url + "index.html")
    assert response is not None and response.status == 200
    assert page.locator("#integrity").inner_text() == "무결성 확인: 항목 6개, 모든 해시와 연결을 검증함"
    assert watched.visible_rows() == ALL
    assert page.locator("#count").inner_text() == "6/6건 표시"  # the script ran
    page.screenshot(path=str(shots / "index.png"), full_page=True)
    page.click("a[href='service-welfare-review.html']")
    page.wait_for_url(base_url + "service-welfare-review.html")
    chart = page.locator("section[data-candidate='vendor-c'] div[data-metric='balanced_accuracy'] svg")
    assert chart.locator("circle.pt").count() == 3
    assert chart.bounding_box()["height"] > 100  # drawn, not collapsed
    page.screenshot(path=str(shots / "service-welfare-review.png"), full_page=True)
    page.goto(base_url + "index.html")
    page.click("#entry-000006 a.report")
    page.wait_for_url(base_url + "entries/000006/report.html")
    assert "welfare-review.vendor-c.v3" in page.content()
    page.screenshot(path=str(shots / "report.png"), full_page=True)
    page.goto(base_url + "entries/000003/report.html")  # the round's comparison
    page.screenshot(path=str(shots / "round-report.png"), full_page=True)
    for name in ("index.png", "service-welfare-review.png", "report.png", "round-report.png"):
        assert (shots / name).stat().st_size > 10_000


def test_the_filters_narrow_the_rows_alone_and_together(watched: Watched, base_url: str, shots: Path) -> None:
    page = watched.page
    page.goto(base_url + "index.en.html")
    page.select_option("#f-vendor", "Beta Data")
    assert watched.visible_rows() == ["entry-000005"]
    assert page.locator("#count").inner_text() == "1 of 6 shown"
    page.select_option("#f-vendor", "Alpha Analytics")  # its audit and the round it competed in
    assert watched.visible_rows() == ["entry-000003", "entry-000001"]
    page.fill("#f-from", "2026-01-15")
    assert watched.visible_rows() == ["entry-000003"]
    page.click("#f-reset")
    assert watched.visible_rows() == ALL
    page.select_option("#f-service", "welfare-review")
    page.select_option("#f-recommendation", "eligible")
    assert watched.visible_rows() == ["entry-000002"]
    page.select_option("#f-recommendation", "")
    page.fill("#f-from", "2026-01-12")
    page.fill("#f-to", "2026-02-16")
    assert watched.visible_rows() == ["entry-000004", "entry-000003", "entry-000002"]
    page.select_option("#f-service", "")  # housing-aid's audit of 2026-02-20 is still after the range
    assert watched.visible_rows() == ["entry-000004", "entry-000003", "entry-000002"]
    page.fill("#f-to", "2026-02-28")
    assert watched.visible_rows() == ["entry-000005", "entry-000004", "entry-000003", "entry-000002"]
    page.screenshot(path=str(shots / "index-filtered.png"), full_page=True)
    page.fill("#f-to", "2026-01-01")  # before every entry
    assert watched.visible_rows() == []
    assert page.locator("#count").inner_text() == "0 of 6 shown"


def test_the_language_switch_goes_to_english_and_back(watched: Watched, base_url: str, shots: Path) -> None:
    page = watched.page
    page.goto(base_url + "index.html")
    assert page.locator("html").get_attribute("lang") == "ko"
    page.click("#lang-switch")
    page.wait_for_url(base_url + "index.en.html")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "AI audit oversight"
    assert page.locator("#integrity").inner_text() == "intact: 6 entries, every hash and link verified"
    page.screenshot(path=str(shots / "index-en.png"), full_page=True)
    page.click("#lang-switch")
    page.wait_for_url(base_url + "index.html")
    assert page.locator("h1").inner_text() == "AI 감사 감독 현황"
    page.goto(base_url + "service-housing-aid.html")
    page.click("#lang-switch")
    page.wait_for_url(base_url + "service-housing-aid.en.html")
    assert page.locator("h1").inner_text().startswith("housing-aid service")


def test_every_internal_link_of_every_page_resolves(watched: Watched, base_url: str) -> None:
    page = watched.page
    seen: set[str] = set()
    queue = [base_url + "index.html"]
    checked: dict[str, int] = {}
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
        for href in hrefs:
            if href.startswith(("http://", "https://")):
                continue
            target = urljoin(url, href).split("#")[0]
            if target not in checked:
                checked[target] = page.request.get(target).status
            assert checked[target] == 200, f"{url}: {href} → {checked[target]}"
            if target.startswith(base_url) and urlsplit(target).path.endswith(".html"):
                queue.append(target)
    pages = {urlsplit(u).path for u in seen}
    assert {"/index.html", "/index.en.html", "/service-welfare-review.en.html"} <= pages
    assert {
        "/entries/000006/report.html",
        "/entries/000006/report.en.html",
        "/entries/000003/report.html",
    } <= pages
    assert len(pages) == 18  # 6 site pages and 12 reports, each visited with no console error
