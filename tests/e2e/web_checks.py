"""Checks the browser tests of the booking and feedback pages share: the page shows no message
key left untranslated, and the console logged no error (besides the browser's own line for an
HTTP error response, which the pages show as a problem on purpose)."""
from __future__ import annotations

import re

import requests

from tests.e2e.test_web_ui import PASSWORD

# A vue-i18n key shown as-is looks like "series.bookN" / "navMore.support".
RAW_KEY = re.compile(r"\b(?:navMore|series|waitlist|feeds|instrEdit|supervision|callbacks|support|improve|rectify|booking|"
                     r"feedback|common|nav|role|category|notices|usage|trainings)\.[A-Za-z_]+\b")


def watch_console(u) -> list[str]:
    """Collects the console errors of a Ui's page from now on."""
    errors: list[str] = []
    u.page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None)
    return errors


def assert_clean(page, console: list[str]):
    text = page.inner_text("body")
    raw = sorted(set(RAW_KEY.findall(text)))
    assert not raw, f"untranslated keys on {page.url}: {raw}"
    assert not console, f"console errors on {page.url}: {console}"


def token(platform, username: str) -> tuple[dict, dict]:
    """Headers and user of a demo account, through the API (for the set-up a test needs)."""
    body = requests.post(platform.gateway_url + "/api/v1/auth/login", json={"username": username, "password": PASSWORD},
                         timeout=30).json()
    return {"Authorization": "Bearer " + body["access_token"]}, body["user"]


def pick_option(page, select_selector: str, text: str):
    """Opens an Element Plus select and picks the visible option with this text."""
    page.click(select_selector)
    page.locator(".el-select-dropdown:visible .el-select-dropdown__item", has_text=text).first.click()
