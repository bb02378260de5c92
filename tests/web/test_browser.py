"""The dashboard in a real browser: headless Chromium against daphne, with the compute hosts and a
second client in another process (``tests/web/livesite.py``).

Every change here is made behind the open page's back — by the second client, the agent, the
power-state sync, a guest shutting itself down, a heartbeat that stops — and the page must show
it without a reload.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-results"
PASSWORDS = {"alice": "alice-pass"}


@pytest.fixture
def open_as(live_site: Any, browser: Any) -> Iterator[Any]:
    """Open a signed-in page for a user: ``open_as("alice", "/instances/")``."""
    contexts = []

    def open_page(user: str, path: str) -> Any:
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        contexts.append(context)
        cookie = live_site.call("session", user=user)["sessionid"]
        context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_site.url}])
        page = context.new_page()
        page.goto(f"{live_site.url}{path}")
        wait_live(page)
        page.evaluate("window.__loadedOnce = true")
        return page

    yield open_page
    for context in contexts:
        context.close()


def wait_live(page: Any, timeout: float = 10_000) -> None:
    page.wait_for_selector('#live-indicator[data-state="live"]', timeout=timeout)


def badge(page: Any, uuid: str, kind: str) -> Any:
    return page.locator(f'[data-instance="{uuid}"] [data-bind="{kind}"]').first


def wait_badge(page: Any, uuid: str, kind: str, value: str, timeout: float = 5_000) -> None:
    page.wait_for_function(
        '([u, k, v]) => { const el = document.querySelector(`[data-instance="${u}"] [data-bind="${k}"]`);'
        " return el && el.title === v; }",
        arg=[uuid, kind, value],
        timeout=timeout,
    )


def not_reloaded(page: Any) -> bool:
    return page.evaluate("window.__loadedOnce === true")


def test_logging_in_opens_the_instances_page_with_a_live_socket(live_site, browser):
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{live_site.url}/instances/")
        page.wait_for_url("**/login/?next=/instances/")
        page.fill("#id_username", "alice")
        page.fill("#id_password", PASSWORDS["alice"])
        page.click("button[type=submit]")
        page.wait_for_url("**/instances/")
        assert page.locator("h1").inner_text() == "Instances"
        wait_live(page)
        assert page.locator("#live-indicator .live-text").inner_text() == "Live"
        page.click("text=Log out")
        page.wait_for_url("**/login/")
    finally:
        context.close()


def test_an_action_from_a_second_client_changes_the_badges_within_a_second(live_site, open_as):
    vm = live_site.call("create", user="alice", project="demo", name="web-live")
    page = open_as("alice", "/instances/")
    assert badge(page, vm["uuid"], "vm_state").get_attribute("title") == "vm_state: active"

    live_site.call("action", user="alice", uuid=vm["uuid"], action="stop")
    started = time.monotonic()
    page.wait_for_function(
        'u => { const row = document.querySelector(`[data-instance="${u}"]`);'
        " return row.querySelector('[data-bind=task_state]').title !== 'task_state: none'"
        " || row.querySelector('[data-bind=vm_state]').title === 'vm_state: stopped'; }",
        arg=vm["uuid"],
        timeout=1_000,
    )
    assert time.monotonic() - started < 1.0
    wait_badge(page, vm["uuid"], "vm_state", "vm_state: stopped")
    wait_badge(page, vm["uuid"], "power_state", "power_state: 4")
    assert badge(page, vm["uuid"], "status").inner_text() == "Shutoff"
    assert not_reloaded(page)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "instances.png"), full_page=True)


def test_the_page_ignores_a_delta_that_is_not_newer_than_what_it_shows(live_site, open_as):
    vm = live_site.call("create", user="alice", project="demo", name="versioned")
    page = open_as("alice", f"/instances/{vm['uuid']}/")
    state = live_site.call("get", uuid=vm["uuid"])
    stale = {
        "type": "instance", "id": vm["uuid"], "version": state["version"], "name": "versioned",
        "project_id": "", "status": "ERROR", "vm_state": "error", "task_state": None,
        "power_state": 0, "progress": 0, "task_started_at": None, "locked": False,
        "deleted": False,
    }  # fmt: skip
    page.evaluate("d => window.vmdashLive.apply({type: 'delta', seq: 0, delta: d})", stale)
    assert badge(page, vm["uuid"], "vm_state").get_attribute("title") == "vm_state: active"
    newer = {**stale, "version": state["version"] + 1}
    page.evaluate("d => window.vmdashLive.apply({type: 'delta', seq: 0, delta: d})", newer)
    assert badge(page, vm["uuid"], "vm_state").get_attribute("title") == "vm_state: error"


def test_a_guest_shutdown_behind_the_dashboards_back_appears_after_the_next_sync(
    live_site, open_as
):
    vm = live_site.call("create", user="alice", project="demo", name="guest-quits")
    page = open_as("alice", f"/instances/{vm['uuid']}/")
    live_site.call("guest", uuid=vm["uuid"], power="shutdown")
    page.wait_for_timeout(600)
    assert badge(page, vm["uuid"], "power_state").get_attribute("title") == "power_state: 1"

    live_site.call("sync", host=vm["host"])
    wait_badge(page, vm["uuid"], "power_state", "power_state: 4")
    wait_badge(page, vm["uuid"], "vm_state", "vm_state: stopped")
    page.wait_for_selector("text=compute_stop_instance")  # the sync's stop, in the action log
    assert not_reloaded(page)


def test_disabled_buttons_carry_novas_reason(live_site, open_as):
    vm = live_site.call("create", user="alice", project="demo", name="asleep")
    live_site.call("action", user="alice", uuid=vm["uuid"], action="stop")
    live_site.call("wait_idle", uuid=vm["uuid"])
    page = open_as("alice", f"/instances/{vm['uuid']}/")
    pause = page.locator('button[data-action-key="pause"]')
    assert pause.is_disabled()
    reason = f"Cannot 'pause' instance {vm['uuid']} while it is in vm_state stopped"
    assert pause.get_attribute("title") == reason
    assert page.locator("#why-pause").inner_text() == f"Unavailable: {reason}"
    assert page.locator('button[data-action-key="start"]').is_enabled()


def test_a_button_shows_its_task_pending_and_the_page_follows_it_to_the_end(live_site, open_as):
    vm = live_site.call("create", user="alice", project="demo", name="clicky")
    page = open_as("alice", f"/instances/{vm['uuid']}/")
    page.click('button[data-action-key="pause"]')
    page.wait_for_url(f"**/instances/{vm['uuid']}/")
    wait_badge(page, vm["uuid"], "vm_state", "vm_state: paused")
    page.wait_for_selector('button[data-action-key="unpause"]:not([disabled])')
    assert page.locator(".message-success").inner_text().startswith("Pause accepted")


def test_a_host_put_in_maintenance_shows_it_live_and_a_silent_host_turns_unknown(
    live_site, open_as
):
    page = open_as("admin", "/hosts/")
    row = page.locator('tr[data-host-name="node2"]')
    assert row.locator('[data-bind="host_status"]').inner_text() == "Up"

    live_site.call("host", name="node2", status="disabled", disabled_reason="firmware update")
    page.wait_for_function(
        "() => document.querySelector('tr[data-host-name=node2] [data-bind=host_status]').title"
        " === 'host_status: MAINTENANCE'",
        timeout=2_000,
    )
    assert row.locator('[data-bind="disabled_reason"]').inner_text() == "firmware update"
    live_site.call("host", name="node2", status="enabled")

    live_site.call("stop_agent", host="node2")
    try:
        page.wait_for_function(
            "() => document.querySelector('tr[data-host-name=node2] [data-bind=host_status]')"
            ".title === 'host_status: UNKNOWN'",
            timeout=8_000,
        )
    finally:
        live_site.call("start_agent", host="node2")
    page.wait_for_function(
        "() => document.querySelector('tr[data-host-name=node2] [data-bind=host_status]').title"
        " === 'host_status: UP'",
        timeout=5_000,
    )
    assert not_reloaded(page)


def test_an_admin_disables_a_host_with_a_reason_from_its_page(live_site, open_as):
    page = open_as("admin", "/hosts/node2/")
    page.fill("#id_reason", "disk swap")
    page.click("text=Disable for maintenance")
    page.wait_for_selector(".message-success")
    assert page.locator('.host-head [data-bind="host_status"]').inner_text() == "Maintenance"
    page.click("text=Enable")
    page.wait_for_selector('.host-head [data-bind="host_status"]:has-text("Up")')


def test_an_open_page_survives_a_server_restart_and_catches_up(live_site, open_as):
    vm = live_site.call("create", user="alice", project="demo", name="survivor")
    page = open_as("alice", "/instances/")
    live_site.stop_server()
    page.wait_for_function(
        "() => ['reconnecting', 'offline'].includes(document.querySelector('#live-indicator').dataset.state)",
        timeout=5_000,
    )
    assert "since" in page.locator("#live-indicator .live-text").inner_text()
    live_site.call("action", user="alice", uuid=vm["uuid"], action="pause")
    live_site.call("wait_idle", uuid=vm["uuid"])
    live_site.start_server()
    wait_live(page, timeout=15_000)
    wait_badge(page, vm["uuid"], "vm_state", "vm_state: paused", timeout=3_000)
    assert not_reloaded(page)


def test_without_websockets_the_page_polls_and_says_so(live_site, browser):
    vm = live_site.call("create", user="alice", project="demo", name="polled")
    context = browser.new_context()
    cookie = live_site.call("session", user="alice")["sessionid"]
    context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_site.url}])
    # A proxy that refuses WebSockets: every socket closes before it opens.
    context.add_init_script(
        "window.WebSocket = class { constructor() { setTimeout(() => this._fire(), 10); }"
        " addEventListener(t, f) { (this.l = this.l || {})[t] = f; }"
        " _fire() { this.l && this.l.close && this.l.close({ code: 1006 }); } close() {} };"
    )
    try:
        page = context.new_page()
        page.goto(f"{live_site.url}/instances/")
        page.wait_for_selector('#live-indicator[data-state="polling"]', timeout=10_000)
        assert "WebSocket unavailable" in page.locator("#live-indicator").inner_text()
        live_site.call("action", user="alice", uuid=vm["uuid"], action="suspend")
        wait_badge(page, vm["uuid"], "vm_state", "vm_state: suspended", timeout=8_000)
    finally:
        context.close()


def test_a_user_of_another_project_sees_none_of_it(live_site, open_as):
    vm = live_site.call("create", user="alice", project="demo", name="alice-only")
    page = open_as("bob", "/instances/")
    live_site.call("action", user="alice", uuid=vm["uuid"], action="stop")
    live_site.call("wait_idle", uuid=vm["uuid"])
    page.wait_for_timeout(800)
    assert page.evaluate("window.vmdashLive.deltas") == 0
    assert "alice-only" not in page.content()
    response = page.goto(f"{live_site.url}/instances/{vm['uuid']}/")
    assert response.status == 404


def test_the_state_machine_page_draws_the_action_table(live_site, open_as):
    page = open_as("alice", "/states/")
    assert page.locator("[data-diagram] svg .node").count() >= 12
    page.hover('tr[data-highlight="stop"]')
    assert page.locator("[data-diagram] .arrow.hit").count() >= 2
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "state-machine.png"), full_page=True)
