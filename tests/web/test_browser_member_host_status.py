"""A member's host_status, live, where policy shows it (``HOST_STATUS_POLICY=admin_or_owner``).

The member's page never learns the host's name: its rows find host changes by Nova's opaque
per-project ``hostId``. A host put in maintenance, or one whose heartbeat stops, changes the
member's row without a reload.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.test_browser import not_reloaded, wait_live

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from tests.web.livesite import LiveSite

    site = LiveSite(Path(tmp_path_factory.mktemp("live-member-host-status")))
    site.env["HOST_STATUS_POLICY"] = "admin_or_owner"
    try:
        site.start()
        yield site
    finally:
        site.stop()


def cell(uuid: str) -> str:
    return f'[data-instance="{uuid}"] [data-host-status-of]'


def test_a_members_row_follows_its_hosts_status_live_without_learning_its_name(
    live_site: Any, browser: Any
):
    vm = live_site.call("create", user="alice", project="demo", name="watched")
    live_site.call("wait_idle", uuid=vm["uuid"])
    node = live_site.call("get", uuid=vm["uuid"])["host"]
    context = browser.new_context()
    try:
        cookie = live_site.call("session", user="alice")["sessionid"]
        context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_site.url}])
        page = context.new_page()
        page.goto(f"{live_site.url}/instances/")
        wait_live(page)
        page.evaluate("window.__loadedOnce = true")
        assert page.locator(cell(vm["uuid"])).inner_text() == "Up"
        assert node not in page.content()

        live_site.call("host", name=node, status="disabled", disabled_reason="firmware")
        page.wait_for_function(
            "(sel) => document.querySelector(sel).innerText.trim() === 'Maintenance'",
            arg=cell(vm["uuid"]),
            timeout=2_000,
        )
        live_site.call("host", name=node, status="enabled")
        live_site.call("stop_agent", host=node)
        try:
            page.wait_for_function(
                "(sel) => document.querySelector(sel).innerText.trim() === 'Unknown'",
                arg=cell(vm["uuid"]),
                timeout=8_000,
            )
        finally:
            live_site.call("start_agent", host=node)
        page.wait_for_function(
            "(sel) => document.querySelector(sel).innerText.trim() === 'Up'",
            arg=cell(vm["uuid"]),
            timeout=5_000,
        )
        assert node not in page.content()
        assert not_reloaded(page)
    finally:
        context.close()
