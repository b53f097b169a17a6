"""English and Vietnamese: switched on the page (remembered, `<html lang>` set), Vietnamese everywhere."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser import support
from tests.browser.conftest import Site, check_accessibility
from tests.integration.conftest import ServedStack

# Each signed-in section's heading in Vietnamese, by its English name in the navigation.
SECTIONS_VI = {
    "Tổng quan": "overview",
    "Sự đồng ý": "consents",
    "Hồ sơ": "profile",
    "Tài liệu": "documents",
    "Dữ liệu của tôi": "report",
    "Xuất dữ liệu": "exports",
    "Yêu cầu thay đổi": "changes",
    "Hạn chế hoặc phản đối": "rights",
    "Ai đã xem dữ liệu của tôi": "seen",
    "Rút lại và xóa": "withdraw",
}


def test_switching_to_vietnamese_and_back(page: Any, site: Site) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_label("Language").select_option("vi")
    expect(page.get_by_role("heading", level=1)).to_have_text("Đăng nhập")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.get_by_label("Địa chỉ e-mail")).to_be_visible()
    expect(page.get_by_role("button", name="Đăng nhập")).to_be_visible()
    check_accessibility(page, "sign-in-vi")

    page.reload()  # the choice is remembered (a language code in localStorage, nothing else)
    expect(page.get_by_role("heading", level=1)).to_have_text("Đăng nhập")
    assert page.evaluate("() => Object.keys(localStorage)") == ["custody.language"]
    page.get_by_label("Ngôn ngữ").select_option("en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_every_section_speaks_vietnamese(page: Any, site: Site, served_stack: ServedStack) -> None:
    email = support.new_email("tieng-viet")
    support.confirmed_customer(served_stack, email)
    page.goto("/")
    page.get_by_label("Language").select_option("vi")
    page.get_by_label("Địa chỉ e-mail").fill(email)
    page.get_by_label("Mật khẩu").fill(support.PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Tổng quan")
    for title, route in SECTIONS_VI.items():
        page.get_by_role("navigation").get_by_role("link", name=title, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(title)
        expect(page.locator("html")).to_have_attribute("lang", "vi")
        check_accessibility(page, f"vi-{route}")
    page.get_by_role("navigation").get_by_role("link", name="Sự đồng ý", exact=True).click()
    expect(page.locator("[data-purpose=marketing]")).to_contain_text("Chúng tôi gửi ưu đãi")
    # The API's refusal under the field, said in Vietnamese with the API's own (English) words.
    page.get_by_role("navigation").get_by_role("link", name="Hồ sơ", exact=True).click()
    contact = page.locator("[data-category=contact]")
    contact.get_by_label("Điện thoại").fill("12")
    contact.get_by_role("button", name="Lưu Liên hệ").click()
    error = page.locator("[data-field='contact.phone'] .field-error")
    expect(error).to_contain_text("Giá trị không hợp lệ (bằng tiếng Anh: must start with +")
    check_accessibility(page, "vi-profile-inline-error")
    # Tokens live in this tab's sessionStorage only; signing out takes them away.
    assert page.evaluate("() => Object.keys(localStorage)") == ["custody.language"]
    tokens = "() => Object.keys(sessionStorage).filter((key) => key.startsWith('CognitoIdentityServiceProvider.'))"
    assert any(key.endswith(".idToken") for key in page.evaluate(tokens))
    page.get_by_role("button", name="Đăng xuất").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Đăng nhập")
    assert page.evaluate(tokens) == []
    page.goto("/#/consents")  # signed out, a section sends to the sign-in
    expect(page.get_by_role("heading", level=1)).to_have_text("Đăng nhập")
