"""In a real browser: the reboot form follows the instance's state live, each refused type
disabled with Nova's reason; and the instances list walks forward and back with a filter on.

Same harness as ``test_browser.py`` (daphne, the fake hosts and a second client in another
process), with a site of its own so the list's rows are only these tests'.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.web import test_browser
from tests.web.test_browser import SHOTS, wait_badge

pytestmark = pytest.mark.browser

#: A signed-in page for a user, as ``test_browser.py`` opens them.
open_as = test_browser.open_as

FORM = 'details[data-choice="reboot"]'


def reboot_form(page: Any) -> Any:
    return page.locator(FORM)


def choice(page: Any, key: str) -> Any:
    return page.locator(f'{FORM} input[type=radio][data-action-key="{key}"]')


def open_form(page: Any) -> None:
    if not reboot_form(page).evaluate("d => d.open"):
        page.click(f"{FORM} > summary")
    page.wait_for_selector(f"{FORM}[open] form", state="visible")


def close_form(page: Any) -> None:
    page.keyboard.press("Escape")
    page.wait_for_function(f"() => !document.querySelector('{FORM}').open")


def refusal(uuid: str, state: str) -> str:
    return f"Cannot 'reboot' instance {uuid} while it is in vm_state {state}"


def test_the_reboot_form_disables_each_refused_type_with_novas_reason_live(live_site, open_as):
    vm = live_site.call("create", user="alice", project="demo", name="reboot-live")
    page = open_as("alice", f"/instances/{vm['uuid']}/")
    open_form(page)
    assert choice(page, "reboot").is_enabled() and choice(page, "reboot").is_checked()
    assert choice(page, "reboot_hard").is_enabled()
    close_form(page)

    # Stopped behind the page's back: soft is refused, hard is still allowed (Nova's
    # ALLOW_HARD_REBOOT), and the form says so without a reload.
    live_site.call("action", user="alice", uuid=vm["uuid"], action="stop")
    wait_badge(page, vm["uuid"], "vm_state", "vm_state: stopped")
    page.wait_for_selector(
        f'{FORM} input[data-action-key="reboot"][title*="vm_state stopped"]', state="attached"
    )
    open_form(page)
    reason = refusal(vm["uuid"], "stopped")
    assert choice(page, "reboot").is_disabled()
    assert choice(page, "reboot").get_attribute("title") == reason
    assert page.locator("#why-reboot").inner_text() == reason
    assert page.locator("#why-reboot").is_visible()
    assert choice(page, "reboot_hard").is_enabled() and choice(page, "reboot_hard").is_checked()
    assert page.locator(f'{FORM} [data-choice-submit="reboot"]').is_enabled()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "reboot-form.png"), full_page=True)

    # The hard reboot is destructive: the page asks first (a soft one it would not), then the
    # server accepts it.
    page.click(f'{FORM} [data-choice-submit="reboot"]')
    page.wait_for_selector("#confirm-dialog[open]")
    assert page.locator("#confirm-body").inner_text().startswith("Hard reboot?")
    page.click("#confirm-ok")
    page.wait_for_selector(".message-success:has-text('Hard reboot accepted')")
    wait_badge(page, vm["uuid"], "vm_state", "vm_state: active", timeout=10_000)
    wait_badge(page, vm["uuid"], "task_state", "task_state: none", timeout=10_000)

    # Shelved and offloaded: both types refused, so the submit is disabled with the reason.
    live_site.call("action", user="alice", uuid=vm["uuid"], action="shelve")
    wait_badge(page, vm["uuid"], "vm_state", "vm_state: shelved_offloaded", timeout=10_000)
    reason = refusal(vm["uuid"], "shelved_offloaded")
    page.wait_for_selector(
        f'{FORM} [data-choice-submit="reboot"][title="{reason}"]', state="attached"
    )
    open_form(page)
    assert choice(page, "reboot").is_disabled() and choice(page, "reboot_hard").is_disabled()
    assert page.locator("#why-reboot_hard").inner_text() == reason
    submit = page.locator(f'{FORM} [data-choice-submit="reboot"]')
    assert submit.is_disabled() and submit.get_attribute("title") == reason
    assert "is-refused" in (page.locator(f"{FORM} > summary").get_attribute("class") or "")


def test_a_type_refused_while_the_form_was_open_is_refused_with_novas_message(live_site, open_as):
    vm = live_site.call("create", user="alice", project="demo", name="reboot-race")
    page = open_as("alice", f"/instances/{vm['uuid']}/")
    open_form(page)  # an open form is not swapped from under the user, so it goes stale
    live_site.call("action", user="alice", uuid=vm["uuid"], action="stop")
    wait_badge(page, vm["uuid"], "vm_state", "vm_state: stopped")
    assert choice(page, "reboot").is_checked() and choice(page, "reboot").is_enabled()
    page.click(f'{FORM} [data-choice-submit="reboot"]')
    page.wait_for_selector(".message-error")
    assert refusal(vm["uuid"], "stopped") in page.locator(".message-error").inner_text()
    assert live_site.call("get", uuid=vm["uuid"])["task_state"] is None


def test_walking_forward_then_back_through_the_pages_keeps_the_filter(live_site, open_as):
    live_site.call("delays", default=0)  # 50 builds: no need to watch each one spawn
    try:
        for n in range(45):
            live_site.call("create", user="alice", project="demo", name=f"{n:02d}-page")
            if n % 9 == 0:
                live_site.call("create", user="alice", project="demo", name=f"{n:02d}-skip")
    finally:
        live_site.call("delays", default=0.3)
    wanted = [f"{n:02d}-page" for n in range(45)]
    page = open_as("alice", "/instances/?name=page&sort=name&dir=asc")

    def shown() -> list[str]:
        return page.locator('tbody [data-bind="name"]').all_inner_texts()

    def go(which: str) -> None:
        page.click(f'.pager [data-page="{which}"]')
        page.wait_for_load_state()
        assert page.input_value("#f-name") == "page"
        assert all(p in page.url for p in ("name=page", "sort=name", "dir=asc"))

    def pager() -> str:
        return page.locator("[data-page-range]").inner_text()

    assert shown() == wanted[:20] and pager() == "1–20 of 45"
    assert page.locator('.pager [data-page="previous"]').count() == 0
    go("next")
    assert shown() == wanted[20:40] and pager() == "21–40 of 45"
    go("next")
    assert shown() == wanted[40:] and pager() == "41–45 of 45"
    assert page.locator('.pager [data-page="next"]').count() == 0

    # Someone creates an instance that sorts into the previous page while this one is open:
    # Previous still ends right before the first row shown here.
    live_site.call("create", user="alice", project="demo", name="25a-page")
    go("previous")
    assert shown() == [*wanted[21:26], "25a-page", *wanted[26:40]]
    assert pager() == "22–41 of 46"
    go("previous")  # one more row now comes before: 01–20, and 00 on a page of its own …
    assert shown() == wanted[1:21] and pager() == "2–21 of 46"
    go("previous")  # … which is shown as a full first page
    assert shown() == wanted[:20] and pager() == "1–20 of 46"
    assert page.locator('.pager [data-page="previous"]').count() == 0
    go("next")
    go("first")
    assert shown() == wanted[:20]
    go("next")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "instances-pages.png"), full_page=True)
