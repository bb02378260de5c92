"""In a real browser, the instance page's serial console: type ``uptime`` at a fake guest and
read its answer; ``shutdown -h now`` turns the badge to SHUTOFF and the console says so; starting
the instance reconnects the console without a reload; another project's user cannot open the
console socket with a stolen URL, before or after its one use. The noVNC tab connects too.

The site runs its agents in another process than daphne, as a deployment would, so the
consoles travel through a private Redis (the channel layer), and through nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import RedisServer
from tests.web.test_browser import SHOTS, wait_badge, wait_live

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def console_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.web.livesite import LiveSite

    if not RedisServer.available():
        pytest.skip("redis-server is not installed")
    workdir = Path(tmp_path_factory.mktemp("console"))
    redis = RedisServer(workdir=workdir)
    site = LiveSite(workdir)
    site.env["REDIS_URL"] = redis.url
    site.env["FAKE_DELAYS"] = "default=0.1"
    site.env["DIAGNOSTICS_INTERVAL"] = "0.5"
    try:
        site.start(hosts=("node1",))
        yield site
    finally:
        site.stop()
        redis.stop()


@pytest.fixture
def open_as(console_site: Any, browser: Any) -> Iterator[Any]:
    contexts = []

    def open_page(user: str, path: str) -> Any:
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        contexts.append(context)
        cookie = console_site.call("session", user=user)["sessionid"]
        context.add_cookies([{"name": "sessionid", "value": cookie, "url": console_site.url}])
        page = context.new_page()
        page.goto(f"{console_site.url}{path}")
        wait_live(page)
        page.evaluate("window.__loadedOnce = true")
        return page

    yield open_page
    for context in contexts:
        context.close()


def screen(page: Any) -> str:
    """What the terminal shows, line by line, as xterm.js holds it."""
    return page.evaluate(
        """() => { const b = window.vmdashTerminal.buffer.active; const out = [];
        for (let i = 0; i < b.length; i++) out.push(b.getLine(i).translateToString(true));
        return out.join("\\n"); }"""
    )


def wait_screen(page: Any, text: str, timeout: float = 10_000) -> None:
    page.wait_for_function(
        """(t) => { const b = window.vmdashTerminal && window.vmdashTerminal.buffer.active;
        if (!b) return false; const out = [];
        for (let i = 0; i < b.length; i++) out.push(b.getLine(i).translateToString(true));
        return out.join("\\n").includes(t); }""",
        arg=text,
        timeout=timeout,
    )


def type_line(page: Any, line: str) -> None:
    page.locator("[data-terminal] textarea").focus()
    page.keyboard.type(line)
    page.keyboard.press("Enter")


def console_status(page: Any) -> str:
    return page.locator('[data-console-status="console"]').inner_text()


def test_uptime_shutdown_and_start_through_the_pages_serial_console(console_site, open_as):
    vm = console_site.call("create", user="alice", project="demo", name="console-1")
    page = open_as("alice", f"/instances/{vm['uuid']}/")
    page.wait_for_function("() => window.vmdashTerminal")
    # The login prompt is printed only at boot; Enter asks for it again.
    page.wait_for_selector('[data-console-status="console"][data-tone="ok"]')
    type_line(page, "")
    wait_screen(page, "console-1 login:")
    type_line(page, "root")
    wait_screen(page, "root@console-1:~#")
    type_line(page, "uptime")
    wait_screen(page, "load average:")
    assert " up 0 min,  1 user,  load average: " in screen(page)
    SHOTS.mkdir(exist_ok=True)
    page.locator("[data-console]").screenshot(path=str(SHOTS / "console.png"))

    type_line(page, "shutdown -h now")
    wait_screen(page, "reboot: Power down")
    console_site.call("sync", host="node1")  # the sync sees the guest off and stops it
    wait_badge(page, vm["uuid"], "power_state", "power_state: 4", timeout=10_000)
    page.wait_for_function(
        "(u) => document.querySelector(`[data-instance='${u}'] [data-bind=status]`).title.toUpperCase().endsWith('SHUTOFF')",
        arg=vm["uuid"],
        timeout=10_000,
    )
    page.wait_for_selector('[data-console-status="console"][data-tone="warn"]')
    assert "is shut off" in console_status(page)
    assert "reconnects by itself" in console_status(page)
    wait_screen(page, "[vmdash] The guest is shut off.")

    console_site.call("action", user="alice", uuid=vm["uuid"], action="start")
    wait_badge(page, vm["uuid"], "power_state", "power_state: 1", timeout=10_000)
    page.wait_for_selector('[data-console-status="console"][data-tone="ok"]', timeout=10_000)
    wait_screen(page, "Welcome to the vmdash fake guest (console-1)")  # the new boot, live
    type_line(page, "root")
    wait_screen(page, "root@console-1:~#")
    assert page.evaluate("window.__loadedOnce === true")  # no reload happened


def test_a_stolen_console_url_opens_nothing_for_another_projects_user(console_site, open_as):
    vm = console_site.call("create", user="alice", project="demo", name="console-2")
    alice = open_as("alice", f"/instances/{vm['uuid']}/")
    bob = open_as("bob", "/instances/")

    def token_for(page: Any) -> str:
        return page.evaluate(
            """async (uuid) => { const csrf = document.querySelector('[data-console] input[name=csrfmiddlewaretoken]').value;
            const r = await fetch(`/instances/${uuid}/console/serial/`, {method: 'POST', headers: {'X-CSRFToken': csrf}});
            return (await r.json()).token; }""",
            vm["uuid"],
        )

    def open_socket(page: Any, token: str) -> dict[str, Any]:
        """Open the serial socket with ``token`` in ``page``: its first frame and close code."""
        return page.evaluate(
            """(token) => new Promise((resolve) => {
              const ws = new WebSocket(`ws://${location.host}/ws/consoles/serial/?token=${token}`);
              let first = null;
              ws.onmessage = (e) => { if (!first) first = JSON.parse(e.data); };
              ws.onclose = (e) => resolve({first, code: e.code});
              setTimeout(() => { resolve({first, code: 'open'}); ws.close(); }, 3000);
            })""",
            token,
        )

    stolen = token_for(alice)
    # Before its use: bob's session is refused and the token is left to its owner.
    refused = open_socket(bob, stolen)
    assert refused["code"] == 4404
    assert refused["first"] == {
        "type": "error",
        "code": 404,
        "message": f"Instance {vm['uuid']} could not be found.",
    }
    assert open_socket(alice, stolen)["first"] == {"type": "hello", "uuid": vm["uuid"]}
    # After its one use: nobody, bob nor alice, opens anything with it.
    for page in (bob, alice):
        again = open_socket(page, stolen)
        assert again["code"] == 4400
        assert again["first"]["message"] == f"The token '{stolen}' is invalid or has expired"


def test_the_graphics_tab_connects_novnc_to_the_fake_framebuffer(console_site, open_as):
    vm = console_site.call("create", user="alice", project="demo", name="console-3")
    page = open_as("alice", f"/instances/{vm['uuid']}/#graphics")
    page.wait_for_selector('[data-console-status="graphics"][data-tone="ok"]', timeout=10_000)
    assert page.locator("[data-vnc] canvas").count() == 1
    page.locator("[data-console]").screenshot(path=str(SHOTS / "console-vnc.png"))


def test_the_charts_draw_the_agents_samples_live_and_pause_while_the_guest_is_stopped(
    console_site, open_as
):
    vm = console_site.call("create", user="alice", project="demo", name="charts-1")
    page = open_as("alice", f"/instances/{vm['uuid']}/#charts")
    page.wait_for_selector('[data-console-status="charts"][data-tone="ok"]', timeout=10_000)
    assert page.locator(".charts canvas").count() == 4
    page.wait_for_function("() => window.vmdashCharts.rows.length >= 2", timeout=10_000)
    page.locator("[data-console]").screenshot(path=str(SHOTS / "console-charts.png"))

    console_site.call("action", user="alice", uuid=vm["uuid"], action="stop")
    wait_badge(page, vm["uuid"], "power_state", "power_state: 4", timeout=10_000)
    page.wait_for_selector('[data-console-status="charts"][data-tone="warn"]')
    assert page.locator('[data-console-status="charts"]').inner_text() == (
        "Paused: The guest is shut off. Nothing is sampled until it runs again."
    )
    seen = page.evaluate("() => window.vmdashCharts.rows.length")
    page.wait_for_timeout(1500)
    assert page.evaluate("() => window.vmdashCharts.rows.length") == seen
