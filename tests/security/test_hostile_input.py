"""Hostile input to every write path, one row each: the answer is a clear error in the service's
fault shape (Nova's ``{"badRequest": {"code", "message"}}``, Keystone's ``{"error": …}``) or a
clean refusal on the pages, and the database is exactly as it was.

``{mine}`` is alice's instance, ``{foreign}`` bob's (another project), ``{missing}`` a UUID that
names nothing and ``{host}`` the compute service's UUID. Rows run as the member alice unless
they say ``admin`` or ``anonymous``. The API client fails a row whose answer the OpenAPI
document does not list for the operation. Each table is one test with a subtest per row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.db import transaction
from django.test import Client

from dashboard.web.consumers import CLOSE_BAD_FRAME, MAX_FRAME
from tests.conftest import CIRROS
from tests.security.conftest import World, snapshot
from tests.security.sockets import run, signed_in

pytestmark = pytest.mark.django_db

ACTION = "/v2.1/servers/{mine}/action"
SERVER = "/v2.1/servers/{mine}"
TOKENS = "/identity/v3/auth/tokens"
JSON = "application/json"


@dataclass(frozen=True)
class Row:
    id: str
    method: str
    path: str
    body: Any = None
    status: int = 400
    #: The error body's key: Nova's fault name, or "error" for Keystone's.
    fault: str | None = "badRequest"
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)
    as_: str = "member"

    def encoded(self, world: World) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return world.fill(json.dumps(self.body)).encode()


def server(**fields: Any) -> dict[str, Any]:
    """A create body that is valid but for ``fields`` (2.37+ needs ``networks``)."""
    return {
        "server": {"name": "n", "flavorRef": "1", "imageRef": CIRROS, "networks": "none", **fields}
    }


MULTIPART = b'--x\r\nContent-Disposition: form-data; name="auth"\r\n\r\n1\r\n--x--\r\n'


def nested(depth: int) -> bytes:
    return b'{"os-stop": ' + b"[" * depth + b"]" * depth + b"}"


def auth(user: Any, password: Any = "x", **extra: Any) -> dict[str, Any]:
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": user, "password": password, **extra}},
            }
        }
    }


def scoped(project: str | None) -> dict[str, Any]:
    """alice's right password, asking for a scope."""
    body = auth("alice", "alice-pass")
    body["auth"]["scope"] = {"project": {"name": project}} if project else {"domain": {}}
    return body


def version(text: str) -> dict[str, str]:
    return {"HTTP_OPENSTACK_API_VERSION": text}


