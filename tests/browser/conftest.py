import shutil

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in the test thread, which Django's async-safety
    # guard takes for async code; the tests' own database calls are plain synchronous ones.
    mp = pytest.MonkeyPatch()
    mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Chromium is not installed: run 'make test', which installs it.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    mp.undo()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="es-CR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


# The lab engine's fixtures, for the lab-in-the-browser tests.
from tests.labs.conftest import docker_engine, lab_images  # noqa: E402, F401
