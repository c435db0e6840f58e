"""Browser tests: pytest-django's live server driven by Playwright in the system's headless Chromium.

Chromium comes from Debian (``apt-get install chromium``); test tools' own browser downloads do not
work here. Without it these tests skip, unless ``REQUIRE_BROWSER=1`` (CI), where that is a failure.
"""

import os
import shutil

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make are fine.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
PASSWORD = "correct-horse-battery"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium not found at {CHROMIUM} and REQUIRE_BROWSER=1")
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def csp_refused() -> list[str]:
    """What the Content-Security-Policy refused on ``page`` during the test (Chromium logs each as a
    console error "Refused to …"); ``page`` fails a test that leaves anything here."""
    return []


def csp_watch(page, refused: list[str]) -> None:
    def seen(message) -> None:
        text = message.text
        if message.type == "error" and ("Refused to" in text or "Content Security Policy" in text):
            refused.append(f"{page.url}: {text}")

    page.on("console", seen)


@pytest.fixture
def page(browser, live_server, csp_refused):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    csp_watch(page, csp_refused)
    yield page
    context.close()
    assert not csp_refused, "The Content-Security-Policy refused something:\n" + "\n".join(csp_refused)


@pytest.fixture
def login(page):
    """``login(user)``: sign in through the real /login/ form (factory users share one password)."""

    def do_login(user):
        page.goto("/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login/" not in url)
        return page

    return do_login
