"""The notifications' bell in a real browser: a guest crashing behind the dashboard's back
(``manage.py fake_guest <uuid> crash``, another process) raises the owner's bell within 2 s,
through the agent's lifecycle event, the sync's correction, the outbox, the notifier in daphne
and the owner's own socket group — and no other project's user hears of it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.livesite import ROOT, LiveSite

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def lifecycle_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    site = LiveSite(Path(tmp_path_factory.mktemp("notify")))
    # The agents hear the fake hypervisor's lifecycle events; Nova's 15 s hold of a STOPPED
    # event (a reboot's STARTED may follow) is shortened so the test measures the rest.
    site.env.update({"HANDLE_VIRT_LIFECYCLE_EVENTS": "1", "LIFECYCLE_STOPPED_DELAY": "0.2"})
    try:
        site.start(hosts=("node1",))
        yield site
    finally:
        site.stop()


def manage(site: LiveSite, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=site.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def open_page(site: LiveSite, browser: Any, user: str, path: str) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    cookie = site.call("session", user=user)["sessionid"]
    context.add_cookies([{"name": "sessionid", "value": cookie, "url": site.url}])
    page = context.new_page()
    page.goto(f"{site.url}{path}")
    page.wait_for_selector('#live-indicator[data-state="live"]', timeout=10_000)
    return page


def test_an_out_of_band_crash_raises_the_owners_bell_within_2_s_and_nobody_elses(
    lifecycle_site: LiveSite, browser: Any
):
    site = lifecycle_site
    vm = site.call("create", user="alice", project="demo", name="crashy")
    manage(site, "notify", "subscribe", "--user", "alice", "--scope", "project", "--target", "demo")
    manage(site, "notify", "subscribe", "--user", "bob", "--scope", "project", "--target", "other")
    alice = open_page(site, browser, "alice", "/instances/")
    bob = open_page(site, browser, "bob", "/instances/")
    assert alice.locator("#bell").get_attribute("data-unread") == "0"
    try:
        launched = time.monotonic()
        manage(site, "fake_guest", vm["uuid"], "crash")
        crashed = time.monotonic()  # the crash is committed when the command has returned
        alice.wait_for_function(
            "() => document.getElementById('bell').dataset.unread === '1'", timeout=2_000
        )
        elapsed = time.monotonic() - crashed
        assert elapsed < 2.0
        toast = alice.locator("#bell-toast")
        assert "crashy: the sync corrected a power-state mismatch (stop)" in toast.inner_text()
        assert alice.locator("#bell-count").inner_text() == "1"
        time.sleep(1.0)  # anything for bob would have arrived by now
        assert bob.locator("#bell").get_attribute("data-unread") == "0"
        assert bob.locator("#bell-count").is_hidden()
        # The notification page lists it, and reading it clears the bell.
        alice.goto(f"{site.url}/notifications/")
        assert "crashy: the sync corrected" in alice.locator("#notifications").inner_text()
        alice.click("text=Mark all read")
        alice.wait_for_selector('#bell[data-unread="0"]')
        print(
            f"bell raised {elapsed:.2f} s after fake_guest returned "
            f"({crashed - launched:.2f} s for the command to start, crash and exit)"
        )
    finally:
        alice.context.close()
        bob.context.close()


def test_the_task_centre_shows_an_action_from_another_client_running_then_done_without_reload(
    lifecycle_site: LiveSite, browser: Any
):
    site = lifecycle_site
    vm = site.call("create", user="alice", project="demo", name="slow-stop")
    page = open_page(site, browser, "alice", "/tasks/")
    page.evaluate("window.__loadedOnce = true")
    try:
        site.call("delays", default=2.5)
        site.call("action", user="alice", uuid=vm["uuid"], action="stop")
        started = time.monotonic()
        running = 'tr[data-outcome="running"]:has(a:text("slow-stop"))'
        page.wait_for_selector(running, timeout=2_000)
        shown = time.monotonic() - started
        row = page.locator(running)
        assert "stop" in row.inner_text() and "watchdog task timeout" in row.inner_text()
        page.wait_for_selector(
            'tr[data-outcome="success"]:has(a:text("slow-stop"))', timeout=10_000
        )
        assert page.evaluate("window.__loadedOnce === true")  # updated in place, no reload
        dock = page.locator("#task-dock")
        dock.locator("summary").click()
        page.wait_for_selector("#task-dock .dock-list li")
        assert "slow-stop" in dock.inner_text()
        print(f"the running action showed {shown:.2f} s after it was accepted")
    finally:
        site.call("delays", default=0.3)
        page.context.close()
