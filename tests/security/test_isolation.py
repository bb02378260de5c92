"""Tenant isolation (invariant 6): a member of one project cannot list, see, act on or hear of
another project's instances — in the API, the pages or the live socket; by id, by filter, by
paging marker or by socket group — and sees host names, host_status and service data only where
policy allows.

alice (project ``demo``) owns ``mine``; bob (project ``other``) owns ``foreign``; both run on
``node1``. Another project's instance is "not found", never "forbidden", so its existence does
not leak.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from compute.drivers.fake import FakeDriver
from compute.models import Image, Membership, Project
from compute.outbox.audience import project_group, user_group
from compute.outbox.replay import latest_seq
from compute.services import host_update, instance_action, user_ensure
from dashboard.web.consumers import CLOSE_UNAUTHENTICATED
from tests.conftest import fresh
from tests.security.conftest import snapshot
from tests.security.sockets import (
    ORIGIN,
    joined_groups,
    open_socket,
    received,
    relay_from,
    replayed,
    run,
    session_cookie,
    signed_in,
)

pytestmark = pytest.mark.django_db


def other_pid() -> str:
    return Project.objects.get(name="other").pk


def server_ids(response: Any) -> set[str]:
    assert response.status_code == 200, response.content[:300]
    return {s["id"] for s in response.json()["servers"]}


# --- API: lists, filters and markers -------------------------------------------------------

LIST_QUERIES = [
    "",
    "?name=bob",
    "?project_id={other}",
    "?tenant_id={other}",
    "?uuid={foreign}",
    "?user_id={bob}",
    "?changes-since=2000-01-01T00:00:00Z",
    "?changes-before=2999-01-01T00:00:00Z",
    "?status=ACTIVE&vm_state=active",
    "?sort_key=project_id&sort_dir=asc",
    "?ip=.*",
    "?all_tenants=0",
    "?limit=1000",
]


@pytest.mark.parametrize("listing", ["/v2.1/servers", "/v2.1/servers/detail"])
def test_a_member_lists_only_its_projects_servers_whatever_the_filter(
    subtests, world, alice_api, bob, listing
):
    for query in LIST_QUERIES:
        with subtests.test(msg=query or "no filter"):
            path = listing + world.fill(query).replace("{other}", other_pid())
            response = alice_api.get(path.replace("{bob}", str(bob.pk)))
            assert server_ids(response) <= {str(world.mine.uuid)}
            assert str(world.foreign.uuid).encode() not in response.content


@pytest.mark.parametrize("query", ["?all_tenants", "?all_tenants=1", "?all_tenants=true"])
def test_all_tenants_from_a_member_is_forbidden(world, alice_api, query):
    for listing in ("/v2.1/servers", "/v2.1/servers/detail"):
        response = alice_api.get(listing + query)
        assert response.status_code == 403
        assert "forbidden" in response.json()


def test_another_projects_server_is_no_paging_marker(world, alice_api):
    response = alice_api.get(f"/v2.1/servers?marker={world.foreign.uuid}")
    assert response.status_code == 400
    assert b"bob-db" not in response.content


def test_an_admin_lists_every_project_only_when_asking_for_all_tenants(world, admin_api):
    everyone = server_ids(admin_api.get("/v2.1/servers?all_tenants=1"))
    assert {str(world.mine.uuid), str(world.foreign.uuid)} <= everyone
    assert server_ids(admin_api.get("/v2.1/servers")) == set()  # its own project has none


# --- API: one server by id -------------------------------------------------------------------

# fmt: off
FOREIGN_REQUESTS = [
    ("GET", "/v2.1/servers/{foreign}", None),
    ("PUT", "/v2.1/servers/{foreign}", {"server": {"name": "mine-now"}}),
    ("DELETE", "/v2.1/servers/{foreign}", None),
    ("POST", "/v2.1/servers/{foreign}/action", {"os-stop": None}),
    ("POST", "/v2.1/servers/{foreign}/action", {"lock": None}),
    ("POST", "/v2.1/servers/{foreign}/action", {"createImage": {"name": "copy"}}),
    ("POST", "/v2.1/servers/{foreign}/action", {"forceDelete": None}),
    ("GET", "/v2.1/servers/{foreign}/os-instance-actions", None),
    ("GET", "/v2.1/servers/{foreign}/os-instance-actions/{foreign_request}", None),
    # Their action under my server's id: the action log is looked up per server.
    ("GET", "/v2.1/servers/{mine}/os-instance-actions/{foreign_request}", None),
]
# fmt: on


def test_every_read_and_write_of_another_projects_server_is_not_found(subtests, world, alice_api):
    foreign_request = world.foreign.actions.first().request_id
    for method, path, body in FOREIGN_REQUESTS:
        with subtests.test(msg=f"{method} {path}"):
            before = snapshot()
            url = world.fill(path).replace("{foreign_request}", foreign_request)
            response = alice_api.generic(
                method,
                url,
                b"" if body is None else json.dumps(body),
                content_type="application/json",
            )
            assert response.status_code == 404, response.content[:300]
            assert list(response.json()) == ["itemNotFound"]
            assert b"bob-db" not in response.content
            assert snapshot() == before


def test_another_projects_deleted_server_stays_out_of_sight(world, alice_api, bob_api):
    assert bob_api.delete(f"/v2.1/servers/{world.foreign.uuid}").status_code == 204
    since = alice_api.get("/v2.1/servers/detail?changes-since=2000-01-01T00:00:00Z")
    assert server_ids(since) <= {str(world.mine.uuid)}
    actions = alice_api.get(f"/v2.1/servers/{world.foreign.uuid}/os-instance-actions")
    assert actions.status_code == 404


def test_a_token_sees_only_its_project_even_when_its_user_has_more(world, client_for):
    carol = user_ensure(username="carol", password="carol-pass", project="demo").user
    user_ensure(username="carol", password="carol-pass", project="other")
    demo_token = client_for(carol, "demo")
    assert server_ids(demo_token.get("/v2.1/servers")) == {str(world.mine.uuid)}
    assert demo_token.get(f"/v2.1/servers/{world.foreign.uuid}").status_code == 404
    other_token = client_for(carol, "other")
    assert server_ids(other_token.get("/v2.1/servers")) == {str(world.foreign.uuid)}


def test_a_token_is_refused_once_its_user_leaves_the_project(world, alice, alice_api):
    Membership.objects.filter(user=alice).delete()
    response = alice_api.get("/v2.1/servers")
    assert response.status_code == 401
    assert alice_api.get(f"/v2.1/servers/{world.mine.uuid}").status_code == 401


def test_one_users_token_can_neither_read_nor_revoke_anothers(world, alice_api, bob_api):
    alice_token = alice_api._credentials["HTTP_X_AUTH_TOKEN"]
    read = bob_api.get("/identity/v3/auth/tokens", HTTP_X_SUBJECT_TOKEN=alice_token)
    assert read.status_code == 403
    revoke = bob_api.delete("/identity/v3/auth/tokens", HTTP_X_SUBJECT_TOKEN=alice_token)
    assert revoke.status_code == 403
    assert alice_api.get("/v2.1/servers").status_code == 200


def test_another_projects_snapshot_image_is_invisible(world, agent, alice_api, bob_api, admin_api):
    made = bob_api.post(
        f"/v2.1/servers/{world.foreign.uuid}/action",
        {"createImage": {"name": "bobs-secret-snapshot"}},
        format="json",
    )
    assert made.status_code == 202
    agent.run_pending()
    image = Image.objects.get(name="bobs-secret-snapshot")
    old = {"HTTP_OPENSTACK_API_VERSION": "compute 2.35"}
    for path in ("/v2.1/images", "/v2.1/images/detail", "/image/v2/images"):
        listed = alice_api.get(path, **old)
        assert listed.status_code == 200
        assert b"bobs-secret-snapshot" not in listed.content
    assert alice_api.get(f"/v2.1/images/{image.pk}", **old).status_code == 404
    assert alice_api.get(f"/image/v2/images/{image.pk}").status_code == 404
    assert server_ids(alice_api.get(f"/v2.1/servers?image={image.pk}")) == set()
    assert admin_api.get(f"/image/v2/images/{image.pk}").status_code == 200


# --- API: host facts and services only where policy allows ----------------------------------

HOST_KEYS = ("OS-EXT-SRV-ATTR:host", "OS-EXT-SRV-ATTR:hypervisor_hostname", "host_status")


def test_a_member_sees_no_host_and_no_host_status_by_default(world, alice_api, admin_api):
    mine = alice_api.get(f"/v2.1/servers/{world.mine.uuid}").json()["server"]
    assert not any(key in mine for key in HOST_KEYS)
    listed = alice_api.get("/v2.1/servers/detail").json()["servers"]
    assert not any(key in server for server in listed for key in HOST_KEYS)
    assert b"node1" not in alice_api.get("/v2.1/servers/detail").content
    seen_by_admin = admin_api.get(f"/v2.1/servers/{world.mine.uuid}").json()["server"]
    assert seen_by_admin["OS-EXT-SRV-ATTR:host"] == "node1"
    assert seen_by_admin["host_status"] == "UP"


def test_host_ids_are_opaque_and_differ_between_projects(world, alice_api, bob_api):
    mine = alice_api.get(f"/v2.1/servers/{world.mine.uuid}").json()["server"]["hostId"]
    theirs = bob_api.get(f"/v2.1/servers/{world.foreign.uuid}").json()["server"]["hostId"]
    # Same host, different projects: nobody learns that they share a hypervisor.
    assert mine and theirs and mine != theirs
    assert "node1" not in mine


def test_admin_or_owner_policy_shows_host_status_but_never_the_host(world, alice_api, settings):
    settings.COMPUTE = {**settings.COMPUTE, "host_status_policy": "admin_or_owner"}
    mine = alice_api.get(f"/v2.1/servers/{world.mine.uuid}").json()["server"]
    assert mine["host_status"] == "UP"
    assert "OS-EXT-SRV-ATTR:host" not in mine


def test_instance_action_events_keep_traceback_host_and_details_for_admins(
    world, agent, alice_api, admin_api
):
    FakeDriver.fail_next(operation="power_off", message="disk on fire at node1")
    assert (
        alice_api.post(
            f"/v2.1/servers/{world.mine.uuid}/action", {"os-stop": None}, format="json"
        ).status_code
        == 202
    )
    agent.run_pending()
    request_id = world.mine.actions.order_by("-id").first().request_id
    path = f"/v2.1/servers/{world.mine.uuid}/os-instance-actions/{request_id}"
    member_events = alice_api.get(path).json()["instanceAction"]["events"]
    assert member_events and member_events[-1]["result"] == "Error"
    assert not any({"traceback", "host", "details"} & set(e) for e in member_events)
    assert b"node1" not in alice_api.get(path).content
    admin_events = admin_api.get(path).json()["instanceAction"]["events"]
    assert {"traceback", "host", "details"} <= set(admin_events[-1])


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v2.1/os-services", None),
        ("PUT", "/v2.1/os-services/{host}", {"status": "disabled", "disabled_reason": "mine"}),
        ("POST", "/v2.1/flavors", {"flavor": {"name": "f", "ram": 1, "vcpus": 1, "disk": 1}}),
        ("DELETE", "/v2.1/flavors/1", None),
        ("POST", "/v2.1/servers/{mine}/action", {"os-resetState": {"state": "error"}}),
        ("POST", "/v2.1/servers/{mine}/action", {"migrate": None}),
        (
            "POST",
            "/v2.1/servers/{mine}/action",
            {"os-migrateLive": {"host": None, "block_migration": "auto"}},
        ),
    ],
)
def test_admin_only_operations_are_refused_to_members_with_403(
    world, alice_api, admin_api, method, path, body
):
    before = snapshot()
    response = alice_api.generic(
        method,
        world.fill(path),
        b"" if body is None else json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code == 403
    assert list(response.json()) == ["forbidden"]
    assert snapshot() == before
    if method == "GET":
        assert admin_api.get(path).status_code == 200


# --- the pages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["", "?name=bob", "?status=ACTIVE", "?marker={foreign}", "?host=node1", "?limit=500"]
)
def test_the_instances_page_never_shows_another_projects_instance(world, alice_client, query):
    response = alice_client.get("/instances/" + world.fill(query))
    assert response.status_code == 200
    html = response.content.decode()
    assert "bob-db" not in html
    assert f'data-instance="{world.foreign.uuid}"' not in html
    if "marker" in query:  # answered as for a marker that never existed: the first page
        assert "no longer in the list; showing the first page" in html


def test_another_projects_instance_page_fragments_and_actions_are_not_found(
    subtests, world, alice_client
):
    base = f"/instances/{world.foreign.uuid}/"
    for path in (base, *(f"{base}fragments/{part}/" for part in ("actions", "log", "facts"))):
        with subtests.test(msg=path):
            response = alice_client.get(path)
            assert response.status_code == 404
            assert "bob-db" not in response.content.decode()
    for action in ("stop", "lock", "pause", "delete"):
        with subtests.test(msg=f"POST {action}"):
            before = snapshot()
            response = alice_client.post(f"{base}action/", {"action": action, "confirmed": "yes"})
            assert response.status_code == 404
            assert snapshot() == before


def test_switching_to_another_project_is_ignored(world, alice_client):
    alice_client.post("/projects/switch/", {"project": other_pid()})
    assert "web.project_id" not in alice_client.session
    assert "bob-db" not in alice_client.get("/instances/").content.decode()


@pytest.mark.parametrize(
    "path", ["/hosts/", "/hosts/?fragment=table", "/hosts/node1/", "/hosts/heartbeats/"]
)
def test_host_pages_are_for_admins_only(world, alice_client, admin_client, path):
    refused = alice_client.get(path)
    assert refused.status_code == 403
    assert b"node1" not in refused.content
    assert admin_client.get(path).status_code == 200


def test_a_members_instance_page_names_no_host_even_in_its_log_and_fault(
    world, agent, alice_client, admin_client, make_instance
):
    """The page's log showed each event's host and details, and the fault its host, to members:
    the API keeps those for admins (Nova's policies), and so do the pages now."""
    FakeDriver.fail_next(operation="spawn", message="the hypervisor said no")
    broken = make_instance("active", name="broken")
    assert broken.vm_state == "error"
    for path in (f"/instances/{broken.uuid}/", f"/instances/{broken.uuid}/fragments/log/"):
        assert "node1" not in alice_client.get(path).content.decode()
        assert "node1" in admin_client.get(path).content.decode()


def test_polling_returns_only_the_members_own_deltas(world, alice_client, admin_ctx, host):
    host_update(context=admin_ctx, host=host, status="disabled", disabled_reason="patching")
    body = alice_client.get("/live/poll", {"since": 0}).json()
    deltas = [m["delta"] for m in body["messages"]]
    assert deltas and {d["id"] for d in deltas} == {str(world.mine.uuid)}
    assert all(d["type"] == "instance" and "host" not in d for d in deltas)


# --- the live socket ------------------------------------------------------------------------

sockets = pytest.mark.usefixtures("in_memory_layer")


@sockets
@pytest.mark.django_db(transaction=True)
def test_a_socket_cannot_choose_its_groups(alice, bob_ctx, make_instance):
    foreign = make_instance("active", name="bobs", context=bob_ctx)
    alice_project = Membership.objects.get(user=alice).project_id

    async def scenario():
        seq = await sync_to_async(latest_seq)()
        wanted = (
            f"group={project_group(bob_ctx.project_id)}&groups=admins&project={bob_ctx.project_id}"
        )
        socket = await signed_in(alice, path=f"/ws/live/?{wanted}")
        assert joined_groups() == {project_group(alice_project), user_group(alice.pk)}
        for frame in (
            {"type": "subscribe", "group": project_group(bob_ctx.project_id)},
            {"type": "join", "groups": ["admins"]},
        ):
            await socket.send_json_to(frame)
            assert (await socket.receive_json_from(timeout=5))["type"] == "error"
        assert joined_groups() == {project_group(alice_project), user_group(alice.pk)}
        await sync_to_async(instance_action)(
            context=fresh(bob_ctx), instance_uuid=str(foreign.uuid), action="pause"
        )
        await relay_from(seq)
        assert await received(socket) == []
        await socket.disconnect()

    run(scenario)


@sockets
@pytest.mark.django_db(transaction=True)
def test_a_user_in_two_projects_joins_both_groups_and_no_other():
    user_ensure(username="carol", password="c", project="demo")
    carol = user_ensure(username="carol", password=None, project="other").user
    user_ensure(username="dave", password="d", project="third")

    async def scenario():
        socket = await signed_in(carol)
        demo, other = await sync_to_async(
            lambda: [Project.objects.get(name=n).pk for n in ("demo", "other")]
        )()
        # Both projects' groups and carol's own bell, no other user's and no other project's.
        assert joined_groups() == {project_group(demo), project_group(other), user_group(carol.pk)}
        await socket.disconnect()

    run(scenario)


@sockets
@pytest.mark.django_db(transaction=True)
def test_resume_never_replays_another_projects_events(
    alice, alice_ctx, bob_ctx, admin_ctx, make_instance, host
):
    mine = make_instance("stopped", name="mine")
    make_instance("paused", name="bobs", context=bob_ctx)
    host_update(context=admin_ctx, host=host, forced_down=True)

    async def scenario():
        socket = await signed_in(alice)
        for since in (0, 1, 10**30):
            deltas = await replayed(socket, since)
            assert {d["id"] for d in deltas} <= {str(mine.uuid)}
            assert all(d["type"] == "instance" and "host" not in d for d in deltas)
            if since == 0:
                assert deltas
        await socket.disconnect()

    run(scenario)


@sockets
@pytest.mark.django_db(transaction=True)
def test_a_signed_out_session_cannot_open_a_socket(alice):
    def signed_out_cookie() -> tuple[bytes, bytes]:
        from django.test import Client

        client = Client()
        client.force_login(alice)
        cookie = client.cookies["sessionid"].value
        client.post("/logout/")
        return (b"cookie", f"sessionid={cookie}".encode())

    async def scenario():
        cookie = await sync_to_async(signed_out_cookie)()
        _, connected, code = await open_socket(ORIGIN, cookie)
        assert not connected
        assert code == CLOSE_UNAUTHENTICATED

    run(scenario)


@sockets
@pytest.mark.django_db(transaction=True)
def test_a_socket_from_another_origin_is_refused_even_with_a_session(subtests, alice):
    origins = [b"http://evil.example", b"null", b"http://127.0.0.1.evil.example", b""]

    async def scenario():
        cookie = await sync_to_async(session_cookie)(alice)
        for origin in origins:
            with subtests.test(msg=origin.decode() or "empty"):
                _, connected, _ = await open_socket((b"origin", origin), cookie)
                assert not connected

    run(scenario)


def test_users_are_who_the_fixtures_say(alice: User, bob: User) -> None:
    """The tenants above really are in different projects (a guard for this file's premise)."""
    mine = set(Membership.objects.filter(user=alice).values_list("project__name", flat=True))
    theirs = set(Membership.objects.filter(user=bob).values_list("project__name", flat=True))
    assert mine == {"demo"} and theirs == {"other"}
