"""The instances list pages both ways: Next after the last row shown, Previous before the first,
First back to the start, with the filters and the sort kept, whatever the sort key, and still
meeting the page the user came from when instances come and go between two clicks."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Callable

import pytest

from compute.models import Instance
from compute.services import instance_create, instance_update
from dashboard.web.forms import SORTABLE
from tests.conftest import CIRROS, fresh

pytestmark = pytest.mark.django_db

PAGE = 20


@pytest.fixture
def create(agent, alice_ctx) -> Callable[..., None]:
    """Instances named as given, in building: the list does not care about their state."""

    def make(*names: str) -> None:
        for name in names:
            instance_create(context=fresh(alice_ctx), name=name, flavor_ref="1", image_ref=CIRROS)

    return make


@pytest.fixture
def rename(alice_ctx) -> Callable[[str, str], None]:
    def change(old: str, new: str) -> None:
        instance_update(context=fresh(alice_ctx), instance_uuid=_uuid(old), name=new)

    return change


def get(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def names(html: str) -> list[str]:
    return re.findall(r'data-bind="name">([^<]+)</a>', html)


def link(html: str, which: str) -> str | None:
    found = re.search(rf'<a [^>]*href="([^"]+)"[^>]*data-page="{which}"', html)
    return htmllib.unescape(found.group(1)) if found else None


def page_range(html: str) -> str:
    found = re.search(r"data-page-range>([^<]+)<", html)
    assert found
    return found.group(1)


def follow(client, html: str, which: str) -> str:
    href = link(html, which)
    assert href is not None, f"no {which} link"
    return get(client, f"/instances/{href}")


def keeps_the_query(href: str | None) -> bool:
    assert href is not None
    return all(part in href for part in ("name=keep", "sort=name", "dir=asc"))


def test_previous_walks_back_the_pages_next_walked_with_the_filter_and_sort_kept(
    alice_client, create
):
    keep = [f"{n:02d}-keep" for n in range(45)]
    create(*keep, *(f"{n:02d}-skip" for n in range(0, 45, 7)))  # interleaved when sorted

    first = get(alice_client, "/instances/?name=keep&sort=name&dir=asc")
    assert names(first) == keep[:20]
    assert page_range(first) == "1–20 of 45"
    assert link(first, "previous") is None and link(first, "first") is None
    assert keeps_the_query(link(first, "next"))

    second = follow(alice_client, first, "next")
    assert names(second) == keep[20:40]
    assert page_range(second) == "21–40 of 45"
    third = follow(alice_client, second, "next")
    assert names(third) == keep[40:]
    assert page_range(third) == "41–45 of 45"
    assert link(third, "next") is None
    assert keeps_the_query(link(third, "previous")) and keeps_the_query(link(third, "first"))

    back = follow(alice_client, third, "previous")
    assert names(back) == keep[20:40]
    assert page_range(back) == "21–40 of 45"
    assert names(follow(alice_client, back, "next")) == keep[40:]
    start = follow(alice_client, back, "previous")
    assert names(start) == keep[:20]
    assert link(start, "previous") is None
    assert names(follow(alice_client, third, "first")) == keep[:20]


def test_previous_meets_the_page_it_came_from_when_instances_arrive_above_it(
    alice_client, create, rename
):
    keep = [f"{n:02d}-keep" for n in range(45)]
    create(*keep)
    third = get(alice_client, f"/instances/?name=keep&sort=name&dir=asc&marker={_uuid('39-keep')}")
    assert names(third) == keep[40:]

    # After the page was drawn: one arrives far above it, one leaves the filter, and one
    # arrives just above it, in what was the previous page.
    create("05a-keep")
    rename("10-keep", "10-gone")
    create("25a-keep")
    back = follow(alice_client, third, "previous")
    # The page ends right before the first row the user saw: an offset, or a marker taken from
    # further back, would repeat or skip a row at the seam.
    assert names(back) == [*keep[21:26], "25a-keep", *keep[26:40]]
    assert page_range(back) == "22–41 of 46"


def test_walking_back_into_the_start_shows_a_full_first_page(alice_client, create):
    keep = [f"{n:02d}-keep" for n in range(30)]
    create(*keep)
    html = get(alice_client, f"/instances/?name=keep&sort=name&dir=asc&before={_uuid('05-keep')}")
    assert names(html) == keep[:20]
    assert link(html, "previous") is None and link(html, "first") is None
    assert page_range(html) == "1–20 of 30"


def test_a_page_whose_anchor_left_the_list_starts_over_and_says_so(alice_client, create, rename):
    keep = [f"{n:02d}-keep" for n in range(25)]
    create(*keep)
    anchor = _uuid("21-keep")
    rename("21-keep", "21-gone")
    for key in ("marker", "before"):
        html = get(alice_client, f"/instances/?name=keep&sort=name&dir=asc&{key}={anchor}")
        assert names(html) == keep[:20]
        assert "no longer in the list" in html


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("key", sorted(SORTABLE))
def test_previous_mirrors_next_for_every_sort_key(admin_client, agent, create, key, direction):
    # Two kinds of rows, so every column has ties and NULLs (task_state, host) to order.
    create(*(f"run-{n:02d}" for n in range(21)))
    agent.run_pending()
    create(*(f"new-{n:02d}" for n in range(20)))
    url = f"/instances/?sort={key}&dir={direction}"
    forward = [get(admin_client, url)]
    while link(forward[-1], "next"):
        forward.append(follow(admin_client, forward[-1], "next"))
    assert len(forward) == 3
    seen = [n for html in forward for n in names(html)]
    assert len(seen) == len(set(seen)) == 41

    backward = [forward[-1]]
    while link(backward[-1], "previous"):
        backward.append(follow(admin_client, backward[-1], "previous"))
    assert [names(html) for html in backward] == [names(html) for html in reversed(forward)]


def _uuid(name: str) -> str:
    return str(Instance.objects.get(name=name).uuid)
