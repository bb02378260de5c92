"""The task centre in a real browser: a slowed live migration's progress moves in the table
without a reload, and Abort from the task centre stops it as Nova's abort does — the instance
stays ACTIVE on its source and the migration record ends ``cancelled``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web import test_browser
from tests.web.test_browser import SHOTS, wait_live

pytestmark = pytest.mark.browser

open_as = test_browser.open_as


def test_the_task_centre_shows_a_running_migrations_progress_live_and_aborts_it(
    live_site: Any, open_as: Any
):
    site = live_site
    uuid = site.call("create", user="admin", project="admin", name="t-mover", host="node1")["uuid"]
    site.call("slow_migration", uuid=uuid, seconds=60)
    page = open_as("admin", "/tasks/?action=live-migration")
    site.call("action", user="admin", uuid=uuid, action="os-migrateLive", params={"host": "node2"})
    row = page.locator('#tasks tr[data-outcome="running"]', has_text="t-mover")
    bar = row.locator('[role="progressbar"]')
    # Pushed in: the row appears and its progress rises, the page never reloaded.
    page.wait_for_function(
        """() => {
          const bar = document.querySelector('#tasks tr[data-outcome="running"] [role="progressbar"]');
          return bar && Number(bar.getAttribute("aria-valuenow")) > 0;
        }""",
        timeout=20_000,
    )
    first = int(bar.get_attribute("aria-valuenow"))
    page.wait_for_function(
        """(first) => {
          const bar = document.querySelector('#tasks tr[data-outcome="running"] [role="progressbar"]');
          return bar && Number(bar.getAttribute("aria-valuenow")) > first;
        }""",
        arg=first,
        timeout=20_000,
    )
    assert page.evaluate("window.__loadedOnce") is True
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "task-centre-migration.png"), full_page=True)
    row.locator("button[data-abort]").click()
    page.wait_for_load_state()
    state = site.call("wait_idle", uuid=uuid, timeout=30)
    assert (state["host"], state["vm_state"], state["task_state"]) == ("node1", "active", None)
    assert site.call("migrations", uuid=uuid)[-1]["status"] == "cancelled"
    wait_live(page)
    page.wait_for_selector('#tasks tr[data-outcome="running"]', state="detached", timeout=20_000)
    site.call("slow_migration", uuid=uuid, seconds=0)
