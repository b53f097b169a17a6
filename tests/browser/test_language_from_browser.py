"""The language is picked from the browser's when the person has not chosen one."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Site


@pytest.fixture
def context_options() -> dict[str, Any]:
    return {"locale": "vi-VN", "viewport": {"width": 1280, "height": 900}}


def test_a_vietnamese_browser_gets_vietnamese_pages(page: Any, site: Site) -> None:
    assert page.evaluate("() => navigator.languages[0]") == "vi-VN"
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Đăng nhập")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator(".skip-link")).to_have_text("Chuyển đến nội dung chính")
    # The browser chose, not the person: nothing is remembered.
    assert page.evaluate("() => localStorage.getItem('custody.language')") is None
