"""Browser tests: pytest-playwright driving Debian's Chromium against a live server.

The live server (pytest-django's ``live_server``) runs the real Django app in a thread of this
process against the test PostgreSQL; a real Celery worker subprocess evaluates and delivers; the
SMTP sink receives the alert email. Chromium is ``/usr/bin/chromium`` (Debian package
``chromium``, installed by ``make test``); Playwright downloads no browser. axe-core comes from
the npm package ``axe-core`` (installed by ``make test`` under ``var/npm``).

Screenshots of every step are written to ``var/screenshots/`` (``SCREENSHOT_DIR`` overrides).
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
AXE = Path(
    os.environ.get(
        "AXE_CORE_PATH", ROOT / "var" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
    )
)
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "var" / "screenshots"))
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still
# synchronous, one at a time, so Django's async-safety guard is lifted for these tests.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _chromium_version() -> str:
    if not CHROMIUM.exists():
        return ""
    return subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True).stdout


CHROMIUM_VERSION = _chromium_version()  # e.g. "Chromium 142.0.7444.175 built on Debian ..."


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); "
            "`make test` does it."
        )
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "headless": True,
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture
def http_cookies(settings):
    """The live server speaks plain HTTP: let the session and CSRF cookies travel over it."""
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


@pytest.fixture
def axe_source() -> str:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test` installs the npm package axe-core.")
    return AXE.read_text()


class Shots:
    """Save a numbered screenshot of each step, named after the test."""

    def __init__(self, name: str):
        self.folder = SCREENSHOTS / name
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.count = 0

    def __call__(self, page, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shots(request) -> Shots:
    return Shots(request.node.name)


AXE_RUN = """async () => {
    const r = await axe.run(document, {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}});
    return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
}"""


def _axe(page, source: str) -> list[dict]:
    if page.evaluate("typeof window.axe") == "undefined":
        # Evaluated through the DevTools protocol, so the page's CSP (no inline script) does not
        # block the test's own script.
        page.evaluate(f"() => {{ {source}\n; window.axe = axe; }}")
    return page.evaluate(AXE_RUN)


@pytest.fixture
def check_axe(axe_source):
    """Run axe-core on the page; fail on any serious or critical violation (WCAG 2 A/AA).

    axe needs JavaScript: for a page shown with JavaScript disabled, the very DOM it shows is
    checked in a second page of the same origin whose own scripts are blocked (so the page is
    exactly as a browser without JavaScript renders it, styles included).
    """

    def check(page, *, javascript: bool = True) -> list[dict]:
        if javascript:
            result = _axe(page, axe_source)
        else:
            html = page.content()
            match = re.match(r"https?://[^/]+", page.url)
            assert match is not None
            origin = match.group(0)
            context = page.context.browser.new_context(viewport=page.viewport_size, bypass_csp=True)
            try:
                context.add_cookies(page.context.cookies())
                context.route(re.compile(r".*\.js(\?.*)?$"), lambda route: route.abort())
                copy = context.new_page()
                copy.goto(f"{origin}/healthz")
                copy.set_content(html, wait_until="load")
                result = _axe(copy, axe_source)
            finally:
                context.close()
        bad = [v for v in result if v["impact"] in ("serious", "critical")]
        assert bad == [], f"axe-core on {page.url}: {bad}"
        return result

    return check
