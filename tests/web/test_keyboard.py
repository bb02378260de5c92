"""Keyboard shortcuts in Chromium: ``/`` filters, ``j``/``k`` move, ``x`` selects, ``o`` opens,
``g i`` / ``g h`` go, ``?`` lists them — and none of them fire while typing in a field."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser


def open_page(live_site: Any, browser: Any, user: str, path: str) -> Any:
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    cookie = live_site.call("session", user=user)["sessionid"]
    context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_site.url}])
    page = context.new_page()
    page.goto(live_site.url + path)
    page.wait_for_selector('#live-indicator[data-state="live"]')
    return page


def cursor_name(page: Any) -> str | None:
    return page.evaluate(
        "() => { const r = document.querySelector('tr.is-cursor [data-bind=name]');"
        " return r ? r.textContent : null; }"
    )


def test_the_list_is_driven_from_the_keyboard(live_site, browser):
    for name in ("kb-1", "kb-2", "kb-3"):
        live_site.call("create", user="alice", project="demo", name=name)
    page = open_page(live_site, browser, "alice", "/instances/?name=kb-&sort=name&dir=asc")
    try:
        page.keyboard.press("j")
        assert cursor_name(page) == "kb-1"
        page.keyboard.press("j")
        page.keyboard.press("j")
        page.keyboard.press("j")  # stays on the last row
        assert cursor_name(page) == "kb-3"
        page.keyboard.press("k")
        assert cursor_name(page) == "kb-2"
        page.keyboard.press("x")
        assert page.locator("tr.is-cursor input[name=instance]").is_checked()
        assert page.locator("[data-selected-count]").inner_text() == "1"
        # Typing in the filter is typing, not shortcuts.
        page.keyboard.press("/")
        assert page.evaluate("document.activeElement.id") == "f-name"
        page.keyboard.type("jjx")
        assert page.input_value("#f-name") == "jjx"
        assert cursor_name(page) == "kb-2"
        page.keyboard.press("Escape")
        page.evaluate("document.activeElement.blur()")
        page.keyboard.press("?")
        assert page.locator("#keys-dialog").is_visible()
        page.keyboard.press("Escape")
        page.keyboard.press("o")
        page.wait_for_url("**/instances/*-*/")
        assert page.locator("h1").first.inner_text() == "kb-2"
    finally:
        page.context.close()


def test_g_then_a_letter_goes_to_a_page(live_site, browser):
    page = open_page(live_site, browser, "admin", "/states/")
    try:
        page.keyboard.press("g")
        page.keyboard.press("h")
        page.wait_for_url("**/hosts/")
        page.keyboard.press("g")
        page.keyboard.press("i")
        page.wait_for_url("**/instances/")
    finally:
        page.context.close()
    member = open_page(live_site, browser, "alice", "/states/")
    try:
        member.keyboard.press("g")
        member.keyboard.press("h")  # no hosts page for a member: nothing happens
        member.wait_for_timeout(300)
        assert member.url.endswith("/states/")
    finally:
        member.context.close()