# fmt: off
_R = Row
ROWS = [
    # --- the body of a server action: not JSON, not Nova's shape, not this action's schema
    _R("action: malformed JSON", "POST", ACTION, b'{"os-stop": '),
    _R("action: invalid UTF-8", "POST", ACTION, b'{"os-stop": "\xff\xfe"}'),
    _R("action: a JSON array", "POST", ACTION, b"[]"),
    _R("action: a JSON string", "POST", ACTION, b'"os-stop"'),
    _R("action: JSON null", "POST", ACTION, b"null"),
    _R("action: an empty object", "POST", ACTION, {}),
    _R("action: two actions at once", "POST", ACTION, {"os-stop": None, "pause": None}),
    _R("action: an unknown action", "POST", ACTION, {"os-explode": None}),
    _R("action: reboot type of the wrong type", "POST", ACTION, {"reboot": {"type": 5}}),
    _R("action: an unknown reboot type", "POST", ACTION, {"reboot": {"type": "MEDIUM"}}),
    _R("action: an extra key", "POST", ACTION, {"reboot": {"type": "SOFT", "force": True}}),
    # (os-stop takes any value, as Nova's schema does: trigger_crash_dump's must be null.)
    _R("action: a value where null is due", "POST", ACTION, {"trigger_crash_dump": {"force": True}}),
    _R("action: NaN, which is not JSON", "POST", ACTION, b'{"reboot": {"type": NaN}}'),
    _R("action: nested past the parser", "POST", ACTION, nested(20000)),
    _R("action: nested past the depth limit", "POST", ACTION, nested(40)),
    _R("action: a NUL in a string", "POST", ACTION, {"lock": {"locked_reason": "a\x00b"}}),
    _R(
        "action: a NUL in a key",
        "POST",
        ACTION,
        {"createImage": {"name": "i", "metadata": {"k\x00": "v"}}},
    ),
    _R(
        "action: a body over 112 KiB",
        "POST",
        ACTION,
        {"createImage": {"name": "x" * 120_000}},
        status=413,
        fault="overLimit",
    ),
    _R("action: text/plain", "POST", ACTION, b"os-stop", 415, "badMediaType", "text/plain"),
    _R("action: multipart", "POST", ACTION, MULTIPART, 415, "badMediaType",
       "multipart/form-data; boundary=x"),
    _R(
        "action: a form",
        "POST",
        ACTION,
        b"os-stop=1",
        415,
        "badMediaType",
        "application/x-www-form-urlencoded",
    ),
    # --- whose server: not a UUID, another project's, nobody's
    _R("action: not a UUID", "POST", "/v2.1/servers/not-a-uuid/action", {"os-stop": None}, 404,
       "itemNotFound"),
    _R("action: a NUL in the path", "POST", "/v2.1/servers/%00/action", {"os-stop": None}),
    _R("action: another project's server", "POST", "/v2.1/servers/{foreign}/action",
       {"os-stop": None}, 404, "itemNotFound"),
    _R("action: a server nobody has", "POST", "/v2.1/servers/{missing}/action", {"os-stop": None},
       404, "itemNotFound"),
    # --- admin-only actions, asked by a member
    _R("action: reset state as a member", "POST", ACTION, {"os-resetState": {"state": "error"}},
       403, "forbidden"),
    _R("action: live-migrate as a member", "POST", ACTION,
       {"os-migrateLive": {"host": None, "block_migration": "auto"}}, 403, "forbidden"),
    _R("action: cold-migrate as a member", "POST", ACTION, {"migrate": None}, 403, "forbidden"),
    # --- odd microversion headers
    _R("microversion: not a number", "POST", ACTION, {"os-stop": None},
       headers=version("compute 2.x")),
    _R("microversion: a leading zero", "POST", ACTION, {"os-stop": None},
       headers=version("compute 02.1")),
    _R("microversion: above the maximum", "POST", ACTION, {"os-stop": None}, 406, "computeFault",
       headers=version("compute 3.0")),
    _R("microversion: below the minimum", "POST", ACTION, {"os-stop": None}, 406, "computeFault",
       headers=version("compute 2.0")),
    _R("microversion: a huge minor", "POST", ACTION, {"os-stop": None}, 406, "computeFault",
       headers=version("compute 2.99999999999999999999999")),
    _R("microversion: the legacy header, garbage", "POST", ACTION, {"os-stop": None},
       headers={"HTTP_OPENSTACK_API_VERSION": "", "HTTP_X_OPENSTACK_NOVA_API_VERSION": "banana"}),
    _R("microversion: an action from a later version", "POST", ACTION,
       {"trigger_crash_dump": None}, 404, "itemNotFound", headers=version("compute 2.1")),
    # --- rename and delete
    _R("rename: 256 characters", "PUT", SERVER, {"server": {"name": "x" * 256}}),
    _R("rename: empty", "PUT", SERVER, {"server": {"name": ""}}),
    _R("rename: a control character", "PUT", SERVER, {"server": {"name": "a\x07b"}}),
    _R("rename: a leading space", "PUT", SERVER, {"server": {"name": " web"}}),
    _R("rename: not a string", "PUT", SERVER, {"server": {"name": 5}}),
    _R("rename: a NUL in the description", "PUT", SERVER, {"server": {"description": "a\x00"}}),
    _R("rename: the vm_state, by mass assignment", "PUT", SERVER,
       {"server": {"vm_state": "active"}}),
    _R("rename: the project, by mass assignment", "PUT", SERVER,
       {"server": {"name": "mine", "project_id": "other"}}),
    _R("rename: another project's server", "PUT", "/v2.1/servers/{foreign}",
       {"server": {"name": "mine-now"}}, 404, "itemNotFound"),
    _R("delete: another project's server", "DELETE", "/v2.1/servers/{foreign}", None, 404,
       "itemNotFound"),
    _R("delete: not a UUID", "DELETE", "/v2.1/servers/garbage", None, 404, "itemNotFound"),
    # --- create
    _R("create: no image", "POST", "/v2.1/servers", server(imageRef=None)),
    _R("create: a name that is a list", "POST", "/v2.1/servers", server(name=["x"])),
    _R("create: an unknown flavor", "POST", "/v2.1/servers", server(flavorRef="nope")),
    _R("create: an image that is no UUID", "POST", "/v2.1/servers", server(imageRef="nope")),
    # Several at once are served (as Nova): a huge count is past the quota, Nova's 403.
    _R("create: a huge min_count", "POST", "/v2.1/servers", server(min_count=10**30), 403,
       "forbidden"),
    _R("create: fewer at most than at least", "POST", "/v2.1/servers",
       server(min_count=3, max_count=2)),
    _R("create: into another project", "POST", "/v2.1/servers", server(project_id="other")),
    _R("create: on a host, as a member", "POST", "/v2.1/servers", server(host="node1"), 403,
       "forbidden"),
    _R("create: on a forced host, as a member", "POST", "/v2.1/servers",
       server(availability_zone="nova:node1"), 403, "forbidden"),
    # --- flavors: admins only; and the admin's own bad values
    _R("flavor: create as a member", "POST", "/v2.1/flavors",
       {"flavor": {"name": "f", "ram": 1, "vcpus": 1, "disk": 1}}, 403, "forbidden"),
    _R("flavor: delete as a member", "DELETE", "/v2.1/flavors/1", None, 403, "forbidden"),
    _R("flavor: describe as a member", "PUT", "/v2.1/flavors/1",
       {"flavor": {"description": "mine"}}, 403, "forbidden"),
    _R("flavor: an infinite rxtx_factor", "POST", "/v2.1/flavors",
       {"flavor": {"name": "f", "ram": 1, "vcpus": 1, "disk": 1, "rxtx_factor": "1" * 400}},
       as_="admin"),
    _R("flavor: a negative ram", "POST", "/v2.1/flavors",
       {"flavor": {"name": "f", "ram": -1, "vcpus": 1, "disk": 1}}, as_="admin"),
    _R("flavor: a ram past the column", "POST", "/v2.1/flavors",
       {"flavor": {"name": "f", "ram": 2**40, "vcpus": 1, "disk": 1}}, as_="admin"),
    # --- compute services: admins only; and the admin's own bad values
    _R("service: disable as a member", "PUT", "/v2.1/os-services/{host}",
       {"status": "disabled"}, 403, "forbidden"),
    _R("service: not a UUID", "PUT", "/v2.1/os-services/garbage", {"status": "disabled"},
       as_="admin"),
    _R("service: an unknown status", "PUT", "/v2.1/os-services/{host}", {"status": "broken"},
       as_="admin"),
    _R("service: a reason past 255 characters", "PUT", "/v2.1/os-services/{host}",
       {"status": "disabled", "disabled_reason": "r" * 300}, as_="admin"),
    _R("service: forced_down is no boolean", "PUT", "/v2.1/os-services/{host}",
       {"forced_down": "maybe"}, as_="admin"),
    _R("service: nobody's UUID", "PUT", "/v2.1/os-services/{missing}", {"status": "disabled"},
       404, "itemNotFound", as_="admin"),
    # --- paging and filters (reads: they must not change anything either)
    _R("list: a negative limit", "GET", "/v2.1/servers?limit=-1"),
    _R("list: a limit that is no number", "GET", "/v2.1/servers?limit=ten"),
    _R("list: a huge limit is capped", "GET", "/v2.1/servers/detail?limit=" + "9" * 40, None, 200,
       None),
    _R("list: another project's server as marker", "GET", "/v2.1/servers?marker={foreign}"),
    _R("list: a marker that is no UUID", "GET", "/v2.1/servers?marker=garbage"),
    _R("list: all tenants, as a member", "GET", "/v2.1/servers?all_tenants=1", None, 403,
       "forbidden"),
    _R("list: an unknown sort key", "GET", "/v2.1/servers?sort_key=password"),
    _R("list: an invalid regular expression", "GET", "/v2.1/servers?availability_zone=(((",
       as_="admin"),
    _R("list: a moment off the calendar", "GET", "/v2.1/servers?changes-since=0001-01-01T00:00+01:00"),
    _R("list: a NUL in a filter", "GET", "/v2.1/servers?name=a%00b"),
    _R("actions: a negative limit", "GET", "/v2.1/servers/{mine}/os-instance-actions?limit=-5"),
    _R("flavors: a negative limit", "GET", "/v2.1/flavors?limit=-1"),
    # --- identity
    _R("token: malformed JSON", "POST", TOKENS, b'{"auth": ', fault="error", as_="anonymous"),
    _R("token: a JSON array", "POST", TOKENS, b"[]", fault="error", as_="anonymous"),
    _R("token: no auth", "POST", TOKENS, {"nope": 1}, fault="error", as_="anonymous"),
    _R("token: methods not a list", "POST", TOKENS,
       {"auth": {"identity": {"methods": "password"}}}, fault="error", as_="anonymous"),
    _R("token: a user that is no object", "POST", TOKENS,
       {"auth": {"identity": {"methods": ["password"], "password": {"user": "alice"}}}},
       fault="error", as_="anonymous"),
    _R("token: a username that is an object", "POST", TOKENS, auth({"name": "alice"}), 401,
       "error", as_="anonymous"),
    _R("token: a user id that is no number", "POST", TOKENS, auth(None, id="²"), 401, "error",
       as_="anonymous"),
    _R("token: a NUL in the username", "POST", TOKENS, auth("ali\x00ce"), fault="error",
       as_="anonymous"),
    _R("token: an unknown method", "POST", TOKENS,
       {"auth": {"identity": {"methods": ["totp"]}}}, 401, "error", as_="anonymous"),
    _R("token: a token id that is no string", "POST", TOKENS,
       {"auth": {"identity": {"methods": ["token"], "token": {"id": 5}}}}, fault="error",
       as_="anonymous"),
    _R("token: another project's scope", "POST", TOKENS, scoped("other"), 401, "error",
       as_="anonymous"),
    _R("token: a scope that is no project", "POST", TOKENS, scoped(None), fault="error",
       as_="anonymous"),
    _R("token: text/plain", "POST", TOKENS, b"alice", 415, "error", "text/plain",
       as_="anonymous"),
    _R("token: multipart", "POST", TOKENS, MULTIPART, 415, "error",
       "multipart/form-data; boundary=x", as_="anonymous"),
    _R("token: a body over 112 KiB", "POST", TOKENS, auth("alice", "x" * 120_000), 413, "error",
       as_="anonymous"),
    _R("token: revoke with no subject", "DELETE", TOKENS, None, 404, "error"),
    _R("token: revoke with no caller", "DELETE", TOKENS, None, 401, "error", as_="anonymous"),
]
# fmt: on


