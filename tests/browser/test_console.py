"""The staff and auditor console in a real browser: Playwright driving the system's Chromium against the
served local stack (its gateway serves /console/ under the declared CSP and the API on the same origin).

Each member of staff signs in through the page (SRP, then the TOTP challenge: the staff pool requires
MFA), every console page is visited by a role it is for, axe-core finds no serious or critical
violation on any of them, and each is photographed into reports/browser/. A refused action is told
plainly (support may not approve a grant), and the auditor's review of a real erasure run on the stack
shows the execution history beside the ledger events, the verified chain and the certificate.
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Final

import pytest
from moto.cognitoidp.models import COGNITO_TOTP_MFA_SECRET  # moto hands every user this one TOTP secret
from playwright.sync_api import expect

from custody.declared import naming
from devstack import identity
from tests.browser.conftest import check_accessibility
from tests.integration.conftest import ServedStack
from tests.integration.erasure.conftest import PROFILE

ROOT: Final = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack(served_stack: ServedStack) -> ServedStack:
    return served_stack


class StaffMember:
    """A member of the staff pool in one group, enrolled in TOTP, with a password the test knows."""

    def __init__(self, stack: ServedStack, group: str) -> None:
        self.email = f"{group}-{uuid.uuid4().hex[:8]}@staff.example"
        cognito = stack.clients()("cognito-idp")
        pool = stack.info.resources.user_pools[naming.STAFF_POOL]
        # Created, in the group, enrolled in TOTP; then a password the test knows.
        self.token = identity.staff_tokens(cognito, pool, self.email, group).access_token
        self.password = "Aa1!" + uuid.uuid4().hex
        cognito.admin_set_user_password(
            UserPoolId=pool.pool_id, Username=self.email, Password=self.password, Permanent=True
        )


def sign_in(page: Any, member: StaffMember) -> Any:
    """Through the page: e-mail and password (SRP), then the authenticator's code."""
    page.goto("/console/")
    page.get_by_label("E-mail address").fill(member.email)
    page.get_by_label("Password").fill(member.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("textbox", name="Authenticator code").fill(fresh_code())
    page.get_by_role("button", name="Verify").click()
    signed_in = page.get_by_role("button", name="Sign out")
    problem = page.get_by_role("alert")
    signed_in.or_(problem).wait_for()
    assert problem.count() == 0, problem.inner_text()
    return page


def fresh_code() -> str:
    """The authenticator's code, from a window with time left: moto checks the current window only."""
    left = identity.TOTP_STEP_SECONDS - time.time() % identity.TOTP_STEP_SECONDS
    if left < 5:
        time.sleep(left + 0.5)
    return identity.totp_code(COGNITO_TOTP_MFA_SECRET)


def visit(page: Any, route: str, heading: str) -> None:
    page.goto(f"/console/#{route}")
    page.get_by_role("heading", level=1, name=heading).wait_for()


def check(page: Any, name: str) -> None:
    """The harness's check: no serious or critical axe violation, a full-page screenshot in reports/browser/."""
    check_accessibility(page, f"console-{name}")


def _http(stack: ServedStack, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(  # noqa: S310 - the local stack's URL
        f"{stack.info.api_url}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture(scope="module")
def erasure(stack: ServedStack) -> str:
    """A customer who consented and withdrew: the erasure workflow run to its end on the local stack."""
    clients = stack.clients()
    pool = stack.info.resources.user_pools[naming.CUSTOMER_POOL]
    email = f"browser-{uuid.uuid4().hex[:8]}@example.com"
    token = identity.customer_tokens(clients("cognito-idp"), pool, email).id_token
    status, _ = _http(stack, "POST", "/v1/me/consents", token, {"purpose": "crm_core", "policy_version": "2026-11"})
    assert status == 201
    status, accepted = _http(stack, "POST", "/v1/me/withdrawal", token)
    assert status == 202, accepted
    request_id = str(accepted["request_id"])
    machine = stack.info.resources.state_machines[naming.ERASURE_STATE_MACHINE]
    arn = naming.execution_arn(machine, naming.execution_name(request_id, 0))
    sfn = clients("stepfunctions")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            status_now = sfn.describe_execution(executionArn=arn)["status"]
        except sfn.exceptions.ExecutionDoesNotExist:
            status_now = "PENDING"
        if status_now not in ("PENDING", "RUNNING"):
            break
        time.sleep(0.5)
    assert status_now == "SUCCEEDED"
    return request_id


@pytest.fixture(scope="module")
def customer(stack: ServedStack) -> tuple[str, str]:
    """A customer who consented to crm_core, with identity and contact data and an open change request:
    their opaque id (the ID token's `sub`) and the change request's id."""
    pool = stack.info.resources.user_pools[naming.CUSTOMER_POOL]
    email = f"grant-{uuid.uuid4().hex[:8]}@example.com"
    token = identity.customer_tokens(stack.clients()("cognito-idp"), pool, email).id_token
    status, _ = _http(stack, "POST", "/v1/me/consents", token, {"purpose": "crm_core", "policy_version": "2026-11"})
    assert status == 201
    profile = {"identity": PROFILE["identity"], "contact": PROFILE["contact"]}
    status, _ = _http(stack, "PUT", "/v1/me/profile", token, profile)
    assert status == 200
    change = {"field": "legal_name", "value": "Quilliam Zephyrine-Ode", "reason": "Zephyrine wedding"}
    status, opened = _http(stack, "POST", "/v1/me/change-requests", token, change)
    assert status == 201, opened
    return str(identity.unverified_claims(token)["sub"]), str(opened["change_request_id"])


def test_support_sees_only_what_the_grant_covers_and_is_refused_approval(
    page: Any, stack: ServedStack, customer: tuple[str, str]
) -> None:
    sign_in(page, StaffMember(stack, "support"))
    check(page, "home-support")
    nav = page.get_by_role("navigation", name="Console sections")
    assert nav.get_by_role("link", name="Approve an access grant").count() == 0
    visit(page, "/grants", "Access to a customer")
    request = page.get_by_role("form", name="Request access")
    request.get_by_label("Customer id").fill(customer[0])
    request.get_by_label("Purpose").fill("crm_core")
    request.get_by_label("Ticket").fill("SUP-1234")
    request.get_by_label("Categories").fill("contact")
    request.get_by_role("button", name="Request access").click()
    page.locator("#status.status-success").wait_for()
    assert page.locator("#status").inner_text().endswith("(active).")
    page.get_by_role("form", name="Show the customer").get_by_role("button", name="Show the customer").click()
    page.get_by_role("heading", level=2, name="Need-to-know view").wait_for()
    view = page.locator("dl.details").last
    assert view.locator("dd").nth(4).inner_text() == "contact"  # shown
    assert "identity" in view.locator("dd").nth(5).inner_text()  # masked
    shown = page.get_by_role("table", name="Need-to-know view").inner_text()
    assert PROFILE["contact"]["phone"] in shown
    assert PROFILE["identity"]["legal_name"] not in shown
    check(page, "grants")
    visit(page, "/approvals", "Approve an access grant")
    page.get_by_label("Grant id").fill(str(uuid.uuid4()))
    page.get_by_label("Customer id").fill(str(uuid.uuid4()))
    page.get_by_role("button", name="Approve").click()
    refusal = page.get_by_role("alert")
    refusal.wait_for()
    assert refusal.inner_text() == "Refused: your role (support) may not do this. Privacy officers only."
    check(page, "approvals-refused")


def test_a_privacy_officer_extends_and_decides_a_change_request_and_records_an_agreement(
    page: Any, stack: ServedStack, customer: tuple[str, str]
) -> None:
    """Every privacy officer's page visited; an extension, a decision and an agreement made through them."""
    _, change_id = customer
    sign_in(page, StaffMember(stack, "privacy_officer"))
    for route, heading, name in (
        ("/approvals", "Approve an access grant", "approvals"),
        ("/changes", "Change requests to review", "changes"),
        ("/requests", "Requests register", "requests"),
        ("/holds", "Legal hold", "holds"),
        ("/processors", "Sub-processor registry", "processors"),
    ):
        visit(page, route, heading)
        check(page, name)
    visit(page, "/requests", "Requests register")
    row = page.get_by_role("row").filter(has_text=change_id)
    row.get_by_role("combobox").select_option("volume")
    row.get_by_role("button", name="Extend").click()
    expect(page.locator("#status")).to_contain_text(f"Request {change_id} extended: due ")
    visit(page, "/changes", "Change requests to review")
    card = page.locator("section.card").filter(has_text=change_id)
    assert "Quilliam Zephyrine-Ode" not in card.inner_text()  # the queue holds no values
    card.get_by_role("button", name="Show the requested value").click()
    expect(card).to_contain_text("Quilliam Zephyrine-Ode")  # read from the customer's queue, access-logged
    expect(card).to_contain_text("Zephyrine wedding")
    check(page, "changes-value-shown")
    review = page.get_by_role("form", name=f"Record the decision {change_id}")
    review.get_by_label("Reason for the decision").fill("Marriage certificate seen")
    review.get_by_role("button", name="Record the decision").click()
    expect(page.locator("#status")).to_have_text("Decision recorded: approved.")
    visit(page, "/processors", "Sub-processor registry")
    form = page.get_by_role("form", name="Record or update an agreement")
    for label, value in (
        ("Processor id", "mailing-house"),
        ("Name", "Mailing House Ltd"),
        ("Contract version", "2026-11-a"),
        ("Signed on", "2026-11-01"),
        ("Purposes", "crm_core, marketing"),
        ("Categories", "contact, preferences"),
        ("Machine client id", "mailinghouse_client"),
    ):
        form.get_by_label(label).fill(value)
    form.get_by_role("button", name="Save the agreement").click()
    row = page.get_by_role("row").filter(has_text="mailing-house")
    row.wait_for()
    assert "crm_core, marketing" in row.inner_text()
    check(page, "processors-saved")
    page.get_by_label("Language").select_option("vi")
    page.get_by_role("heading", level=1, name="Danh sách bên xử lý phụ").wait_for()
    check(page, "processors-vi")


def test_the_auditor_sees_history_beside_the_ledger_verified_with_its_certificate(
    page: Any, stack: ServedStack, erasure: str
) -> None:
    auditor = StaffMember(stack, "auditor")
    sign_in(page, auditor)
    check(page, "home-auditor")
    visit(page, "/disposals", "Disposal register")
    row = page.get_by_role("row").filter(has_text=erasure)
    assert row.count() == 1
    assert "passed: nothing remained in any store" in row.inner_text()
    check(page, "disposals")
    visit(page, "/requests", "Requests register")
    assert page.get_by_role("row").filter(has_text=erasure).count() == 0  # the open requests only
    page.get_by_role("button", name="Show every request of the period").click()  # the last year, by default
    answered = page.get_by_role("row").filter(has_text=erasure)
    expect(answered).to_contain_text("completed")  # the register of the period holds the answered ones too
    check(page, "requests-auditor")
    visit(page, "/audit", "Open the review")
    check(page, "audit-lookup")
    page.get_by_role("textbox", name="Request id").fill(erasure)
    page.get_by_role("button", name="Open the review").click()
    page.get_by_role("heading", level=1, name=f"Audit of request {erasure}").wait_for()
    status, review = _http(stack, "GET", f"/v1/audit/requests/{erasure}", auditor.token)
    assert (status, review["verified"]) == (200, True)
    (chain,) = review["chains"]
    verdict = page.locator("[data-verdict]")
    assert verdict.get_attribute("data-verdict") == "verified"
    assert chain["verification"]["head_hash"] in verdict.inner_text()
    history = page.get_by_role("table", name=f"Execution {erasure}: SUCCEEDED")
    assert history.get_by_role("row").count() == 1 + len(chain["executions"][0]["events"])
    assert "ExecutionSucceeded" in history.inner_text()
    ledger = page.get_by_role("table", name="Ledger events")
    assert ledger.get_by_role("row").count() == 1 + chain["verification"]["events"]
    assert "certify" in ledger.inner_text()
    digest = chain["verification"]["certificate_digest"]
    assert page.locator('[data-attested="true"]').inner_text() == digest
    check(page, "audit-review")


def test_the_auditor_is_refused_what_only_privacy_officers_do(page: Any, stack: ServedStack) -> None:
    sign_in(page, StaffMember(stack, "auditor"))
    visit(page, "/changes", "Change requests to review")
    refusal = page.get_by_role("alert")
    assert refusal.inner_text() == "Refused: your role (auditor) may not do this. Privacy officers only."
    check(page, "changes-refused-auditor")


def test_every_console_string_is_in_english_and_vietnamese() -> None:
    """The two dictionaries of web/src/console/strings.js name the same keys, each once."""
    import re

    source = (ROOT / "web" / "src" / "console" / "strings.js").read_text(encoding="utf-8")
    english, vietnamese = (
        re.findall(r'^  "([a-z][\w.]*)":', block, flags=re.MULTILINE) for block in source.split("\nconst vi = {")
    )
    assert len(english) > 50
    assert len(set(english)) == len(english)
    assert sorted(english) == sorted(vietnamese)
