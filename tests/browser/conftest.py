"""The browser tier: Playwright (Python) driving the system's Chromium against the served local stack.

* `chromium_path`: `$CHROMIUM`, else `chromium` or `chromium-browser` on the PATH; the whole tier
  skips, saying so, when there is none (`make test` installs Debian's first: `make browser`).
  Playwright never downloads a browser here: it launches that one (`executable_path`).
* `browser` (session): one headless Chromium; `site` (session): the served stack (`served_stack`,
  `custody local up` in a subprocess) and its URL; the pages are the ones `make web` built.
* `page`: a fresh context per test, recording every page's response headers and any Content
  Security Policy violation (the `securitypolicyviolation` event and the console's reports); a test
  fails when a page broke its CSP, or a document came without the declared headers.
* `check_accessibility(page, name)`: axe-core (node_modules/axe-core, injected through the DevTools
  protocol, so the page's own CSP stays as strict as served), failing on any serious or critical
  violation and printing them; and a screenshot to `reports/browser/<name>.png`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from custody.declared import web
from devstack.paths import REPO_ROOT
from tests.integration.conftest import ServedStack, served_stack

__all__ = ["ServedStack", "served_stack"]

AXE = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
BUILT = REPO_ROOT / "build" / "web"
SCREENSHOTS = REPO_ROOT / "reports" / "browser"
BLOCKING_IMPACTS = frozenset({"serious", "critical"})
# What every test waits for at most: a step of the local stack, not a timing the test asserts.
TIMEOUT_MS = 60_000
# Records CSP violations in the page; injected by the DevTools protocol, not subject to the page's CSP.
VIOLATION_RECORDER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push({directive: event.violatedDirective, blocked: event.blockedURI});
});
"""


def pytest_configure(config: pytest.Config) -> None:
    """Assertions wait as long as actions do: the machine may be busy, and what the tests assert is
    what the pages end up showing, never how fast."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


def find_chromium() -> str | None:
    """The system's Chromium: `$CHROMIUM`, else `chromium` or `chromium-browser` on the PATH."""
    configured = os.environ.get("CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else shutil.which(configured)
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    found = find_chromium()
    if found is None:
        pytest.skip("no Chromium: set $CHROMIUM or install chromium (`make browser`); the browser tier needs one")
    return found


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    arguments = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=arguments)
        yield launched
        launched.close()


@dataclass(frozen=True)
class Site:
    """The served local stack as the browser sees it: one origin for the pages and the API."""

    stack: ServedStack

    @property
    def url(self) -> str:
        return self.stack.info.api_url

    @property
    def cognito_endpoint(self) -> str:
        return self.stack.info.aws_endpoint_url

    def expected_headers(self, path: str) -> dict[str, str]:
        """The declared headers of the page at `path`."""
        reference = path.startswith(web.API_REFERENCE_PATH)
        return web.security_headers([self.cognito_endpoint], api_reference=reference)


@pytest.fixture(scope="session")
def site(served_stack: ServedStack) -> Site:
    if not (BUILT / "index.html").is_file() or not (BUILT / "assets" / "privacy-center.js").is_file():
        pytest.fail("build/web holds no privacy center: run `make web` (make setup does)")
    return Site(served_stack)


@dataclass
class Recorder:
    """What a test's pages did: each document's URL and headers, and every CSP violation reported."""

    documents: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    console_csp: list[str] = field(default_factory=list)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def context_options() -> dict[str, Any]:
    """The browser context's options (a test overrides it for another locale)."""
    return {"locale": "en-GB", "viewport": {"width": 1280, "height": 900}, "accept_downloads": True}


@pytest.fixture
def page(browser: Any, site: Site, recorder: Recorder, context_options: dict[str, Any]) -> Iterator[Any]:
    context = browser.new_context(base_url=site.url, **context_options)
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(VIOLATION_RECORDER)
    opened = context.new_page()
    opened.on(
        "console",
        lambda message: (
            recorder.console_csp.append(message.text)
            if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text
            else None
        ),
    )
    opened.on(
        "response",
        lambda response: (
            recorder.documents.append((response.url, dict(response.all_headers())))
            if response.request.resource_type == "document"
            else None
        ),
    )
    yield opened
    violations = csp_violations(opened)
    context.close()
    assert not violations, f"the pages broke their Content-Security-Policy: {violations}"
    assert not recorder.console_csp, f"the console reported CSP violations: {recorder.console_csp}"
    for url, headers in recorder.documents:
        if not url.startswith(site.url):
            continue  # a presigned download from the local S3, not a page
        path = url[len(site.url) :].split("#", 1)[0].split("?", 1)[0] or "/"
        expected = {name.lower(): value for name, value in site.expected_headers(path).items()}
        assert {name: headers.get(name) for name in expected} == expected, f"{path} was served without its headers"


def csp_violations(page: Any) -> list[dict[str, str]]:
    """The violations the page recorded so far (empty when it has navigated away from ours)."""
    try:
        found = page.evaluate("() => window.__cspViolations || []")
    except Exception:  # a closed page or a download navigation: nothing more to read
        return []
    return list(found)


def check_accessibility(page: Any, name: str, *, full_page: bool = True) -> None:
    """axe-core on the page as it is now: no serious or critical violation; a screenshot either way
    (of the whole page, or of the window only for a page too long to picture whole)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    results = page.evaluate("async () => await window.axe.run(document, {resultTypes: ['violations']})")
    blocking = [item for item in results["violations"] if item.get("impact") in BLOCKING_IMPACTS]
    if blocking:
        described = [
            {
                "id": item["id"],
                "impact": item["impact"],
                "help": item["help"],
                "nodes": [node["target"] for node in item["nodes"]][:5],
            }
            for item in blocking
        ]
        print(json.dumps(described, indent=2))
    assert not blocking, f"{name}: axe found serious or critical violations: {[item['id'] for item in blocking]}"