def each_row(subtests: Any, rows: list[Any]) -> Any:
    """Every row as a subtest of one test (one set-up for the table), each in a savepoint rolled
    back after it, so a row that wrongly changed something cannot sway the rows after it."""
    for row in rows:
        with subtests.test(msg=row.id):
            cache.clear()
            savepoint = transaction.savepoint()
            try:
                yield row
            finally:
                transaction.savepoint_rollback(savepoint)


def test_hostile_api_input_is_refused_in_the_fault_shape_and_changes_nothing(
    subtests, world, alice_api, admin_api, anonymous
):
    clients = {"member": alice_api, "admin": admin_api, "anonymous": anonymous}
    for row in each_row(subtests, ROWS):
        before = snapshot()
        response = clients[row.as_].generic(
            row.method,
            world.fill(row.path),
            row.encoded(world),
            content_type=row.content_type,
            **row.headers,
        )
        assert response.status_code == row.status, response.content[:500]
        if row.fault is not None:
            body = response.json()
            assert list(body) == [row.fault], body
            assert body[row.fault]["code"] == row.status
            assert body[row.fault]["message"]
        assert snapshot() == before


# --- the pages ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageRow:
    id: str
    path: str
    data: dict[str, Any]
    #: The status, and for a redirect where it must not lead.
    status: int
    as_: str = "member"


