"""The whole customer journey in the privacy center, by clicking, against the served local stack.

Sign up and confirm; grant consents; the profile with an inline error from the API, then fixed; a
document up and down; a staff member's work, then the access report paged through and "who has seen
my data"; an export downloaded; a change request; restriction on and off; an objection; and the
withdrawal, confirmed, followed to its certificate. axe-core checks every page and state, and each is
screenshotted to reports/browser/.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser import support
from tests.browser.conftest import Site, check_accessibility
from tests.integration.conftest import ServedStack

ERASURE_TIMEOUT_MS = 180_000
INTERACTIONS = 24  # ~14 KB each: more than the report's first page of a store holds (256 KiB)
TICKET = "SUP-4711"
DOCUMENT = b"A letter, made up for the browser test.\n"


def heading(page: Any) -> Any:
    return page.get_by_role("heading", level=1)


def go(page: Any, section: str) -> None:
    page.get_by_role("navigation").get_by_role("link", name=section, exact=True).click()
    expect(heading(page)).to_have_text(section)


def test_the_whole_customer_journey_by_clicking(page: Any, site: Site, served_stack: ServedStack) -> None:
    email = support.new_email("center")

    # Sign up, confirm (moto accepts any code; Cognito mails a real one), signed in.
    page.goto("/")
    expect(heading(page)).to_have_text("Sign in")
    check_accessibility(page, "01-sign-in")
    page.get_by_role("link", name="Create an account").click()
    expect(heading(page)).to_have_text("Create an account")
    check_accessibility(page, "02-sign-up")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(support.PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(heading(page)).to_have_text("Confirm your e-mail address")
    check_accessibility(page, "03-confirm")
    page.get_by_label("Confirmation code").fill("123456")
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(heading(page)).to_have_text("Consents")

    # Consents: the policy's text and version; grant two purposes.
    marketing = page.locator("[data-purpose=marketing]")
    expect(marketing).to_contain_text("We send you offers")
    expect(marketing).to_contain_text("Privacy policy version 2026-11")
    for title in ("Your account and our relationship", "Offers and news"):
        page.get_by_role("button", name=f"Grant: {title}").click()
        expect(page.get_by_role("button", name=f"Withdraw: {title}")).to_be_visible()
    history = page.locator("section", has=page.get_by_role("heading", name="History of your consents"))
    expect(history.get_by_role("listitem")).to_have_count(2)
    expect(history).to_contain_text("granted Offers and news (policy 2026-11)")
    check_accessibility(page, "04-consents")

    # Profile: the API refuses a phone without a country code; its message shows under the field.
    go(page, "Profile")
    identity = page.locator("[data-category=identity]")
    identity.get_by_label("Legal name").fill("Ada Example")
    identity.get_by_role("button", name="Save Identity").click()
    expect(page.locator("[data-category=identity]")).to_contain_text("Legal name: Ada Example")
    contact = page.locator("[data-category=contact]")
    contact.get_by_label("Phone").fill("12")
    contact.get_by_role("button", name="Save Contact").click()
    phone = page.locator("[data-category=contact]").get_by_label("Phone")
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(page.locator("[data-field='contact.phone'] .field-error")).to_contain_text("must start with +")
    expect(phone).to_be_focused()
    check_accessibility(page, "05-profile-inline-error")
    phone.fill("+14155550100")
    page.locator("[data-category=contact]").get_by_role("button", name="Save Contact").click()
    expect(page.locator("#status")).to_have_text("Contact saved.")
    saved = page.locator("[data-category=contact]").get_by_label("Phone")
    expect(saved).to_have_value("+14155550100")
    expect(saved).not_to_have_attribute("aria-invalid", "true")
    check_accessibility(page, "06-profile")

    # Documents: upload one, download it back.
    go(page, "Documents")
    page.get_by_role("button", name="Upload").click()  # no file chosen: said under the field
    expect(page.locator("[data-field=file] .field-error")).to_have_text("Required.")
    # A name the API refuses (a comma): its reason under the file field, not "the highlighted fields" alone.
    page.get_by_label(re.compile(r"^Document")).set_input_files(
        {"name": "Rechnung, März 2026.txt", "mimeType": "text/plain", "buffer": DOCUMENT}
    )
    page.get_by_role("button", name="Upload").click()
    refused = page.locator("[data-field=file] .field-error")
    expect(refused).to_contain_text("letters, digits")
    expect(page.locator("[data-field=file] input")).to_have_attribute("aria-invalid", "true")
    page.get_by_label(re.compile(r"^Document")).set_input_files(
        {"name": "letter.txt", "mimeType": "text/plain", "buffer": DOCUMENT}
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("Document 1, stored")).to_be_visible()
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download document 1").click()
    download = downloading.value
    assert download.suggested_filename == "letter.txt"
    assert Path(download.path()).read_bytes() == DOCUMENT
    check_accessibility(page, "07-documents")

    # A support agent records interactions and reads the customer's record (over the API).
    customer_id = support.subject_id(served_stack, email)
    support.staff_works_on(served_stack, customer_id, INTERACTIONS, TICKET)

    # The access report, paged: the first page, then the rest by its cursor.
    go(page, "My data")
    interactions = page.locator("section[data-store=interactions]")
    summary = interactions.locator(".count")
    expect(summary).to_have_attribute("data-count", str(INTERACTIONS))
    first_rows = interactions.locator("tbody tr").count()
    assert 0 < first_rows < INTERACTIONS, "the report's first page should not hold every interaction"
    check_accessibility(page, "08-report", full_page=False)
    more = interactions.get_by_role("button", name="Show more")
    while more.is_visible():
        before = interactions.locator("tbody tr").count()
        more.click()
        expect(interactions.locator("tbody tr")).not_to_have_count(before)
    expect(interactions.locator("tbody tr")).to_have_count(INTERACTIONS)
    expect(summary).to_have_text(f"Showing {INTERACTIONS} of {INTERACTIONS}.")
    expect(interactions).to_contain_text("T-23")
    check_accessibility(page, "09-report-paged", full_page=False)

    # Who has seen my data: the agent's read, its purpose and ticket.
    go(page, "Who has seen my data")
    staff = page.locator("[data-store=staff_access]")
    expect(staff).to_contain_text(TICKET)
    expect(staff.locator("tbody tr", has_text="read")).not_to_have_count(0)
    check_accessibility(page, "10-who-has-seen")

    # Export: requested, written, downloaded by its link.
    go(page, "Export")
    page.get_by_role("button", name="Request an export").click()
    link = page.get_by_role("link", name="Download the export")
    expect(link).to_be_visible()
    check_accessibility(page, "11-export")
    with page.expect_download() as downloading:
        link.click()
    archive = Path(downloading.value.path())
    assert zipfile.is_zipfile(archive)
    assert "manifest.json" in zipfile.ZipFile(archive).namelist()

    # A change request to the verified legal name, and its status.
    go(page, "Change requests")
    page.get_by_label("What to change").select_option("legal_name")
    page.get_by_label("New value").fill("Ada King")
    page.get_by_label("Why").fill("My name as my passport writes it")
    page.get_by_role("button", name="Send the request").click()
    expect(page.get_by_role("table")).to_contain_text("pending review")
    check_accessibility(page, "12-change-requests")

    # Restriction on and off; an objection to marketing.
    go(page, "Restrict or object")
    page.get_by_label("I contest the accuracy of my data (art. 18(1)(a))").check()
    page.get_by_role("button", name="Restrict processing").click()
    expect(page.get_by_text("Processing of your data is restricted.")).to_be_visible()
    expect(page.locator("main")).to_contain_text("GDPR art. 18(1)(a)")
    check_accessibility(page, "13-restricted")
    page.get_by_role("button", name="Lift the restriction").click()
    expect(page.get_by_text("Processing of your data is not restricted.")).to_be_visible()
    page.get_by_role("button", name="Object to: Offers and news").click()
    expect(page.locator("[data-purpose=marketing] .result")).to_contain_text("Your objection is recorded")
    check_accessibility(page, "14-objection")

    go(page, "Overview")
    expect(page.get_by_role("table")).to_contain_text("Rectification")
    check_accessibility(page, "15-overview")

    # Withdrawal behind a confirmation, then the erasure to its certificate.
    go(page, "Withdraw and erase")
    check_accessibility(page, "16-withdraw")
    page.get_by_role("button", name="Withdraw and erase my data…").click()
    dialog = page.get_by_role("dialog", name="Erase everything?")
    expect(dialog).to_be_visible()
    check_accessibility(page, "17-withdraw-confirmation")
    dialog.get_by_role("button", name="Yes, erase everything").click()
    expect(heading(page)).to_have_text("Erasure progress")
    expect(page.get_by_role("heading", name="Your data is erased")).to_be_visible(timeout=ERASURE_TIMEOUT_MS)
    digest = page.locator(".certificate-digest").inner_text()
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    expect(page.locator(".unrecoverable-after")).not_to_have_text("—")
    expect(page.get_by_role("progressbar")).to_have_attribute("value", re.compile(r"[1-9]\d*"))
    check_accessibility(page, "18-erasure-certificate")

    request_id = page.evaluate("() => sessionStorage.getItem('custody.erasure')")
    state = support.request_status(served_stack, request_id)
    assert (state["status"], state["certificate_digest"]) == ("completed", digest)
    assert state["unrecoverable_after"]
    assert not support.customer_exists(served_stack, email)
    # Nothing personal left in the browser's storage: the language choice at most.
    stored = page.evaluate("() => JSON.stringify({...localStorage})")
    assert email not in stored
    assert "Ada" not in stored
