"""The withdrawal flow by keyboard only: Tab to move, Enter and Space to act (typing into fields aside)."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser import support
from tests.browser.conftest import Site, check_accessibility
from tests.integration.conftest import ServedStack

MAX_TABS = 60
ERASURE_TIMEOUT_MS = 180_000


def tab_to(page: Any, target: Any) -> None:
    """Press Tab until `target` has the focus (failing after `MAX_TABS` presses)."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {target}")


def test_the_withdrawal_flow_by_keyboard_only(page: Any, site: Site, served_stack: ServedStack) -> None:
    email = support.new_email("keyboard")
    support.confirmed_customer(served_stack, email)
    page.goto("/#/signin")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")

    tab_to(page, page.get_by_label("E-mail address"))
    page.keyboard.type(email)
    tab_to(page, page.get_by_label("Password"))
    page.keyboard.type(support.PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    expect(page.get_by_role("heading", level=1)).to_be_focused()

    tab_to(page, page.get_by_role("navigation").get_by_role("link", name="Withdraw and erase"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Withdraw and erase")

    opener = page.get_by_role("button", name="Withdraw and erase my data…")
    tab_to(page, opener)
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Erase everything?")
    expect(dialog).to_be_visible()
    cancel = dialog.get_by_role("button", name="Cancel, keep my account")
    expect(cancel).to_be_focused()
    page.keyboard.press("Space")  # cancelling gives the focus back to the button that opened it
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()

    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    check_accessibility(page, "keyboard-withdraw-confirmation")
    confirm = dialog.get_by_role("button", name="Yes, erase everything")
    tab_to(page, confirm)
    page.keyboard.press("Space")
    expect(page.get_by_role("heading", level=1)).to_have_text("Erasure progress")
    outcome = page.get_by_role("heading", name="Your data is erased")
    expect(outcome).to_be_visible(timeout=ERASURE_TIMEOUT_MS)
    expect(outcome).to_be_focused()
    expect(page.locator(".certificate-digest")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    assert not support.customer_exists(served_stack, email)