# fmt: off
PAGE_ROWS = [
    PageRow("action on another project's instance", "/instances/{foreign}/action/",
            {"action": "stop"}, 404),
    PageRow("an unknown action", "/instances/{mine}/action/", {"action": "explode"}, 302),
    PageRow("an action on no UUID", "/instances/not-a-uuid/action/", {"action": "stop"}, 404),
    PageRow("an admin-only action as a member", "/instances/{mine}/action/",
            {"action": "os-resetState", "state": "error", "confirmed": "yes"}, 302),
    PageRow("a NUL in a field", "/instances/{mine}/action/", {"action": "stop\x00"}, 400),
    PageRow("bulk: another project's instance", "/instances/bulk/",
            {"action": "stop", "confirmed": "yes", "instance": ["{foreign}"]}, 302),
    PageRow("bulk: not UUIDs", "/instances/bulk/",
            {"action": "stop", "confirmed": "yes", "instance": ["x", "", "../etc"]}, 302),
    PageRow("create: an empty name", "/instances/new/",
            {"name": "", "flavor": "1", "image": CIRROS}, 200),
    PageRow("create: a name past 255 characters", "/instances/new/",
            {"name": "n" * 300, "flavor": "1", "image": CIRROS}, 200),
    PageRow("create: an unknown flavor", "/instances/new/",
            {"name": "n", "flavor": "nope", "image": CIRROS}, 200),
    PageRow("create: into another project", "/instances/new/",
            {"name": "n", "flavor": "1", "image": CIRROS, "project": "other"}, 200),
    PageRow("host: disable as a member", "/hosts/node1/update/",
            {"op": "disable", "reason": "mine"}, 403),
    PageRow("host: an unknown operation", "/hosts/node1/update/", {"op": "explode"}, 302,
            "admin"),
    PageRow("host: disable with no reason", "/hosts/node1/update/",
            {"op": "disable", "reason": ""}, 302, "admin"),
    PageRow("host: a reason past 255 characters", "/hosts/node1/update/",
            {"op": "disable", "reason": "r" * 300}, 302, "admin"),
    PageRow("host: a NUL in the host name", "/hosts/no%00de/update/", {"op": "enable"}, 400,
            "admin"),
    PageRow("host: migrate away as a member", "/hosts/node1/migrate-away/",
            {"instance": ["{mine}"]}, 403),
    PageRow("switch: into another project", "/projects/switch/", {"project": "other"}, 302),
]
# fmt: on


