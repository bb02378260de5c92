"""Input that answered 500 before this suite found it (Schemathesis, or a probe of the same kind),
each now a clear 4xx or a correct empty answer. Several failed on PostgreSQL only, which refuses
what SQLite stores: run this file with ``DATABASE_URL=postgres://…`` as CI does.

Each case runs in a savepoint, so on PostgreSQL a database error in one case cannot abort the
test's transaction for the next.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from tests.security.conftest import snapshot

pytestmark = pytest.mark.django_db

# fmt: off
#: (what, method, path, body, as admin?, expected status)
CASES: list[tuple[str, str, str, Any, bool, int]] = [
    # GET /servers?uuid=<not a UUID> was a 404 "Instance … could not be found" (Schemathesis).
    ("uuid filter, empty", "GET", "/v2.1/servers?uuid=", None, True, 200),
    ("uuid filter, not a UUID", "GET", "/v2.1/servers/detail?uuid=Inf", None, True, 200),
    # "²".isdigit() is True and int("²") raises; SQLite overflows past 64 bits.
    ("power_state, a superscript", "GET", "/v2.1/servers?power_state=%C2%B2", None, False, 200),
    ("power_state, past 64 bits", "GET", "/v2.1/servers?power_state=" + "9" * 30, None, True, 200),
    ("user_id, a superscript", "GET", "/v2.1/servers?user_id=%C2%B2", None, False, 200),
    ("user_id, past 64 bits", "GET", "/v2.1/servers?user_id=" + "9" * 30, None, False, 200),
    # PostgreSQL: a moment whose offset leaves the calendar in UTC.
    ("changes-since, year 1 east of UTC", "GET",
     "/v2.1/servers?changes-since=0001-01-01T00:00:00%2B01:00", None, False, 400),
    ("changes-since, year 1 west of UTC", "GET",
     "/v2.1/servers?changes-since=0001-01-01T00:00:00-23:59", None, True, 200),
    ("action log changes-since, off the calendar", "GET",
     "/v2.1/servers/{mine}/os-instance-actions?changes-since=0001-01-01T00:00:00%2B01:00",
     None, False, 400),
    # PostgreSQL: its regular expressions refuse what these are.
    ("regex filter, unbalanced", "GET", "/v2.1/servers?availability_zone=(((", None, True, 400),
    ("regex filter, a bare quantifier", "GET", "/v2.1/servers?description=*", None, True, 400),
    ("ip filter, unbalanced", "GET", "/v2.1/servers?ip=(((", None, False, 400),
    # PostgreSQL: NUL in text, in paths, queries and bodies.
    ("NUL in a flavor id", "GET", "/v2.1/flavors/a%00b", None, False, 400),
    ("NUL in a request id", "GET", "/v2.1/servers/{mine}/os-instance-actions/a%00b", None, False,
     400),
    ("NUL in a marker", "GET", "/v2.1/servers/{mine}/os-instance-actions?marker=a%00b", None,
     False, 400),
    ("NUL in a services filter", "GET", "/v2.1/os-services?host=a%00b", None, True, 400),
    ("NUL in a flavor filter", "GET", "/v2.1/servers?flavor=a%00b", None, False, 400),
    ("NUL in an image id", "GET", "/image/v2/images/a%00b", None, False, 400),
    ("NUL in a disabled reason", "PUT", "/v2.1/os-services/{host}",
     {"status": "disabled", "disabled_reason": "a\x00"}, True, 400),
    ("NUL in a flavor description", "POST", "/v2.1/flavors",
     {"flavor": {"name": "f", "ram": 1, "vcpus": 1, "disk": 1, "description": "a\x00"}}, True,
     400),
    ("NUL in a project scope", "POST", "/identity/v3/auth/tokens",
     {"auth": {"identity": {"methods": ["password"], "password": {"user": {
         "name": "alice", "password": "alice-pass"}}}, "scope": {"project": {"name": "a\x00"}}}},
     False, 400),
    # An infinite rxtx_factor was stored, and then every flavor listing answered 500.
    ("rxtx_factor of 400 digits", "POST", "/v2.1/flavors",
     {"flavor": {"name": "f", "ram": 1, "vcpus": 1, "disk": 1, "rxtx_factor": "9" * 400}}, True,
     400),
    ("rxtx_factor past a float column", "POST", "/v2.1/flavors",
     {"flavor": {"name": "f", "ram": 1, "vcpus": 1, "disk": 1, "rxtx_factor": 1e39}}, True, 400),
]
# fmt: on


def test_input_that_once_answered_500(subtests, world, alice_api, admin_api):
    for what, method, path, body, as_admin, status in CASES:
        with subtests.test(msg=what):
            savepoint = transaction.savepoint()
            try:
                before = snapshot()
                client = admin_api if as_admin else alice_api
                if body is None:
                    response = client.generic(method, world.fill(path))
                else:
                    response = getattr(client, method.lower())(
                        world.fill(path), body, format="json"
                    )
                assert response.status_code == status, response.content[:300]
                if status == 200 and "servers" in response.json():
                    assert response.json()["servers"] == []
                if status >= 400:
                    assert snapshot() == before
            finally:
                transaction.savepoint_rollback(savepoint)


def test_flavors_stay_listable_after_a_refused_rxtx_factor(admin_api):
    admin_api.post(
        "/v2.1/flavors",
        {"flavor": {"name": "f", "ram": 1, "vcpus": 1, "disk": 1, "rxtx_factor": "9" * 400}},
        format="json",
    )
    assert admin_api.get("/v2.1/flavors/detail").status_code == 200
