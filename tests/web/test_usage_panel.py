"""The instances page's quota panel: one project's instances, vCPUs and RAM used of its quota,
counted as Nova's limits count them."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_the_usage_panel_shows_the_projects_quota_use(alice_client, make_instance):
    make_instance("active", name="a")
    make_instance("active", name="b")
    page = alice_client.get("/instances/").content.decode()
    assert 'data-usage="instances">2 of 10</span>' in page
    assert 'data-usage="cores">2 of 20</span>' in page
    assert 'data-usage="ram">1024 MiB of 51200 MiB</span>' in page


def test_several_projects_show_no_usage_panel(admin_client, make_instance):
    make_instance("active", name="a")
    assert "data-usage" not in admin_client.get("/instances/").content.decode()
