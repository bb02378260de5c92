"""In a real browser: a schedule made from an instance's page runs through the page's own live
site (its runner is the web process's loop) and its row shows the run without a reload; a
recurring one shows its next run on the owner's wall clock and pauses, resumes and goes.

Same harness as ``test_browser.py`` (daphne, the fake hosts and a second client in another
process).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.web import test_browser
from tests.web.test_browser import wait_badge

pytestmark = pytest.mark.browser

open_as = test_browser.open_as


def row(page: Any, name: str) -> Any:
    return page.locator("#schedules tbody tr", has=page.locator(f"a:text-is('{name}')"))


def schedule_from_the_instance_page(page: Any, *, action: str) -> None:
    page.click("a[href*='/schedules/?instance=']")
    page.wait_for_selector("form.schedule-form")
    page.select_option("form.schedule-form select[name=action]", action)


def test_a_one_off_schedule_made_on_the_instance_page_runs_and_its_row_says_so_live(
    live_site, open_as
):
    vm = live_site.call("create", user="alice", project="demo", name="sched-once")
    page = open_as("alice", f"/instances/{vm['uuid']}/")
    schedule_from_the_instance_page(page, action="stop")
    # This minute, in UTC: already due, so the web process's runner takes it at its next pass.
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M")
    page.fill("form.schedule-form input[name=run_at]", now)
    page.fill("form.schedule-form input[name=time_zone]", "UTC")
    page.click("form.schedule-form button[type=submit]")
    page.wait_for_selector(".message-success:has-text('Scheduled stop')")
    test_browser.wait_live(page)

    # The run: the table is re-rendered when the instance changes, no reload.
    mine = row(page, "sched-once")
    page.wait_for_function(
        """name => [...document.querySelectorAll('#schedules tbody tr')].some(r =>
            r.querySelector(`a`)?.textContent === name && r.dataset.state === 'done')""",
        arg="sched-once",
        timeout=15_000,
    )
    assert mine.locator(".schedule-result [data-outcome]").get_attribute("data-outcome") == (
        "accepted"
    )
    assert mine.locator(".schedule-result").inner_text().startswith("Accepted Accepted: req-")
    assert mine.locator("td .badge").first.inner_text() == "Done"
    mine.locator("details summary").click()
    assert mine.locator(".schedule-runs li").first.get_attribute("data-outcome") == "accepted"
    assert mine.locator(".schedule-buttons button").count() == 0  # a finished one-off: nothing
    instance = open_as("alice", f"/instances/{vm['uuid']}/")
    wait_badge(instance, vm["uuid"], "vm_state", "vm_state: stopped", timeout=10_000)
    assert live_site.call("get", uuid=vm["uuid"])["vm_state"] == "stopped"


def test_a_recurring_schedule_shows_its_next_run_in_its_zone_and_pauses_resumes_and_goes(
    live_site, open_as
):
    vm = live_site.call("create", user="alice", project="demo", name="sched-nightly")
    page = open_as("alice", f"/instances/{vm['uuid']}/")
    schedule_from_the_instance_page(page, action="reboot")
    page.check("form.schedule-form input[name=when][value=cron]")
    page.fill("form.schedule-form input[name=cron]", "0 3 * * *")
    page.fill("form.schedule-form input[name=time_zone]", "Asia/Shanghai")
    page.click("form.schedule-form button[type=submit]")
    page.wait_for_selector(".message-success:has-text('Scheduled reboot')")

    mine = row(page, "sched-nightly")
    assert mine.get_attribute("data-state") == "pending"
    assert "03:00" in mine.locator("time").first.inner_text()
    assert "Asia/Shanghai" in mine.inner_text()
    # 03:00 in Shanghai is 19:00 UTC the day before.
    assert mine.locator("time").first.get_attribute("datetime").endswith("19:00:00+00:00")

    mine.locator("button:text-is('Pause')").click()
    page.wait_for_selector(".message-success:has-text('paused: it will not run until resumed')")
    assert row(page, "sched-nightly").get_attribute("data-state") == "paused"
    row(page, "sched-nightly").locator("button:text-is('Resume')").click()
    page.wait_for_selector(".message-success:has-text('resumed')")
    assert row(page, "sched-nightly").get_attribute("data-state") == "pending"
    row(page, "sched-nightly").locator("button:text-is('Delete')").click()
    page.wait_for_selector(".message-success:has-text('deleted: it will not run again')")
    assert row(page, "sched-nightly").get_attribute("data-state") == "cancelled"
    assert row(page, "sched-nightly").locator(".schedule-buttons button").count() == 0
    assert live_site.call("get", uuid=vm["uuid"])["task_state"] is None  # it never ran
