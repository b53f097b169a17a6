"""Every page of the privacy center is served with the declared headers, and its CSP is enforced."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Recorder, Site, csp_violations


@pytest.mark.parametrize("path", ["/", "/index.html", "/base.css", "/assets/privacy-center.js", "/config.json"])
def test_each_file_carries_exactly_the_declared_headers(page: Any, site: Site, path: str) -> None:
    reply = page.request.get(path)
    assert reply.status == 200
    expected = {name.lower(): value for name, value in site.expected_headers(path).items()}
    assert {name: reply.headers.get(name) for name in expected} == expected


def test_the_config_names_the_local_pools_and_their_cognito_endpoint(page: Any, site: Site) -> None:
    config = page.request.get("/config.json").json()
    pools = site.stack.info.resources.user_pools
    assert config["cognitoEndpoint"] == site.cognito_endpoint
    assert config["apiBase"] == ""
    assert {pool["userPoolId"] for pool in (config["customerPool"], config["staffPool"])} <= {
        pool.pool_id for pool in pools.values()
    }


def test_the_policy_refuses_inline_script_on_the_page(page: Any, site: Site, recorder: Recorder) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    ran = page.evaluate(
        """() => {
            window.__inlineRan = false;
            const script = document.createElement("script");
            script.textContent = "window.__inlineRan = true";
            document.head.appendChild(script);  // an allowed inline script would run right here
            return window.__inlineRan;
        }"""
    )
    assert ran is False
    page.wait_for_function("() => window.__cspViolations.length > 0")
    assert [item["directive"] for item in csp_violations(page)] == ["script-src-elem"]
    # Provoked on purpose, not the page's own: cleared so the fixture's check stays about the pages.
    page.evaluate("() => { window.__cspViolations = []; }")
    recorder.console_csp.clear()