def test_hostile_page_posts_are_refused_and_change_nothing(
    subtests, world, alice_client, admin_client
):
    for row in each_row(subtests, PAGE_ROWS):
        client = admin_client if row.as_ == "admin" else alice_client
        data = {
            k: [world.fill(v) for v in vs] if isinstance(vs, list) else world.fill(vs)
            for k, vs in row.data.items()
        }
        before = snapshot()
        response = client.post(world.fill(row.path), data)
        assert response.status_code == row.status, response.content[:300]
        assert snapshot() == before


def test_a_bulk_action_on_another_projects_instance_is_refused_row_by_row(world, alice_client):
    alice_client.post(
        "/instances/bulk/",
        {"action": "stop", "confirmed": "yes", "instance": [str(world.foreign.uuid)]},
    )
    html = alice_client.get("/instances/").content.decode()
    assert f"Instance {world.foreign.uuid} could not be found." in html
    assert "bob-db" not in html


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"]
)
def test_redirect_targets_never_leave_the_site(world, alice_client, target):
    switched = alice_client.post("/projects/switch/", {"project": "", "next": target})
    assert switched["Location"] == "/instances/"
    bulk = alice_client.post("/instances/bulk/", {"action": "", "next": target})
    assert bulk["Location"] == "/instances/"
    login = Client().post(
        "/login/", {"username": "alice", "password": "alice-pass", "next": target}
    )
    assert login["Location"] == "/instances/"


