"""The seeds' story on real guests: a guest powers itself off and an open page shows SHUTOFF.

``poweroff -f`` is typed into each guest's serial console, as an operator at the console would.
Two hosts on the one libvirtd tell the two paths apart: the events host hears libvirt's
lifecycle events (STOPPED held ``LIFECYCLE_STOPPED_DELAY`` = 2 s here, Nova's 15 s by default)
and runs no periodic sync; the sync host ignores events and runs the periodic power-state sync
every 3 s. Each path is measured from the keystroke to the badge on the page.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.guests.conftest import start_site
from tests.guests.site import GuestSite
from tests.web.conftest import CHROMIUM

EVENTS_HOST = "vmdash-events-1"
SYNC_HOST = "vmdash-sync-1"
STOPPED_DELAY = 2.0
SYNC_INTERVAL = 3.0

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(real_guests: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuestSite]:
    yield from start_site(
        tmp_path_factory,
        {
            EVENTS_HOST: {"LIFECYCLE_STOPPED_DELAY": str(STOPPED_DELAY)},
            SYNC_HOST: {
                "HANDLE_VIRT_LIFECYCLE_EVENTS": "0",
                "SYNC_POWER_STATE_INTERVAL": str(SYNC_INTERVAL),
            },
        },
    )


@pytest.fixture(scope="module")
def guests(site: GuestSite) -> dict[str, str]:
    made = {
        EVENTS_HOST: site.create("quits-events", host=EVENTS_HOST),
        SYNC_HOST: site.create("quits-sync", host=SYNC_HOST),
    }
    for uuid in made.values():
        site.wait_status(uuid, "ACTIVE")
    for uuid in made.values():
        site.wait_boots(uuid, 1)
    return made


@pytest.fixture(scope="module")
def page(site: GuestSite, guests: dict[str, str]) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    pytest.importorskip("playwright.sync_api")
    with site.instances_page() as page:
        yield page


def action_event(site: GuestSite, uuid: str, action: str) -> dict[str, Any]:
    """The last finished event of the server's last ``action``."""
    actions = site.get(f"/v2.1/servers/{uuid}/os-instance-actions")["instanceActions"]
    request_id = next(a["request_id"] for a in actions if a["action"] == action)
    found: dict[str, Any] = {}

    def finished() -> bool:
        body = site.get(f"/v2.1/servers/{uuid}/os-instance-actions/{request_id}")
        events = body["instanceAction"]["events"]
        if events and events[0].get("finish_time"):
            found.update(events[0])
            return True
        return False

    site.wait(finished, timeout=60, what=f"the {action} event of {uuid} to finish")
    return found


def test_live_migration_to_a_host_whose_libvirtd_is_unreachable_fails_visibly_and_the_guest_stays(
    site, guests
):
    """No ``LIBVIRT_PEERS`` here: the destination is looked for at Nova's default
    ``qemu+tcp://<host>/system``, which nothing answers. (test_guest_migration.py migrates
    between two libvirtds.)"""
    uuid = guests[SYNC_HOST]
    site.action(uuid, {"os-migrateLive": {"host": EVENTS_HOST, "block_migration": "auto"}})
    event = action_event(site, uuid, "live-migration")
    assert event["result"] == "Error"
    assert f"qemu+tcp://{EVENTS_HOST}/system" in (event.get("details") or "")
    site.wait_status(uuid, "ACTIVE")
    assert site.server(uuid)["OS-EXT-SRV-ATTR:host"] == SYNC_HOST
    assert site.domain_state(uuid) == "running"


def status_title(page: Any, uuid: str) -> str:
    return str(
        page.locator(f'[data-instance="{uuid}"] [data-bind="status"]').first.get_attribute("title")
    )


def powered_off_by_its_console_shows_shutoff(site: GuestSite, page: Any, uuid: str) -> float:
    """Type ``poweroff -f`` at the guest's console; seconds until the page says SHUTOFF."""
    assert "ACTIVE" in status_title(page, uuid).upper()
    elapsed = site.poweroff_until_page_says_shutoff(page, uuid)
    assert page.evaluate("window.__loadedOnce === true")  # live, never reloaded
    assert site.domain_state(uuid) == "shut off"
    server = site.server(uuid)
    assert (server["status"], server["OS-EXT-STS:power_state"]) == ("SHUTOFF", 4)
    return elapsed


def test_a_guest_powered_off_at_its_console_turns_shutoff_on_the_page_by_lifecycle_event(
    site, guests, page
):
    elapsed = powered_off_by_its_console_shows_shutoff(site, page, guests[EVENTS_HOST])
    print(f"\npoweroff -f → SHUTOFF on the page, lifecycle events: {elapsed:.2f} s")
    # STOPPED comes 1–2 s after the guest stops here (PID 1 reaps QEMU late), then is held.
    assert elapsed < STOPPED_DELAY + 8


def test_a_guest_powered_off_at_its_console_turns_shutoff_on_the_page_by_periodic_sync(
    site, guests, page
):
    elapsed = powered_off_by_its_console_shows_shutoff(site, page, guests[SYNC_HOST])
    print(f"\npoweroff -f → SHUTOFF on the page, periodic sync every {SYNC_INTERVAL:.0f} s: "
          f"{elapsed:.2f} s")  # fmt: skip
    assert elapsed < SYNC_INTERVAL + 8
