"""Helpers for the browser tests (Playwright driving Debian's Chromium)."""

from playwright.sync_api import Page, expect

from .core import PASSWORD


def csp_violations(page: Page) -> list[str]:
    """Collects the Content-Security-Policy violations the page reports (a test asserts none)."""
    seen: list[str] = []
    page.on("console", lambda msg: seen.append(msg.text) if "Content Security Policy" in msg.text else None)
    return seen


def sign_in(page: Page, base: str, username: str) -> None:
    """Sign in through the login form (MFA counts as done: the plugin's ``_mfa_verified_on_login``)."""
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