@pytest.mark.parametrize("since", ["-1", "ten", "", "1e3", "9" * 5000])
def test_the_polling_endpoint_refuses_a_sequence_that_is_no_sequence(alice_client, since):
    response = alice_client.get("/live/poll", {"since": since})
    assert response.status_code == 400
    assert response.json() == {"error": "since must be a sequence number."}


def test_an_oversize_form_is_refused_before_any_view(world, alice_client):
    before = snapshot()
    response = alice_client.post(
        f"/instances/{world.mine.uuid}/action/", {"action": "stop", "pad": "x" * 3_000_000}
    )
    assert response.status_code == 400
    assert snapshot() == before


def test_a_unicode_name_is_kept_as_given_and_rendered_escaped(world, alice_api, alice_client):
    name = "ünïcødé-名前-😀 <script>alert(1)</script>"
    response = alice_api.put(
        f"/v2.1/servers/{world.mine.uuid}", {"server": {"name": name}}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["server"]["name"] == name
    shown = alice_api.get(f"/v2.1/servers/{world.mine.uuid}").json()["server"]["name"]
    assert shown == name
    for path in ("/instances/", f"/instances/{world.mine.uuid}/"):
        html = alice_client.get(path).content.decode()
        assert "ünïcødé-名前-😀 &lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<script>alert(1)</script>" not in html


# --- the live socket ------------------------------------------------------------------------

FRAMES = [
    ("not JSON", {"text_data": "resume please"}),
    ("bytes that are not UTF-8", {"bytes_data": b"\xff\xfe\x00"}),
    ("a JSON array", {"text_data": "[1, 2]"}),
    ("a JSON string", {"text_data": '"resume"'}),
    ("JSON nested past the parser", {"text_data": "[" * 2000 + "]" * 2000}),
    ("an unknown type", {"text_data": '{"type": "drop_tables"}'}),
    ("no type", {"text_data": '{"since": 0}'}),
    ("resume from a word", {"text_data": '{"type": "resume", "since": "soon"}'}),
    ("resume from a negative", {"text_data": '{"type": "resume", "since": -1}'}),
    ("resume from a boolean", {"text_data": '{"type": "resume", "since": true}'}),
    ("resume from a fraction", {"text_data": '{"type": "resume", "since": 1.5}'}),
    ("resume from nothing", {"text_data": '{"type": "resume"}'}),
]


@pytest.mark.usefixtures("in_memory_layer")
@pytest.mark.django_db(transaction=True)
def test_hostile_socket_frames_get_an_error_frame_and_the_socket_stays_open(subtests, alice):
    async def scenario():
        socket = await signed_in(alice)
        for name, frame in FRAMES:
            with subtests.test(msg=name):
                before = await sync_to_async(snapshot)()
                await socket.send_to(**frame)
                answer = await socket.receive_json_from(timeout=5)
                assert answer["type"] == "error", answer
                await socket.send_json_to({"type": "ping"})
                assert await socket.receive_json_from(timeout=5) == {"type": "pong"}
                assert await sync_to_async(snapshot)() == before
        await socket.disconnect()

    run(scenario)


@pytest.mark.usefixtures("in_memory_layer")
@pytest.mark.django_db(transaction=True)
def test_an_oversize_socket_frame_closes_the_socket_with_4400(subtests, alice):
    frames = {
        "text": {"text_data": "x" * (MAX_FRAME + 1)},
        "bytes": {"bytes_data": b"{" * (MAX_FRAME + 1)},
    }

    async def scenario():
        for name, frame in frames.items():
            with subtests.test(msg=name):
                socket = await signed_in(alice)
                await socket.send_to(**frame)
                closed = await socket.receive_output(timeout=5)
                assert closed == {"type": "websocket.close", "code": CLOSE_BAD_FRAME}
                await socket.disconnect()

    run(scenario)
