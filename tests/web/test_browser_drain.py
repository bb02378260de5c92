"""Draining a host in a real browser: the plan with a locked and a busy instance shows both
refusals in Nova's words, a drain started from the page shows its live migration's progress,
and Cancel drain aborts it — the instance stays active on its host."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web import test_browser
from tests.web.test_browser import SHOTS, wait_live

pytestmark = pytest.mark.browser

open_as = test_browser.open_as


def test_the_drain_plan_shows_both_refusals_and_cancel_aborts_the_running_migration(
    live_site: Any, open_as: Any
):
    site = live_site
    made = {
        name: site.call("create", user="admin", project="admin", name=name, host="node1")["uuid"]
        for name in ("d-busy", "d-locked", "d-mover")
    }
    site.call("action", user="admin", uuid=made["d-locked"], action="lock")
    site.call("slow_migration", uuid=made["d-mover"], seconds=60)
    site.call("delays", power_off=60)  # d-busy stays powering-off while the page is read
    site.call("action", user="admin", uuid=made["d-busy"], action="stop")

    page = open_as("admin", "/hosts/node1/")
    verdict = 'tr[data-instance="{}"] td.verdict'
    locked_text = page.locator(verdict.format(made["d-locked"])).inner_text()
    busy_text = page.locator(verdict.format(made["d-busy"])).inner_text()
    assert f"Instance {made['d-locked']} is locked" in locked_text
    assert (
        f"Cannot 'os-migrateLive' instance {made['d-busy']} while it is in task_state powering-off"
    ) in busy_text
    assert "Can live-migrate" in page.locator(verdict.format(made["d-mover"])).inner_text()
    # The refused choices are there, greyed out, with the reason as their tooltip.
    locked_live = page.locator(
        f'select[name="choice-{made["d-locked"]}"] option[value="live-migrate"]'
    )
    assert locked_live.is_disabled()
    assert locked_live.get_attribute("title") == f"Instance {made['d-locked']} is locked"
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "drain-plan.png"), full_page=True)

    page.click("#drain-form button[type=submit]")
    page.click("#confirm-ok")  # the page's own confirmation dialog
    page.wait_for_selector(f'#drain-steps tr[data-step-instance="{made["d-mover"]}"]')
    wait_live(page)
    # The step runs and its migration's progress shows, refreshed from the socket.
    page.wait_for_selector(
        f'#drain-steps tr[data-step-instance="{made["d-mover"]}"][data-step-state="running"]'
        ' [role="progressbar"]',
        timeout=20_000,
    )
    page.screenshot(path=str(SHOTS / "drain-running.png"), full_page=True)
    page.click("#drain-cancel-form button")
    page.click("#confirm-ok")
    page.wait_for_selector('#drain-job[data-drain-state="cancelled"]', timeout=20_000)
    mover = f'#drain-steps tr[data-step-instance="{made["d-mover"]}"]'
    assert page.locator(mover).get_attribute("data-step-state") == "cancelled"
    state = site.call("wait_idle", uuid=made["d-mover"])
    assert (state["host"], state["vm_state"], state["task_state"]) == ("node1", "active", None)
    assert site.call("migrations", uuid=made["d-mover"])[-1]["status"] == "cancelled"
    site.call("delays")
