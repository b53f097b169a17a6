"""The API reference at /docs/ renders the whole OpenAPI 3.1 document in a real browser (issue 22).

The tier's Chromium (`tests/browser/conftest.py`: the system's, never downloaded) opens `/docs/` on the
tier's served local stack,
which sends the built page under the declared API reference headers. Every operation of
docs/openapi.json must appear as a rendered operation (method and path), no render error may
show, the Content-Security-Policy must not have blocked anything, and axe-core must find no
serious or critical accessibility violation. A screenshot goes to reports/browser/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from custody.declared import web
from tests.browser.conftest import Site

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "docs" / "openapi.json"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOT = ROOT / "reports" / "browser" / "api-reference.png"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
RENDER_TIMEOUT_MS = 30_000

pytestmark = pytest.mark.e2e


def documented_operations() -> set[tuple[str, str]]:
    """(METHOD, path) of every operation docs/openapi.json declares."""
    document = json.loads(OPENAPI.read_text())
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item if method in METHODS}


@pytest.fixture(scope="module")
def reference(browser: Any, site: Site) -> Iterator[dict[str, Any]]:
    """The rendered /docs/ page, with what the browser reported while loading it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    console: list[str] = []
    failed: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on("response", lambda answer: failed.append(f"{answer.status} {answer.url}") if answer.status >= 400 else None)
    response = page.goto(site.url + web.API_REFERENCE_PATH, wait_until="networkidle")
    page.wait_for_selector(".opblock", timeout=RENDER_TIMEOUT_MS)
    try:
        yield {
            "page": page,
            "response": response,
            "console": console,
            "failed": failed,
            "cognito_endpoint": site.cognito_endpoint,
        }
    finally:
        context.close()


def test_every_documented_operation_is_rendered(reference: dict[str, Any]) -> None:
    page = reference["page"]
    rendered = page.eval_on_selector_all(
        ".opblock",
        """blocks => blocks.map(block => [
            block.querySelector('.opblock-summary-method')?.textContent.trim(),
            block.querySelector('.opblock-summary-path')?.getAttribute('data-path'),
        ])""",
    )
    operations = {(method, path) for method, path in rendered}
    expected = documented_operations()
    assert len(expected) > 10  # the document is the real one
    assert expected <= operations, sorted(expected - operations)
    assert len(rendered) == len(expected)  # each once (no tag renders an operation twice)


def test_nothing_failed_to_render_or_load(reference: dict[str, Any]) -> None:
    page = reference["page"]
    assert reference["response"].status == 200
    assert page.locator("text=Unable to render").count() == 0
    assert page.locator(".errors-wrapper").count() == 0
    assert page.locator(".info .title").inner_text().startswith(json.loads(OPENAPI.read_text())["info"]["title"])
    assert reference["failed"] == []
    refused = [line for line in reference["console"] if "Content Security Policy" in line or line.startswith("error")]
    assert refused == []


def test_the_page_is_served_with_the_declared_api_reference_headers(reference: dict[str, Any]) -> None:
    headers = reference["response"].all_headers()
    # The local stack's pages call its own Cognito (moto); deployed, AWS's endpoint (tests/infra/test_web.py).
    declared = web.security_headers([reference["cognito_endpoint"]], api_reference=True)
    assert {name: headers[name.lower()] for name in declared} == declared


def test_axe_finds_no_serious_or_critical_violation(reference: dict[str, Any]) -> None:
    page = reference["page"]
    page.evaluate(AXE.read_text())
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    serious = [
        (item["id"], item["impact"], [node["target"] for node in item["nodes"][:3]], item["nodes"][0]["failureSummary"])
        for item in results["violations"]
        if item["impact"] in ("serious", "critical")
    ]
    assert serious == [], json.dumps(serious, indent=1)


def test_a_screenshot_is_kept_for_the_report(reference: dict[str, Any]) -> None:
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    reference["page"].screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000
