"""The OpenAPI document: it validates, its page works offline, and every response code it lists
is one the API really gives (the converse, that every code the tests see is listed, is checked
on every request by ``DocumentedClient``)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core.cache import cache
from drf_spectacular.validation import validate_schema

from compute.drivers.fake import FakeDriver
from compute.models import Flavor, Instance, InstanceAction
from tests.api.conftest import DocumentedClient, api_schema, at, issue_token
from tests.conftest import CIRROS

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return api_schema()


def test_the_schema_is_valid_openapi(schema):
    validate_schema(schema)
    assert schema["openapi"].startswith("3.1")


def test_the_schema_covers_compute_identity_and_image(schema):
    paths = set(schema["paths"])
    for path in (
        "/v2.1/servers/detail/",
        "/v2.1/servers/{server_id}/action/",
        "/v2.1/os-services/{service_id}/",
        "/v2.1/servers/{server_id}/os-instance-actions/{request_id}/",
        "/identity/v3/auth/tokens/",
        "/image/v2/images/",
    ):
        assert path in paths
    assert schema["components"]["securitySchemes"]["keystoneToken"]["name"] == "X-Auth-Token"


def test_the_schema_is_served(anonymous):
    response = anonymous.get("/api/schema/?format=json")
    assert response.status_code == 200
    assert "/v2.1/servers/detail/" in response.json()["paths"]


def test_the_docs_page_loads_nothing_from_outside(anonymous):
    page = anonymous.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert not re.search(r"(src|href)=\"https?://", html)
    for asset in re.findall(r"(?:src|href)=\"(/api/docs/assets/[^\"]+)\"", html):
        assert anonymous.get(asset).status_code == 200, asset
    assert "/api/docs/assets/swagger-ui-bundle.js" in html


def test_a_docs_asset_outside_the_bundle_is_not_served(anonymous):
    assert anonymous.get("/api/docs/assets/../../../settings.py").status_code == 404


# --- every documented code is real ------------------------------------------------------------
@pytest.fixture
def w(alice_api, admin_api, make_instance, host):
    instance = make_instance("active")
    resized = make_instance("resized", name="resized")
    Flavor.objects.create(flavorid="9", name="spare", vcpus=1, ram=64, disk=1)
    request_id = instance.actions.first().request_id
    building = make_instance("active", name="building")
    # A server still building: written here directly, as no action leaves one there.
    Instance.objects.filter(pk=building.pk).update(vm_state="building", host=None)
    own = alice_api.post("/image/v2/images", {"name": "own"}, format="json").json()["id"]
    meta_server = make_instance("active", name="metadata")
    return SimpleNamespace(
        make=make_instance,
        meta_server=str(meta_server.uuid),
        own_image=own,
        building=str(building.uuid),
        alice=alice_api,
        admin=admin_api,
        anonymous=DocumentedClient(),
        server=str(instance.uuid),
        resized=str(resized.uuid),
        host=str(host.uuid),
        request_id=request_id,
        token=alice_api._credentials["HTTP_X_AUTH_TOKEN"],
    )


def fill(path: str, w: SimpleNamespace) -> str:
    return (
        path.replace("{server_id}", w.server)
        .replace("{request_id}", w.request_id)
        .replace("{service_id}", w.host)
        .replace("{flavor_id}", "9")
        .replace("{image_id}", CIRROS)
        .replace("{hypervisor_id}", MISSING)
        .replace("{pattern}", "node")
        .replace("{host_name}", "node1")
        .replace("{action}", "reboot")
        .replace("{project_id}", "p")
        .replace("{class_name}", "default")
        .replace("{before}", "2026-01-02")
        .replace("{alias}", "OS-DCF")
        .replace("{name}", "k")
        .replace("{group_id}", MISSING)
    )


def call(client, method, path, body=None, **headers):
    if method == "GET":
        return client.get(path, **headers)
    return getattr(client, method.lower())(path, body, format="json", **headers)


TOKENS = "/identity/v3/auth/tokens"
ACTION = "/v2.1/servers/{server_id}/action"
NEW_SERVER = {"server": {"name": "n", "flavorRef": "1", "imageRef": CIRROS, "networks": "none"}}
NEW_FLAVOR = {"flavor": {"name": "f", "ram": 1, "vcpus": 1, "disk": 0}}
MISSING = "3a4c5a2e-0c5e-4c1e-9a55-000000000000"


def login(password: str) -> dict:
    user = {"name": "alice", "domain": {"id": "default"}, "password": password}
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}}


def with_host(body: dict) -> dict:
    return {"server": {**body["server"], "host": "node1"}}


def locked_out(w: SimpleNamespace):
    """The identity endpoint after too many wrong passwords (``dashboard.ratelimit``)."""
    for _ in range(settings.LOGIN_RATE_LIMIT["failures"]):
        w.anonymous.post(TOKENS, login("wrong"), format="json")
    response = w.anonymous.post(TOKENS, login("alice-pass"), format="json")
    cache.clear()  # the lockout must not outlive this scenario
    return response


#: (operationId, code) → how to get that answer.
SCENARIOS = {
    ("computeVersions", 200): lambda w: w.anonymous.get("/", HTTP_ACCEPT="application/json"),
    ("computeVersions", 302): lambda w: w.anonymous.get("/", HTTP_ACCEPT="text/html"),
    ("computeVersionV21", 200): lambda w: w.anonymous.get("/v2.1/"),
    ("computeVersionV20", 200): lambda w: w.anonymous.get("/v2/"),
    ("identityVersions", 300): lambda w: w.anonymous.get("/identity/"),
    ("identityV3", 200): lambda w: w.anonymous.get("/identity/v3/"),
    ("imageVersions", 300): lambda w: w.anonymous.get("/image/"),
    ("tokenIssue", 201): lambda w: w.anonymous.post(TOKENS, login("alice-pass"), format="json"),
    ("tokenIssue", 400): lambda w: w.anonymous.post(TOKENS, {}, format="json"),
    ("tokenIssue", 401): lambda w: w.anonymous.post(TOKENS, login("wrong"), format="json"),
    ("tokenIssue", 415): lambda w: w.anonymous.post(TOKENS, "x", content_type="text/plain"),
    ("tokenIssue", 429): locked_out,
    ("tokenValidate", 200): lambda w: w.anonymous.get(
        TOKENS, HTTP_X_AUTH_TOKEN=w.token, HTTP_X_SUBJECT_TOKEN=w.token
    ),
    ("tokenValidate", 401): lambda w: w.anonymous.get(TOKENS, HTTP_X_SUBJECT_TOKEN=w.token),
    ("tokenValidate", 403): lambda w: w.anonymous.get(
        TOKENS,
        HTTP_X_AUTH_TOKEN=w.token,
        HTTP_X_SUBJECT_TOKEN=w.admin._credentials["HTTP_X_AUTH_TOKEN"],
    ),
    ("tokenValidate", 404): lambda w: w.anonymous.get(
        TOKENS, HTTP_X_AUTH_TOKEN=w.token, HTTP_X_SUBJECT_TOKEN="gone"
    ),
    ("tokenRevoke", 401): lambda w: w.anonymous.delete(TOKENS, HTTP_X_SUBJECT_TOKEN=w.token),
    ("tokenRevoke", 403): lambda w: w.anonymous.delete(
        TOKENS,
        HTTP_X_AUTH_TOKEN=w.token,
        HTTP_X_SUBJECT_TOKEN=w.admin._credentials["HTTP_X_AUTH_TOKEN"],
    ),
    ("tokenRevoke", 404): lambda w: w.anonymous.delete(
        TOKENS, HTTP_X_AUTH_TOKEN=w.token, HTTP_X_SUBJECT_TOKEN="gone"
    ),
    ("tokenRevoke", 204): lambda w: w.anonymous.delete(
        TOKENS,
        HTTP_X_AUTH_TOKEN=w.token,
        HTTP_X_SUBJECT_TOKEN=issue_token("alice", "alice-pass", "demo"),
    ),
    ("glanceImageList", 200): lambda w: w.alice.get("/image/v2/images"),
    ("glanceImageList", 400): lambda w: w.alice.get("/image/v2/images?marker=nope"),
    ("glanceImageList", 401): lambda w: w.anonymous.get("/image/v2/images"),
    ("glanceImageShow", 200): lambda w: w.alice.get(f"/image/v2/images/{CIRROS}"),
    ("glanceImageShow", 401): lambda w: w.anonymous.get(f"/image/v2/images/{CIRROS}"),
    ("glanceImageShow", 404): lambda w: w.alice.get("/image/v2/images/nope"),
    ("serverList", 200): lambda w: w.alice.get("/v2.1/servers"),
    ("serverList", 403): lambda w: w.alice.get("/v2.1/servers?all_tenants=1"),
    ("serverListDetail", 200): lambda w: w.alice.get("/v2.1/servers/detail"),
    ("serverListDetail", 403): lambda w: w.alice.get("/v2.1/servers/detail?status=DELETED"),
    ("serverCreate", 202): lambda w: w.alice.post("/v2.1/servers", NEW_SERVER, format="json"),
    ("serverCreate", 403): lambda w: w.alice.post(
        "/v2.1/servers", with_host(NEW_SERVER), format="json"
    ),
    ("serverCreate", 415): lambda w: w.alice.post("/v2.1/servers", "x", content_type="text/plain"),
    ("serverShow", 200): lambda w: w.alice.get(f"/v2.1/servers/{w.server}"),
    ("serverShow", 404): lambda w: w.alice.get("/v2.1/servers/nope"),
    ("serverUpdate", 200): lambda w: w.alice.put(
        f"/v2.1/servers/{w.server}", {"server": {"name": "m"}}, format="json"
    ),
    ("serverUpdate", 404): lambda w: w.alice.put(
        "/v2.1/servers/nope", {"server": {"name": "m"}}, format="json"
    ),
    ("serverUpdate", 415): lambda w: w.alice.put(
        f"/v2.1/servers/{w.server}", "x", content_type="text/plain"
    ),
    ("serverUpdate", 403): lambda w: csrf_refused(w, "put"),
    ("serverDelete", 403): lambda w: csrf_refused(w, "delete"),
    ("serverDelete", 404): lambda w: w.alice.delete("/v2.1/servers/nope"),
    ("serverDelete", 409): lambda w: (
        w.alice.post(fill(ACTION, w), {"lock": None}, format="json"),
        w.alice.delete(f"/v2.1/servers/{w.server}"),
    )[1],
    ("serverDelete", 204): lambda w: w.admin.delete(f"/v2.1/servers/{w.server}"),
    ("serverAction", 200): lambda w: w.alice.post(fill(ACTION, w), {"rescue": None}, format="json"),
    ("serverAction", 202): lambda w: w.alice.post(fill(ACTION, w), {"lock": None}, format="json"),
    ("serverAction", 204): lambda w: w.alice.post(
        f"/v2.1/servers/{w.resized}/action", {"confirmResize": None}, format="json"
    ),
    ("serverAction", 403): lambda w: w.alice.post(
        fill(ACTION, w), {"os-resetState": {"state": "error"}}, format="json"
    ),
    ("serverAction", 404): lambda w: w.alice.post(
        "/v2.1/servers/nope/action", {"os-stop": None}, format="json"
    ),
    ("serverAction", 409): lambda w: w.alice.post(
        fill(ACTION, w), {"os-start": None}, format="json"
    ),
    ("serverAction", 415): lambda w: w.alice.post(fill(ACTION, w), "x", content_type="text/plain"),
    ("instanceActionList", 200): lambda w: w.alice.get(
        f"/v2.1/servers/{w.server}/os-instance-actions"
    ),
    ("instanceActionList", 404): lambda w: w.alice.get("/v2.1/servers/nope/os-instance-actions"),
    ("instanceActionShow", 200): lambda w: w.alice.get(
        f"/v2.1/servers/{w.server}/os-instance-actions/{w.request_id}"
    ),
    ("instanceActionShow", 404): lambda w: w.alice.get(
        f"/v2.1/servers/{w.server}/os-instance-actions/nope"
    ),
    ("serviceList", 200): lambda w: w.admin.get("/v2.1/os-services"),
    ("serviceList", 403): lambda w: w.alice.get("/v2.1/os-services"),
    ("serviceUpdate", 200): lambda w: w.admin.put(
        f"/v2.1/os-services/{w.host}", {"status": "enabled"}, format="json"
    ),
    ("serviceUpdate", 403): lambda w: w.alice.put(
        f"/v2.1/os-services/{w.host}", {"status": "enabled"}, format="json"
    ),
    ("serviceUpdate", 404): lambda w: w.admin.put(
        f"/v2.1/os-services/{MISSING}", {"status": "enabled"}, format="json"
    ),
    ("serviceUpdate", 415): lambda w: w.admin.put(
        f"/v2.1/os-services/{w.host}", "x", content_type="text/plain"
    ),
    ("flavorList", 200): lambda w: w.alice.get("/v2.1/flavors"),
    ("flavorListDetail", 200): lambda w: w.alice.get("/v2.1/flavors/detail"),
    ("flavorShow", 200): lambda w: w.alice.get("/v2.1/flavors/1"),
    ("flavorShow", 404): lambda w: w.alice.get("/v2.1/flavors/nope"),
    ("flavorCreate", 200): lambda w: w.admin.post("/v2.1/flavors", NEW_FLAVOR, format="json"),
    ("flavorCreate", 403): lambda w: w.alice.post("/v2.1/flavors", NEW_FLAVOR, format="json"),
    ("flavorCreate", 409): lambda w: w.admin.post(
        "/v2.1/flavors", {"flavor": {**NEW_FLAVOR["flavor"], "name": "m1.tiny"}}, format="json"
    ),
    ("flavorCreate", 415): lambda w: w.admin.post("/v2.1/flavors", "x", content_type="text/plain"),
    ("flavorUpdate", 200): lambda w: w.admin.put(
        "/v2.1/flavors/9", {"flavor": {"description": "d"}}, format="json"
    ),
    ("flavorUpdate", 403): lambda w: w.alice.put(
        "/v2.1/flavors/9", {"flavor": {"description": "d"}}, format="json"
    ),
    ("flavorUpdate", 404): lambda w: w.admin.put(
        "/v2.1/flavors/nope", {"flavor": {"description": "d"}}, format="json"
    ),
    ("flavorUpdate", 415): lambda w: w.admin.put("/v2.1/flavors/9", "x", content_type="text/plain"),
    ("flavorDelete", 403): lambda w: w.alice.delete("/v2.1/flavors/9"),
    ("flavorDelete", 404): lambda w: w.admin.delete("/v2.1/flavors/nope"),
    ("flavorDelete", 409): lambda w: w.admin.delete("/v2.1/flavors/1"),
    ("flavorDelete", 202): lambda w: w.admin.delete("/v2.1/flavors/9"),
    ("novaImageList", 200): lambda w: w.alice.get("/v2.1/images", **at("2.35")),
    ("novaImageList", 404): lambda w: w.alice.get("/v2.1/images"),
    ("novaImageListDetail", 200): lambda w: w.alice.get("/v2.1/images/detail", **at("2.35")),
    ("novaImageListDetail", 404): lambda w: w.alice.get("/v2.1/images/detail"),
    ("novaImageShow", 200): lambda w: w.alice.get(f"/v2.1/images/{CIRROS}", **at("2.35")),
    ("novaImageShow", 404): lambda w: w.alice.get(f"/v2.1/images/{CIRROS}"),
}


def csrf_refused(w: SimpleNamespace, method: str):
    from django.contrib.auth.models import User

    browser = DocumentedClient(enforce_csrf_checks=True)
    browser.force_login(User.objects.get(username="alice"))
    return call(browser, method.upper(), f"/v2.1/servers/{w.server}", {"server": {"name": "b"}})


OLD = at("2.1")
KEY = "/v2.1/os-keypairs"
ADMIN_ONLY = (
    ("hypervisorList", "/v2.1/os-hypervisors"),
    ("hypervisorListDetail", "/v2.1/os-hypervisors/detail"),
    ("hypervisorStatistics", "/v2.1/os-hypervisors/statistics"),
    ("hostList", "/v2.1/os-hosts"),
    ("availabilityZoneDetail", "/v2.1/os-availability-zone/detail"),
    ("tenantUsageList", "/v2.1/os-simple-tenant-usage"),
    ("auditLogList", "/v2.1/os-instance_usage_audit_log"),
    ("quotaClassShow", "/v2.1/os-quota-class-sets/default"),
)


def _get(who: str, path: str):
    return lambda w: getattr(w, who).get(path, **OLD)


def _project(w: SimpleNamespace) -> str:
    from compute.models import Project

    return Project.objects.get(name="demo").pk


def _hv(w: SimpleNamespace, tail: str = "") -> str:
    from compute.models import Host

    return f"/v2.1/os-hypervisors/{Host.objects.get(uuid=w.host).pk}{tail}"


def _keypair(w: SimpleNamespace, name: str):
    return w.alice.post(KEY, {"keypair": {"name": name}}, format="json", **at("2.1"))


SPECS = "/v2.1/flavors/9/os-extra_specs"
META = {"metadata": {"k": "v"}}
TOO_MANY = {"metadata": {f"k{n}": "v" for n in range(200)}}


def _meta(w: SimpleNamespace) -> str:
    return f"/v2.1/servers/{w.meta_server}/metadata"


def _tags(w: SimpleNamespace) -> str:
    return f"/v2.1/servers/{w.server}/tags"


def _delete_meta_of_resized(w: SimpleNamespace):
    Instance.objects.filter(uuid=w.building).update(metadata={"k": "v"})
    return w.alice.delete(f"/v2.1/servers/{w.building}/metadata/k")


V235 = at("2.35")
GONE = "3a4c5a2e-0c5e-4c1e-9a55-00000000dead"


def _image(w: SimpleNamespace) -> str:
    return w.alice.post("/image/v2/images", {"name": "mine"}, format="json").json()["id"]


def _big(method: str, tail: str):
    return lambda w: getattr(w.admin, method)(
        _imeta(w) + tail, {"pad": "x" * 120_000}, format="json", **V235
    )


def _imeta(w: SimpleNamespace) -> str:
    return f"/v2.1/images/{w.own_image}/metadata"


AGG = "/v2.1/os-aggregates"


def _agg_post(w: SimpleNamespace, name: str):
    return w.admin.post(AGG, {"aggregate": {"name": name}}, format="json")


def _agg(w: SimpleNamespace, name: str) -> int:
    return _agg_post(w, name).json()["aggregate"]["id"]


def _twice_added(w: SimpleNamespace):
    url = f"{AGG}/{_agg(w, 'a10')}/action"
    w.admin.post(url, {"add_host": {"host": "node1"}}, format="json")
    return w.admin.post(url, {"add_host": {"host": "node1"}}, format="json")


ID3 = "/identity/v3"


def _id_project(w: SimpleNamespace, name: str) -> str:
    body = {"project": {"name": name, "domain_id": "default"}}
    return w.admin.post(f"{ID3}/projects", body, format="json").json()["project"]["id"]


def _id_user(w: SimpleNamespace, name: str) -> str:
    body = {"user": {"name": name, "password": "pw", "domain_id": "default"}}
    return w.admin.post(f"{ID3}/users", body, format="json").json()["user"]["id"]


def _member_role(w: SimpleNamespace) -> str:
    roles = w.admin.get(f"{ID3}/roles?name=member").json()["roles"]
    return roles[0]["id"]


def _grant(w: SimpleNamespace, tag: str) -> str:
    project, user = _id_project(w, f"p-{tag}"), _id_user(w, f"u-{tag}")
    return f"{ID3}/projects/{project}/users/{user}/roles/{_member_role(w)}"


def _identity_scenarios() -> dict:
    lists = {
        "identityDomainList": "domains",
        "identityProjectList": "projects",
        "identityUserList": "users",
        "identityRoleList": "roles",
    }
    out = {}
    for op, kind in lists.items():
        out[(op, 200)] = _get_plain("admin", f"{ID3}/{kind}")
        out[(op, 403)] = _get_plain("alice", f"{ID3}/{kind}")
    out.update(
        {
            ("identityDomainShow", 200): _get_plain("admin", f"{ID3}/domains/default"),
            ("identityDomainShow", 403): _get_plain("alice", f"{ID3}/domains/default"),
            ("identityDomainShow", 404): _get_plain("admin", f"{ID3}/domains/other"),
            ("identityProjectCreate", 201): lambda w: w.admin.post(
                f"{ID3}/projects", {"project": {"name": "idp1"}}, format="json"
            ),
            ("identityProjectCreate", 400): lambda w: w.admin.post(
                f"{ID3}/projects", {"project": {}}, format="json"
            ),
            ("identityProjectCreate", 403): lambda w: w.alice.post(
                f"{ID3}/projects", {"project": {"name": "idp2"}}, format="json"
            ),
            ("identityProjectCreate", 409): lambda w: w.admin.post(
                f"{ID3}/projects", {"project": {"name": "demo"}}, format="json"
            ),
            ("identityProjectShow", 200): lambda w: w.admin.get(
                f"{ID3}/projects/{_id_project(w, 'idp3')}"
            ),
            ("identityProjectShow", 403): _get_plain("alice", f"{ID3}/projects/x"),
            ("identityProjectShow", 404): _get_plain("admin", f"{ID3}/projects/x"),
            ("identityProjectDelete", 204): lambda w: w.admin.delete(
                f"{ID3}/projects/{_id_project(w, 'idp4')}"
            ),
            ("identityProjectDelete", 403): lambda w: w.alice.delete(f"{ID3}/projects/x"),
            ("identityProjectDelete", 404): lambda w: w.admin.delete(f"{ID3}/projects/x"),
            ("identityUserCreate", 201): lambda w: w.admin.post(
                f"{ID3}/users", {"user": {"name": "idu1"}}, format="json"
            ),
            ("identityUserCreate", 400): lambda w: w.admin.post(
                f"{ID3}/users", {"user": {}}, format="json"
            ),
            ("identityUserCreate", 403): lambda w: w.alice.post(
                f"{ID3}/users", {"user": {"name": "idu2"}}, format="json"
            ),
            ("identityUserCreate", 409): lambda w: w.admin.post(
                f"{ID3}/users", {"user": {"name": "alice"}}, format="json"
            ),
            ("identityUserShow", 200): lambda w: w.admin.get(f"{ID3}/users/{_id_user(w, 'idu3')}"),
            ("identityUserShow", 403): _get_plain("alice", f"{ID3}/users/1"),
            ("identityUserShow", 404): _get_plain("admin", f"{ID3}/users/99999"),
            ("identityUserDelete", 204): lambda w: w.admin.delete(
                f"{ID3}/users/{_id_user(w, 'idu4')}"
            ),
            ("identityUserDelete", 403): lambda w: w.alice.delete(f"{ID3}/users/1"),
            ("identityUserDelete", 404): lambda w: w.admin.delete(f"{ID3}/users/99999"),
            ("identityRoleGrant", 204): lambda w: w.admin.put(_grant(w, "g1")),
            ("identityRoleGrant", 403): lambda w: w.alice.put(f"{ID3}/projects/x/users/1/roles/r"),
            ("identityRoleGrant", 404): lambda w: w.admin.put(f"{ID3}/projects/x/users/1/roles/r"),
            ("identityRoleCheck", 204): lambda w: (
                w.admin.put(url := _grant(w, "g2")),
                w.admin.get(url),
            )[1],
            ("identityRoleCheck", 403): lambda w: w.alice.get(f"{ID3}/projects/x/users/1/roles/r"),
            ("identityRoleCheck", 404): lambda w: w.admin.get(_grant(w, "g3")),
            ("identityRoleRevoke", 204): lambda w: w.admin.delete(_grant(w, "g4")),
            ("identityRoleRevoke", 403): lambda w: w.alice.delete(
                f"{ID3}/projects/x/users/1/roles/r"
            ),
            ("identityRoleRevoke", 404): lambda w: w.admin.delete(
                f"{ID3}/projects/x/users/1/roles/r"
            ),
        }
    )
    return out


def _get_plain(who: str, path: str):
    return lambda w: getattr(w, who).get(path)


ADD_ACCESS = {"addTenantAccess": {"tenant": "someone"}}


def _private(w: SimpleNamespace) -> str:
    body = {"flavor": {"name": f"private-{Flavor.objects.count()}", "ram": 64, "vcpus": 1,
                       "disk": 1, "os-flavor-access:is_public": False}}  # fmt: skip
    return w.admin.post("/v2.1/flavors", body, format="json").json()["flavor"]["id"]


def _group(w: SimpleNamespace) -> str:
    body = {"server_group": {"name": "g", "policy": "anti-affinity"}}
    return w.alice.post("/v2.1/os-server-groups", body, format="json").json()["server_group"]["id"]


NEW_SCENARIOS = {
    **{(op, 200): _get("admin", path) for op, path in ADMIN_ONLY},
    **{(op, 403): _get("alice", path) for op, path in ADMIN_ONLY},
    ("hypervisorList", 404): lambda w: w.admin.get(
        "/v2.1/os-hypervisors?hypervisor_hostname_pattern=nothing"
    ),
    ("hypervisorListDetail", 404): lambda w: w.admin.get(
        "/v2.1/os-hypervisors/detail?hypervisor_hostname_pattern=nothing"
    ),
    ("hypervisorStatistics", 404): lambda w: w.admin.get("/v2.1/os-hypervisors/statistics"),
    ("hypervisorShow", 200): lambda w: w.admin.get(_hv(w), **OLD),
    ("hypervisorShow", 403): lambda w: w.alice.get(_hv(w), **OLD),
    ("hypervisorShow", 404): lambda w: w.admin.get("/v2.1/os-hypervisors/999", **OLD),
    ("hypervisorUptime", 200): lambda w: w.admin.get(_hv(w, "/uptime"), **OLD),
    ("hypervisorUptime", 403): lambda w: w.alice.get(_hv(w, "/uptime"), **OLD),
    ("hypervisorUptime", 404): lambda w: w.admin.get("/v2.1/os-hypervisors/999/uptime", **OLD),
    ("hypervisorSearch", 200): lambda w: w.admin.get("/v2.1/os-hypervisors/node/search", **OLD),
    ("hypervisorSearch", 403): lambda w: w.alice.get("/v2.1/os-hypervisors/node/search", **OLD),
    ("hypervisorSearch", 404): lambda w: w.admin.get("/v2.1/os-hypervisors/zz/search", **OLD),
    ("hypervisorServers", 200): lambda w: w.admin.get("/v2.1/os-hypervisors/node/servers", **OLD),
    ("hypervisorServers", 403): lambda w: w.alice.get("/v2.1/os-hypervisors/node/servers", **OLD),
    ("hypervisorServers", 404): lambda w: w.admin.get("/v2.1/os-hypervisors/zz/servers", **OLD),
    ("hostList", 404): lambda w: w.admin.get("/v2.1/os-hosts"),
    ("hostShow", 200): lambda w: w.admin.get("/v2.1/os-hosts/node1", **OLD),
    ("hostShow", 403): lambda w: w.alice.get("/v2.1/os-hosts/node1", **OLD),
    ("hostShow", 404): lambda w: w.admin.get("/v2.1/os-hosts/nowhere", **OLD),
    ("hostUpdate", 200): lambda w: w.admin.put(
        "/v2.1/os-hosts/node1", {"status": "enable"}, format="json", **OLD
    ),
    ("hostUpdate", 403): lambda w: w.alice.put(
        "/v2.1/os-hosts/node1", {"status": "enable"}, format="json", **OLD
    ),
    ("hostUpdate", 404): lambda w: w.admin.put(
        "/v2.1/os-hosts/nowhere", {"status": "enable"}, format="json", **OLD
    ),
    ("hostUpdate", 415): lambda w: w.admin.put(
        "/v2.1/os-hosts/node1", "x", content_type="text/plain", **OLD
    ),
    ("hostUpdate", 413): lambda w: w.admin.put(
        "/v2.1/os-hosts/node1", {"pad": "x" * 120_000}, format="json", **OLD
    ),
    ("hostPowerAction", 200): lambda w: None,
    ("hostPowerAction", 403): lambda w: w.alice.get("/v2.1/os-hosts/node1/reboot", **OLD),
    ("hostPowerAction", 404): lambda w: w.admin.get("/v2.1/os-hosts/nowhere/reboot", **OLD),
    ("availabilityZoneList", 200): lambda w: w.alice.get("/v2.1/os-availability-zone"),
    ("availabilityZoneList", 403): lambda w: None,
    ("limitsShow", 200): lambda w: w.alice.get("/v2.1/limits"),
    ("limitsShow", 403): lambda w: w.alice.get("/v2.1/limits?tenant_id=other"),
    ("extensionList", 200): lambda w: w.alice.get("/v2.1/extensions"),
    ("extensionShow", 200): lambda w: w.alice.get("/v2.1/extensions/OS-DCF"),
    ("extensionShow", 404): lambda w: w.alice.get("/v2.1/extensions/nope"),
    ("auditLogShow", 200): lambda w: w.admin.get(
        "/v2.1/os-instance_usage_audit_log/2026-01-02%2003:04:05"
    ),
    ("auditLogShow", 403): lambda w: w.alice.get(
        "/v2.1/os-instance_usage_audit_log/2026-01-02%2003:04:05"
    ),
    ("tenantUsageShow", 200): lambda w: w.alice.get(f"/v2.1/os-simple-tenant-usage/{_project(w)}"),
    ("tenantUsageShow", 403): lambda w: w.alice.get("/v2.1/os-simple-tenant-usage/other"),
    ("tenantUsageShow", 404): lambda w: None,
    ("quotaSetShow", 200): lambda w: w.alice.get(f"/v2.1/os-quota-sets/{_project(w)}"),
    ("quotaSetShow", 403): lambda w: w.alice.get("/v2.1/os-quota-sets/other"),
    ("quotaSetDetail", 200): lambda w: w.alice.get(f"/v2.1/os-quota-sets/{_project(w)}/detail"),
    ("quotaSetDetail", 403): lambda w: w.alice.get("/v2.1/os-quota-sets/other/detail"),
    ("quotaSetDefaults", 200): lambda w: w.alice.get("/v2.1/os-quota-sets/any/defaults"),
    ("quotaSetUpdate", 200): lambda w: w.admin.put(
        f"/v2.1/os-quota-sets/{_project(w)}", {"quota_set": {"cores": 30}}, format="json"
    ),
    ("quotaSetUpdate", 403): lambda w: w.alice.put(
        f"/v2.1/os-quota-sets/{_project(w)}", {"quota_set": {"cores": 30}}, format="json"
    ),
    ("quotaSetUpdate", 415): lambda w: w.admin.put(
        "/v2.1/os-quota-sets/x", "x", content_type="text/plain"
    ),
    ("quotaSetDelete", 202): lambda w: w.admin.delete(f"/v2.1/os-quota-sets/{_project(w)}"),
    ("quotaSetDelete", 403): lambda w: w.alice.delete(f"/v2.1/os-quota-sets/{_project(w)}"),
    ("quotaClassUpdate", 200): lambda w: w.admin.put(
        "/v2.1/os-quota-class-sets/default", {"quota_class_set": {"cores": 30}}, format="json"
    ),
    ("quotaClassUpdate", 403): lambda w: w.alice.put(
        "/v2.1/os-quota-class-sets/default", {"quota_class_set": {"cores": 30}}, format="json"
    ),
    ("quotaClassUpdate", 415): lambda w: w.admin.put(
        "/v2.1/os-quota-class-sets/default", "x", content_type="text/plain"
    ),
    ("keypairList", 200): lambda w: w.alice.get(KEY),
    ("keypairList", 403): lambda w: w.alice.get(KEY + "?user_id=someone"),
    ("keypairCreate", 200): lambda w: _keypair(w, "k200"),
    ("keypairCreate", 201): lambda w: w.alice.post(
        KEY, {"keypair": {"name": "k201"}}, format="json"
    ),
    ("keypairCreate", 403): lambda w: w.alice.post(
        KEY, {"keypair": {"name": "k", "user_id": "someone"}}, format="json"
    ),
    ("keypairCreate", 409): lambda w: (_keypair(w, "twice"), _keypair(w, "twice"))[1],
    ("keypairCreate", 415): lambda w: w.alice.post(KEY, "x", content_type="text/plain"),
    ("keypairShow", 200): lambda w: (_keypair(w, "shown"), w.alice.get(KEY + "/shown"))[1],
    ("keypairShow", 403): lambda w: w.alice.get(KEY + "/x?user_id=someone"),
    ("keypairShow", 404): lambda w: w.alice.get(KEY + "/nope"),
    ("keypairDelete", 202): lambda w: (_keypair(w, "d1"), w.alice.delete(KEY + "/d1", **OLD))[1],
    ("keypairDelete", 204): lambda w: (_keypair(w, "d2"), w.alice.delete(KEY + "/d2"))[1],
    ("keypairDelete", 403): lambda w: w.alice.delete(KEY + "/x?user_id=someone"),
    ("keypairDelete", 404): lambda w: w.alice.delete(KEY + "/nope"),
    ("serverGroupList", 200): lambda w: w.alice.get("/v2.1/os-server-groups"),
    ("serverGroupList", 403): lambda w: None,
    ("serverGroupCreate", 200): lambda w: w.alice.post(
        "/v2.1/os-server-groups",
        {"server_group": {"name": "g", "policy": "affinity"}},
        format="json",
    ),
    ("serverGroupCreate", 403): lambda w: (
        w.admin.put(
            f"/v2.1/os-quota-sets/{_project(w)}",
            {"quota_set": {"server_groups": 0, "force": True}},
            format="json",
        ),
        w.alice.post(
            "/v2.1/os-server-groups",
            {"server_group": {"name": "g", "policy": "affinity"}},
            format="json",
        ),
        w.admin.delete(f"/v2.1/os-quota-sets/{_project(w)}"),
    )[1],
    ("serverGroupCreate", 415): lambda w: w.alice.post(
        "/v2.1/os-server-groups", "x", content_type="text/plain"
    ),
    ("serverGroupShow", 200): lambda w: w.alice.get(f"/v2.1/os-server-groups/{_group(w)}"),
    ("serverGroupShow", 404): lambda w: w.alice.get(f"/v2.1/os-server-groups/{MISSING}"),
    ("serverGroupDelete", 204): lambda w: w.alice.delete(f"/v2.1/os-server-groups/{_group(w)}"),
    ("serverGroupDelete", 404): lambda w: w.alice.delete(f"/v2.1/os-server-groups/{MISSING}"),
    ("flavorExtraSpecsList", 200): lambda w: w.alice.get(SPECS),
    ("flavorExtraSpecsList", 404): lambda w: w.alice.get("/v2.1/flavors/nope/os-extra_specs"),
    ("flavorExtraSpecsCreate", 200): lambda w: w.admin.post(
        SPECS, {"extra_specs": {"a": "1"}}, format="json"
    ),
    ("flavorExtraSpecsCreate", 403): lambda w: w.alice.post(
        SPECS, {"extra_specs": {"a": "1"}}, format="json"
    ),
    ("flavorExtraSpecsCreate", 404): lambda w: w.admin.post(
        "/v2.1/flavors/nope/os-extra_specs", {"extra_specs": {"a": "1"}}, format="json"
    ),
    ("flavorExtraSpecsCreate", 415): lambda w: w.admin.post(SPECS, "x", content_type="text/plain"),
    ("flavorExtraSpecShow", 200): lambda w: (
        w.admin.post(SPECS, {"extra_specs": {"b": "1"}}, format="json"),
        w.alice.get(SPECS + "/b"),
    )[1],
    ("flavorExtraSpecShow", 404): lambda w: w.alice.get(SPECS + "/nope"),
    ("flavorExtraSpecSet", 200): lambda w: w.admin.put(SPECS + "/c", {"c": "2"}, format="json"),
    ("flavorExtraSpecSet", 403): lambda w: w.alice.put(SPECS + "/c", {"c": "2"}, format="json"),
    ("flavorExtraSpecSet", 404): lambda w: w.admin.put(
        "/v2.1/flavors/nope/os-extra_specs/c", {"c": "2"}, format="json"
    ),
    ("flavorExtraSpecSet", 415): lambda w: w.admin.put(
        SPECS + "/c", "x", content_type="text/plain"
    ),
    ("flavorExtraSpecDelete", 200): lambda w: (
        w.admin.put(SPECS + "/d", {"d": "2"}, format="json"),
        w.admin.delete(SPECS + "/d"),
    )[1],
    ("flavorExtraSpecDelete", 403): lambda w: w.alice.delete(SPECS + "/d"),
    ("flavorExtraSpecDelete", 404): lambda w: w.admin.delete(SPECS + "/nope"),
    ("serverMetadataList", 200): lambda w: w.alice.get(_meta(w)),
    ("serverMetadataList", 404): lambda w: w.alice.get(f"/v2.1/servers/{MISSING}/metadata"),
    ("serverMetadataMerge", 200): lambda w: w.alice.post(_meta(w), META, format="json"),
    ("serverMetadataMerge", 403): lambda w: w.alice.post(_meta(w), TOO_MANY, format="json"),
    ("serverMetadataMerge", 404): lambda w: w.alice.post(
        f"/v2.1/servers/{MISSING}/metadata", META, format="json"
    ),
    ("serverMetadataMerge", 409): lambda w: w.alice.post(
        f"/v2.1/servers/{w.building}/metadata", META, format="json"
    ),
    ("serverMetadataMerge", 415): lambda w: w.alice.post(_meta(w), "x", content_type="text/plain"),
    ("serverMetadataReplace", 200): lambda w: w.alice.put(_meta(w), META, format="json"),
    ("serverMetadataReplace", 403): lambda w: w.alice.put(_meta(w), TOO_MANY, format="json"),
    ("serverMetadataReplace", 404): lambda w: w.alice.put(
        f"/v2.1/servers/{MISSING}/metadata", META, format="json"
    ),
    ("serverMetadataReplace", 409): lambda w: w.alice.put(
        f"/v2.1/servers/{w.building}/metadata", META, format="json"
    ),
    ("serverMetadataReplace", 415): lambda w: w.alice.put(_meta(w), "x", content_type="text/plain"),
    ("serverMetadataShow", 200): lambda w: (
        w.alice.post(_meta(w), META, format="json"),
        w.alice.get(_meta(w) + "/k"),
    )[1],
    ("serverMetadataShow", 404): lambda w: w.alice.get(_meta(w) + "/nope"),
    ("serverMetadataSet", 200): lambda w: w.alice.put(
        _meta(w) + "/k", {"meta": {"k": "w"}}, format="json"
    ),
    ("serverMetadataSet", 403): lambda w: (
        w.admin.put(
            f"/v2.1/os-quota-sets/{_project(w)}",
            {"quota_set": {"metadata_items": 0}},
            format="json",
        ),
        w.alice.put(_meta(w) + "/k", {"meta": {"k": "w"}}, format="json"),
        w.admin.delete(f"/v2.1/os-quota-sets/{_project(w)}"),
    )[1],
    ("serverMetadataSet", 404): lambda w: w.alice.put(
        f"/v2.1/servers/{MISSING}/metadata/k", {"meta": {"k": "w"}}, format="json"
    ),
    ("serverMetadataSet", 409): lambda w: w.alice.put(
        f"/v2.1/servers/{w.building}/metadata/k", {"meta": {"k": "w"}}, format="json"
    ),
    ("serverMetadataSet", 415): lambda w: w.alice.put(
        _meta(w) + "/k", "x", content_type="text/plain"
    ),
    ("serverMetadataDelete", 204): lambda w: (
        w.alice.post(_meta(w), {"metadata": {"gone": "1"}}, format="json"),
        w.alice.delete(_meta(w) + "/gone"),
    )[1],
    ("serverMetadataDelete", 404): lambda w: w.alice.delete(_meta(w) + "/nope"),
    ("serverMetadataDelete", 409): lambda w: _delete_meta_of_resized(w),
    ("serverTagList", 200): lambda w: w.alice.get(_tags(w)),
    ("serverTagList", 404): lambda w: w.alice.get(_tags(w), **at("2.25")),
    ("serverTagReplace", 200): lambda w: w.alice.put(_tags(w), {"tags": ["a"]}, format="json"),
    ("serverTagReplace", 404): lambda w: w.alice.put(
        f"/v2.1/servers/{MISSING}/tags", {"tags": ["a"]}, format="json"
    ),
    ("serverTagReplace", 409): lambda w: w.alice.put(
        f"/v2.1/servers/{w.building}/tags", {"tags": ["a"]}, format="json"
    ),
    ("serverTagReplace", 415): lambda w: w.alice.put(_tags(w), "x", content_type="text/plain"),
    ("serverTagDeleteAll", 204): lambda w: w.alice.delete(_tags(w)),
    ("serverTagDeleteAll", 404): lambda w: w.alice.delete(f"/v2.1/servers/{MISSING}/tags"),
    ("serverTagDeleteAll", 409): lambda w: w.alice.delete(f"/v2.1/servers/{w.building}/tags"),
    ("serverTagCheck", 204): lambda w: (
        w.alice.put(_tags(w) + "/t1"),
        w.alice.get(_tags(w) + "/t1"),
    )[1],
    ("serverTagCheck", 404): lambda w: w.alice.get(_tags(w) + "/nope"),
    ("serverTagAdd", 201): lambda w: w.alice.put(_tags(w) + "/t2"),
    ("serverTagAdd", 204): lambda w: (w.alice.put(_tags(w) + "/t3"), w.alice.put(_tags(w) + "/t3"))[
        1
    ],
    ("serverTagAdd", 404): lambda w: w.alice.put(f"/v2.1/servers/{MISSING}/tags/t"),
    ("serverTagAdd", 409): lambda w: w.alice.put(f"/v2.1/servers/{w.building}/tags/t"),
    ("serverTagDelete", 204): lambda w: (
        w.alice.put(_tags(w) + "/t4"),
        w.alice.delete(_tags(w) + "/t4"),
    )[1],
    ("serverTagDelete", 404): lambda w: w.alice.delete(_tags(w) + "/nope"),
    ("serverTagDelete", 409): lambda w: w.alice.delete(f"/v2.1/servers/{w.building}/tags/t"),
    ("novaImageDelete", 204): lambda w: w.alice.delete(f"/v2.1/images/{_image(w)}", **V235),
    ("novaImageDelete", 403): lambda w: w.alice.delete(f"/v2.1/images/{CIRROS}", **V235),
    ("novaImageMetadataList", 200): lambda w: w.alice.get(_imeta(w), **V235),
    ("novaImageMetadataList", 404): lambda w: w.alice.get(_imeta(w)),
    ("novaImageMetadataMerge", 200): lambda w: w.alice.post(_imeta(w), META, format="json", **V235),
    ("novaImageMetadataMerge", 403): lambda w: w.alice.post(
        f"/v2.1/images/{CIRROS}/metadata", META, format="json", **V235
    ),
    ("novaImageMetadataMerge", 404): lambda w: w.alice.post(_imeta(w), META, format="json"),
    ("novaImageMetadataMerge", 415): lambda w: w.alice.post(
        _imeta(w), "x", content_type="text/plain", **V235
    ),
    ("novaImageMetadataReplace", 200): lambda w: w.alice.put(
        _imeta(w), META, format="json", **V235
    ),
    ("novaImageMetadataReplace", 403): lambda w: w.alice.put(
        _imeta(w), TOO_MANY, format="json", **V235
    ),
    ("novaImageMetadataReplace", 404): lambda w: w.alice.put(_imeta(w), META, format="json"),
    ("novaImageMetadataReplace", 415): lambda w: w.alice.put(
        _imeta(w), "x", content_type="text/plain", **V235
    ),
    ("novaImageMetadataShow", 200): lambda w: (
        w.alice.post(_imeta(w), META, format="json", **V235),
        w.alice.get(_imeta(w) + "/k", **V235),
    )[1],
    ("novaImageMetadataShow", 404): lambda w: w.alice.get(_imeta(w) + "/nope", **V235),
    ("novaImageMetadataSet", 200): lambda w: w.alice.put(
        _imeta(w) + "/k", {"meta": {"k": "x"}}, format="json", **V235
    ),
    ("novaImageMetadataSet", 403): lambda w: w.alice.put(
        f"/v2.1/images/{CIRROS}/metadata/k", {"meta": {"k": "x"}}, format="json", **V235
    ),
    ("novaImageMetadataSet", 404): lambda w: w.alice.put(
        f"/v2.1/images/{GONE}/metadata/k", {"meta": {"k": "x"}}, format="json", **V235
    ),
    ("novaImageMetadataSet", 415): lambda w: w.alice.put(
        _imeta(w) + "/k", "x", content_type="text/plain", **V235
    ),
    ("novaImageMetadataDelete", 204): lambda w: (
        w.alice.post(_imeta(w), META, format="json", **V235),
        w.alice.delete(_imeta(w) + "/k", **V235),
    )[1],
    ("novaImageMetadataDelete", 403): lambda w: w.alice.delete(
        f"/v2.1/images/{CIRROS}/metadata/nope", **V235
    ),
    ("novaImageMetadataDelete", 404): lambda w: w.alice.delete(_imeta(w) + "/nope", **V235),
    **{
        (op, 413): _big(method, tail)
        for op, method, tail in (
            ("novaImageMetadataMerge", "post", ""),
            ("novaImageMetadataReplace", "put", ""),
            ("novaImageMetadataSet", "put", "/k"),
        )
    },
    ("glanceImageCreate", 201): lambda w: w.alice.post(
        "/image/v2/images", {"name": "new"}, format="json"
    ),
    ("glanceImageCreate", 400): lambda w: w.alice.post(
        "/image/v2/images", {"disk_format": "floppy"}, format="json"
    ),
    ("glanceImageCreate", 403): lambda w: w.alice.post(
        "/image/v2/images", {"visibility": "public"}, format="json"
    ),
    ("glanceImageCreate", 409): lambda w: (
        w.alice.post("/image/v2/images", {"id": MISSING}, format="json"),
        w.alice.post("/image/v2/images", {"id": MISSING}, format="json"),
    )[1],
    ("glanceImageCreate", 415): lambda w: w.alice.post(
        "/image/v2/images", "x", content_type="text/plain"
    ),
    ("glanceImageDelete", 204): lambda w: w.alice.delete(f"/image/v2/images/{_image(w)}"),
    ("glanceImageDelete", 403): lambda w: w.alice.delete(f"/image/v2/images/{CIRROS}"),
    ("glanceImageDelete", 404): lambda w: w.alice.delete(f"/image/v2/images/{GONE}"),
    ("novaImageDelete", 404): lambda w: w.alice.delete(f"/v2.1/images/{GONE}", **V235),
    ("aggregateList", 200): lambda w: w.admin.get(AGG),
    ("aggregateList", 403): lambda w: w.alice.get(AGG),
    ("aggregateCreate", 200): lambda w: w.admin.post(
        AGG, {"aggregate": {"name": "a1", "availability_zone": "z1"}}, format="json"
    ),
    ("aggregateCreate", 403): lambda w: w.alice.post(
        AGG, {"aggregate": {"name": "a2"}}, format="json"
    ),
    ("aggregateCreate", 409): lambda w: (_agg(w, "a3"), _agg_post(w, "a3"))[1],
    ("aggregateCreate", 415): lambda w: w.admin.post(AGG, "x", content_type="text/plain"),
    ("aggregateShow", 200): lambda w: w.admin.get(f"{AGG}/{_agg(w, 'a4')}"),
    ("aggregateShow", 403): lambda w: w.alice.get(f"{AGG}/1"),
    ("aggregateShow", 404): lambda w: w.admin.get(f"{AGG}/999"),
    ("aggregateUpdate", 200): lambda w: w.admin.put(
        f"{AGG}/{_agg(w, 'a5')}", {"aggregate": {"name": "a5b"}}, format="json"
    ),
    ("aggregateUpdate", 403): lambda w: w.alice.put(
        f"{AGG}/1", {"aggregate": {"name": "x"}}, format="json"
    ),
    ("aggregateUpdate", 404): lambda w: w.admin.put(
        f"{AGG}/999", {"aggregate": {"name": "x"}}, format="json"
    ),
    ("aggregateUpdate", 409): lambda w: (
        _agg(w, "a6"),
        w.admin.put(f"{AGG}/{_agg(w, 'a7')}", {"aggregate": {"name": "a6"}}, format="json"),
    )[1],
    ("aggregateUpdate", 415): lambda w: w.admin.put(f"{AGG}/1", "x", content_type="text/plain"),
    ("aggregateDelete", 200): lambda w: w.admin.delete(f"{AGG}/{_agg(w, 'a8')}"),
    ("aggregateDelete", 403): lambda w: w.alice.delete(f"{AGG}/1"),
    ("aggregateDelete", 404): lambda w: w.admin.delete(f"{AGG}/999"),
    ("aggregateAction", 200): lambda w: w.admin.post(
        f"{AGG}/{_agg(w, 'a9')}/action", {"add_host": {"host": "node1"}}, format="json"
    ),
    ("aggregateAction", 403): lambda w: w.alice.post(
        f"{AGG}/1/action", {"add_host": {"host": "node1"}}, format="json"
    ),
    ("aggregateAction", 404): lambda w: w.admin.post(
        f"{AGG}/999/action", {"add_host": {"host": "node1"}}, format="json"
    ),
    ("aggregateAction", 409): lambda w: _twice_added(w),
    ("aggregateAction", 415): lambda w: w.admin.post(
        f"{AGG}/1/action", "x", content_type="text/plain"
    ),
    ("networkList", 200): lambda w: w.alice.get("/v2.1/os-networks", **V235),
    ("networkList", 404): lambda w: w.alice.get("/v2.1/os-networks"),
    ("networkShow", 200): lambda w: w.alice.get("/v2.1/os-networks/private", **V235),
    ("networkShow", 404): lambda w: w.alice.get("/v2.1/os-networks/nope", **V235),
    ("serverDiagnostics", 200): lambda w: w.admin.get(f"/v2.1/servers/{w.server}/diagnostics"),
    ("serverDiagnostics", 403): lambda w: w.alice.get(f"/v2.1/servers/{w.server}/diagnostics"),
    ("serverDiagnostics", 404): lambda w: w.admin.get(f"/v2.1/servers/{MISSING}/diagnostics"),
    ("serverDiagnostics", 409): lambda w: w.admin.get(f"/v2.1/servers/{w.building}/diagnostics"),
    **_identity_scenarios(),
    ("novaImageDeleteNoId", 404): lambda w: w.alice.delete("/v2.1/images", **V235),
    ("glanceImageTasks", 200): lambda w: w.alice.get(f"/image/v2/images/{CIRROS}/tasks"),
    ("glanceImageTasks", 404): lambda w: w.alice.get(f"/image/v2/images/{GONE}/tasks"),
    ("flavorAccessList", 200): lambda w: w.admin.get(
        f"/v2.1/flavors/{_private(w)}/os-flavor-access"
    ),
    ("flavorAccessList", 403): lambda w: w.alice.get("/v2.1/flavors/9/os-flavor-access"),
    ("flavorAccessList", 404): lambda w: w.admin.get("/v2.1/flavors/9/os-flavor-access"),
    ("flavorAction", 200): lambda w: w.admin.post(
        f"/v2.1/flavors/{_private(w)}/action", ADD_ACCESS, format="json"
    ),
    ("flavorAction", 403): lambda w: w.alice.post(
        "/v2.1/flavors/9/action", ADD_ACCESS, format="json"
    ),
    ("flavorAction", 404): lambda w: w.admin.post(
        "/v2.1/flavors/nope/action", ADD_ACCESS, format="json"
    ),
    ("flavorAction", 409): lambda w: w.admin.post(
        "/v2.1/flavors/9/action", ADD_ACCESS, format="json"
    ),
    ("flavorAction", 415): lambda w: w.admin.post(
        "/v2.1/flavors/9/action", "x", content_type="text/plain"
    ),
}
SCENARIOS.update(NEW_SCENARIOS)


# --- Neutron v2.0 (dashboard.api.neutron) ---------------------------------------------------
NET = "/network/v2.0"


def _neutron_down(call_it):
    """The database unreachable under a Neutron view: Nova's 503 is its 503 too."""

    def scenario(w: SimpleNamespace):
        from unittest import mock

        from django.db import OperationalError

        gone = OperationalError("the database is restarting")
        with mock.patch("dashboard.api.neutron.views.NeutronView.initial", side_effect=gone):
            return call_it(w)

    return scenario


def _a_port(w: SimpleNamespace) -> str:
    from compute.networks import PRIVATE, port_id

    return port_id(w.server, PRIVATE)


def _default_group(w: SimpleNamespace) -> str:
    from compute.models import Project
    from compute.networks import security_group_id

    return security_group_id(Project.objects.get(name="demo").id, "default")


def _demo(w: SimpleNamespace) -> str:
    from compute.models import Project

    return Project.objects.get(name="demo").id


def _neutron_scenarios() -> dict:
    from compute.networks import PRIVATE, PRIVATE_SUBNET

    net, subnet = f"{NET}/networks/{PRIVATE.id}", f"{NET}/subnets/{PRIVATE_SUBNET.id}"
    reads = {
        "networkV20": lambda w: w.alice.get(f"{NET}/"),
        "neutronNetworkList": lambda w: w.alice.get(f"{NET}/networks"),
        "neutronNetworkShow": lambda w: w.alice.get(net),
        "neutronSubnetList": lambda w: w.alice.get(f"{NET}/subnets"),
        "neutronSubnetShow": lambda w: w.alice.get(subnet),
        "neutronPortList": lambda w: w.alice.get(f"{NET}/ports"),
        "neutronPortShow": lambda w: w.alice.get(f"{NET}/ports/{_a_port(w)}"),
        "neutronExtensionList": lambda w: w.alice.get(f"{NET}/extensions"),
        "neutronExtensionShow": lambda w: w.alice.get(f"{NET}/extensions/binding"),
    }
    writes = {
        "neutronNetworkCreate": lambda w: w.alice.post(f"{NET}/networks", {}, format="json"),
        "neutronNetworkUpdate": lambda w: w.alice.put(net, {}, format="json"),
        "neutronNetworkDelete": lambda w: w.alice.delete(net),
        "neutronSubnetCreate": lambda w: w.alice.post(f"{NET}/subnets", {}, format="json"),
        "neutronSubnetUpdate": lambda w: w.alice.put(subnet, {}, format="json"),
        "neutronSubnetDelete": lambda w: w.alice.delete(subnet),
        "neutronPortCreate": lambda w: w.alice.post(f"{NET}/ports", {}, format="json"),
        "neutronPortUpdate": lambda w: w.alice.put(f"{NET}/ports/{_a_port(w)}", {}, format="json"),
        "neutronPortDelete": lambda w: w.alice.delete(f"{NET}/ports/{_a_port(w)}"),
    }
    reads.update(
        {
            "neutronSecurityGroupList": lambda w: w.alice.get(f"{NET}/security-groups"),
            "neutronSecurityGroupShow": lambda w: w.alice.get(
                f"{NET}/security-groups/{_default_group(w)}"
            ),
            "neutronSecurityGroupRuleList": lambda w: w.alice.get(f"{NET}/security-group-rules"),
            "neutronQuotaShow": lambda w: w.alice.get(f"{NET}/quotas/{_demo(w)}"),
            "neutronSecurityGroupRuleShow": lambda w: w.alice.get(
                f"{NET}/security-group-rules/{_security_rule(w)}"
            ),
        }
    )
    writes.update(
        {
            "neutronSecurityGroupCreate": lambda w: w.alice.post(
                f"{NET}/security-groups", {}, format="json"
            ),
            "neutronSecurityGroupUpdate": lambda w: w.alice.put(
                f"{NET}/security-groups/{_default_group(w)}", {}, format="json"
            ),
            "neutronSecurityGroupDelete": lambda w: w.alice.delete(
                f"{NET}/security-groups/{_default_group(w)}"
            ),
            "neutronSecurityGroupRuleCreate": lambda w: w.alice.post(
                f"{NET}/security-group-rules", {}, format="json"
            ),
            "neutronQuotaUpdate": lambda w: w.alice.put(
                f"{NET}/quotas/{_demo(w)}", {}, format="json"
            ),
            "neutronSecurityGroupRuleDelete": lambda w: w.alice.delete(
                f"{NET}/security-group-rules/{_security_rule(w)}"
            ),
        }
    )
    out: dict = {
        ("networkVersions", 200): lambda w: w.anonymous.get("/network/"),
        # Another project's quotas.
        ("neutronQuotaShow", 403): lambda w: w.alice.get(f"{NET}/quotas/{'0' * 32}"),
    }
    for op, read in reads.items():
        out[(op, 200)] = read
        out[(op, 503)] = _neutron_down(read)
    for op, write in writes.items():
        out[(op, 403)] = write
        out[(op, 503)] = _neutron_down(write)
    lists = {"neutronNetworkList": "networks", "neutronSubnetList": "subnets",
             "neutronPortList": "ports", "neutronSecurityGroupList": "security-groups",
             "neutronSecurityGroupRuleList": "security-group-rules"}  # fmt: skip
    for op, path in lists.items():
        out[(op, 400)] = lambda w, path=path: w.alice.get(f"{NET}/{path}?colour=red")
    missing = "9f1b3f0e-0000-4000-8000-000000000000"
    for op, path in (
        ("neutronNetworkShow", f"{NET}/networks/{missing}"),
        ("neutronSubnetShow", f"{NET}/subnets/{missing}"),
        ("neutronPortShow", f"{NET}/ports/{missing}"),
        ("neutronExtensionShow", f"{NET}/extensions/router"),
        ("neutronSecurityGroupShow", f"{NET}/security-groups/{missing}"),
        ("neutronSecurityGroupRuleShow", f"{NET}/security-group-rules/{missing}"),
    ):
        out[(op, 404)] = lambda w, path=path: w.alice.get(path)
    for op, path in (
        ("neutronNetworkUpdate", f"{NET}/networks/{missing}"),
        ("neutronSubnetUpdate", f"{NET}/subnets/{missing}"),
        ("neutronPortUpdate", f"{NET}/ports/{missing}"),
        ("neutronSecurityGroupUpdate", f"{NET}/security-groups/{missing}"),
    ):
        out[(op, 404)] = lambda w, path=path: w.alice.put(path, {}, format="json")
    for op, path in (
        ("neutronNetworkDelete", f"{NET}/networks/{missing}"),
        ("neutronSubnetDelete", f"{NET}/subnets/{missing}"),
        ("neutronPortDelete", f"{NET}/ports/{missing}"),
        ("neutronSecurityGroupDelete", f"{NET}/security-groups/{missing}"),
        ("neutronSecurityGroupRuleDelete", f"{NET}/security-group-rules/{missing}"),
    ):
        out[(op, 404)] = lambda w, path=path: w.alice.delete(path)
    return out


SCENARIOS.update(_neutron_scenarios())

SCENARIOS.update(
    {
        ("serverIPs", 200): lambda w: w.alice.get(f"/v2.1/servers/{w.server}/ips"),
        ("serverIPs", 404): lambda w: w.alice.get(f"/v2.1/servers/{MISSING}/ips"),
        ("serverIPsOfNetwork", 200): lambda w: w.alice.get(f"/v2.1/servers/{w.server}/ips/private"),
        ("serverIPsOfNetwork", 404): lambda w: w.alice.get(f"/v2.1/servers/{w.server}/ips/public"),
        ("serverPasswordShow", 200): lambda w: w.alice.get(
            f"/v2.1/servers/{w.server}/os-server-password"
        ),
        ("serverPasswordShow", 404): lambda w: w.alice.get(
            f"/v2.1/servers/{MISSING}/os-server-password"
        ),
        ("serverPasswordClear", 204): lambda w: w.alice.delete(
            f"/v2.1/servers/{w.server}/os-server-password"
        ),
        ("serverPasswordClear", 404): lambda w: w.alice.delete(
            f"/v2.1/servers/{MISSING}/os-server-password"
        ),
        ("tenantNetworkList", 200): lambda w: w.alice.get("/v2.1/os-tenant-networks", **V235),
        ("tenantNetworkList", 404): lambda w: w.alice.get("/v2.1/os-tenant-networks"),
        ("tenantNetworkShow", 200): lambda w: w.alice.get(
            f"/v2.1/os-tenant-networks/{_private_network()}", **V235
        ),
        ("tenantNetworkShow", 404): lambda w: w.alice.get("/v2.1/os-tenant-networks/x", **V235),
    }
)


# --- remote consoles (dashboard.api.views.consoles) ------------------------------------------
def _remote_console(w: SimpleNamespace, protocol: str, kind: str, server: str = ""):
    """Asked with the server's host's consoles served from this process, as its agent does."""
    from compute.consoles import hub
    from compute.models import Instance

    host = Instance.objects.get(uuid=w.server).host.host
    served = hub.serve(host, FakeDriver(host=host))
    try:
        return w.alice.post(
            f"/v2.1/servers/{server or w.server}/remote-consoles",
            {"remote_console": {"protocol": protocol, "type": kind}},
            format="json",
        )
    finally:
        hub.unserve(host, served)


SCENARIOS.update(
    {
        ("createRemoteConsole", 200): lambda w: _remote_console(w, "serial", "serial"),
        ("createRemoteConsole", 404): lambda w: _remote_console(w, "vnc", "novnc", MISSING),
        ("createRemoteConsole", 409): lambda w: _remote_console(w, "vnc", "novnc", w.building),
        ("createRemoteConsole", 501): lambda w: _remote_console(w, "mks", "webmks"),
    }
)


SG = "/v2.1/os-security-groups"


def _security_group(w: SimpleNamespace) -> str:
    """A fresh group of alice's project (its security group quota lifted: the walk makes many)."""
    from compute.models import Project, QuotaLimit

    demo = Project.objects.get(name="demo").id
    QuotaLimit.objects.update_or_create(
        project_id=demo, resource="security_groups", defaults={"hard_limit": -1}
    )
    body = {"security_group": {"name": "g", "description": ""}}
    return w.alice.post(SG, body, format="json", **V235).json()["security_group"]["id"]


def _security_rule(w: SimpleNamespace) -> str:
    body = {"security_group_rule": {"parent_group_id": _security_group(w), "ip_protocol": "tcp",
                                    "from_port": 1, "to_port": 2}}  # fmt: skip
    created = w.alice.post("/v2.1/os-security-group-rules", body, format="json", **V235)
    return created.json()["security_group_rule"]["id"]


_GROUP = {"security_group": {"name": "g", "description": ""}}
_BIG = {"pad": "x" * 120_000}
SCENARIOS.update(
    {
        ("securityGroupList", 200): lambda w: w.alice.get(SG, **V235),
        ("securityGroupList", 404): lambda w: w.alice.get(SG),
        ("securityGroupDeleteNoId", 404): lambda w: w.alice.delete(f"{SG}/", **V235),
        ("securityGroupCreate", 200): lambda w: w.alice.post(SG, _GROUP, format="json", **V235),
        ("securityGroupCreate", 403): lambda w: w.alice.post(
            SG, {"security_group": {"name": "default", "description": ""}}, format="json", **V235
        ),
        ("securityGroupCreate", 404): lambda w: w.alice.post(SG, _GROUP, format="json"),
        ("securityGroupCreate", 415): lambda w: w.alice.post(
            SG, "x", content_type="text/plain", **V235
        ),
        ("securityGroupShow", 200): lambda w: w.alice.get(f"{SG}/{_security_group(w)}", **V235),
        ("securityGroupShow", 404): lambda w: w.alice.get(f"{SG}/{MISSING}", **V235),
        ("securityGroupUpdate", 200): lambda w: w.alice.put(
            f"{SG}/{_security_group(w)}", _GROUP, format="json", **V235
        ),
        ("securityGroupUpdate", 404): lambda w: w.alice.put(
            f"{SG}/{MISSING}", _GROUP, format="json", **V235
        ),
        ("securityGroupUpdate", 415): lambda w: w.alice.put(
            f"{SG}/{_security_group(w)}", "x", content_type="text/plain", **V235
        ),
        ("securityGroupDelete", 202): lambda w: w.alice.delete(
            f"{SG}/{_security_group(w)}", **V235
        ),
        ("securityGroupDelete", 404): lambda w: w.alice.delete(f"{SG}/{MISSING}", **V235),
        ("securityGroupRuleCreate", 200): lambda w: w.alice.post(
            "/v2.1/os-security-group-rules",
            {
                "security_group_rule": {
                    "parent_group_id": _security_group(w),
                    "ip_protocol": "udp",
                    "from_port": 5,
                    "to_port": 6,
                }
            },
            format="json",
            **V235,
        ),
        ("securityGroupRuleCreate", 404): lambda w: w.alice.post(
            "/v2.1/os-security-group-rules",
            {"security_group_rule": {"parent_group_id": MISSING}},
            format="json",
            **V235,
        ),
        ("securityGroupRuleCreate", 415): lambda w: w.alice.post(
            "/v2.1/os-security-group-rules", "x", content_type="text/plain", **V235
        ),
        ("securityGroupRuleDelete", 202): lambda w: w.alice.delete(
            f"/v2.1/os-security-group-rules/{_security_rule(w)}", **V235
        ),
        ("securityGroupRuleDelete", 404): lambda w: w.alice.delete(
            f"/v2.1/os-security-group-rules/{MISSING}", **V235
        ),
        ("securityGroupCreate", 413): lambda w: w.alice.post(SG, _BIG, format="json", **V235),
        ("securityGroupUpdate", 413): lambda w: w.alice.put(
            f"{SG}/{_security_group(w)}", _BIG, format="json", **V235
        ),
        ("securityGroupRuleCreate", 413): lambda w: w.alice.post(
            "/v2.1/os-security-group-rules", _BIG, format="json", **V235
        ),
        ("serverSecurityGroups", 200): lambda w: w.alice.get(
            f"/v2.1/servers/{w.server}/os-security-groups"
        ),
        ("serverSecurityGroups", 404): lambda w: w.alice.get(
            f"/v2.1/servers/{MISSING}/os-security-groups"
        ),
    }
)


def _private_network() -> str:
    from compute.networks import PRIVATE

    return PRIVATE.id


# --- Glance image data (dashboard.api.views.image_files) -------------------------------------
OCTETS = "application/octet-stream"
#: An image id nothing makes (other scenarios create images with MISSING's id).
NO_IMAGE = "3a4c5a2e-0c5e-4c1e-9a55-0000000000fe"


def _image_data(w: SimpleNamespace, *, fmt: str = "raw", then_get: bool = False):
    """Upload 1 KiB of zeros (raw bytes) to a new queued image of ``fmt`` in a scratch
    IMAGE_DIR; the upload's answer, or with ``then_get`` the download's."""
    import tempfile

    from django.test import override_settings

    image = w.admin.post("/image/v2/images", {"name": "data", "disk_format": fmt}, format="json")
    path = f"/image/v2/images/{image.json()['id']}/file"
    with tempfile.TemporaryDirectory() as scratch, override_settings(IMAGE_DIR=scratch):
        answer = w.admin.put(path, b"\0" * 1024, content_type=OCTETS)
        return w.admin.get(path) if then_get else answer


SCENARIOS.update(
    {
        ("glanceImageUpload", 204): lambda w: _image_data(w),
        ("glanceImageUpload", 400): lambda w: _image_data(w, fmt="qcow2"),
        ("glanceImageUpload", 403): lambda w: w.alice.put(
            f"/image/v2/images/{CIRROS}/file", b"x", content_type=OCTETS
        ),
        ("glanceImageUpload", 404): lambda w: w.admin.put(
            f"/image/v2/images/{NO_IMAGE}/file", b"x", content_type=OCTETS
        ),
        ("glanceImageUpload", 409): lambda w: w.admin.put(
            f"/image/v2/images/{CIRROS}/file", b"x", content_type=OCTETS
        ),
        ("glanceImageDownload", 200): lambda w: _image_data(w, then_get=True),
        ("glanceImageDownload", 204): lambda w: w.admin.get(f"/image/v2/images/{CIRROS}/file"),
        ("glanceImageDownload", 404): lambda w: w.admin.get(f"/image/v2/images/{NO_IMAGE}/file"),
    }
)


# --- notifications (dashboard.api.views.notifications) --------------------------------------
NOTES = "/api/notifications"


def _subscription(w: SimpleNamespace) -> int:
    made = w.alice.post(
        f"{NOTES}/subscriptions/", {"scope": "instance", "target": w.server}, format="json"
    )
    return int(made.json()["subscription"]["id"])


def _queued_cancel(w: SimpleNamespace) -> object:
    """A stop no agent has taken yet (the fixture's agent runs only when told), cancelled."""
    w.alice.post(ACTION.replace("{server_id}", w.meta_server), {"os-stop": None}, format="json")
    queued = InstanceAction.objects.filter(action="stop", finish_time__isnull=True).latest("id")
    return w.alice.post(f"/api/tasks/{queued.pk}/cancel/")


SCENARIOS.update(
    {
        ("api_notifications_retrieve", 200): lambda w: w.alice.get(f"{NOTES}/"),
        ("api_notifications_read_create", 200): lambda w: w.alice.post(
            f"{NOTES}/read/", {}, format="json"
        ),
        ("api_notifications_subscriptions_retrieve", 200): lambda w: w.alice.get(
            f"{NOTES}/subscriptions/"
        ),
        ("api_notifications_subscriptions_create", 201): lambda w: w.alice.post(
            f"{NOTES}/subscriptions/", {"scope": "instance", "target": w.server}, format="json"
        ),
        ("api_notifications_subscriptions_create", 403): lambda w: w.alice.post(
            f"{NOTES}/subscriptions/", {"scope": "host", "target": "node1"}, format="json"
        ),
        ("api_notifications_subscriptions_create", 404): lambda w: w.alice.post(
            f"{NOTES}/subscriptions/", {"scope": "instance", "target": MISSING}, format="json"
        ),
        ("api_notifications_subscriptions_destroy", 204): lambda w: w.alice.delete(
            f"{NOTES}/subscriptions/{_subscription(w)}/"
        ),
        ("api_notifications_subscriptions_destroy", 404): lambda w: w.alice.delete(
            f"{NOTES}/subscriptions/999999/"
        ),
        ("api_notifications_subscriptions_log_retrieve", 200): lambda w: w.alice.get(
            f"{NOTES}/subscriptions/{_subscription(w)}/log/"
        ),
        ("api_notifications_subscriptions_log_retrieve", 404): lambda w: w.alice.get(
            f"{NOTES}/subscriptions/999999/log/"
        ),
        ("api_tasks_retrieve", 200): lambda w: w.alice.get("/api/tasks/"),
        ("api_schedules_retrieve", 200): lambda w: w.alice.get("/api/schedules/"),
        ("api_schedules_create", 201): lambda w: w.alice.post(
            "/api/schedules/",
            {"instance": w.server, "action": "reboot", "run_at": "2099-01-01T00:00"},
            format="json",
        ),
        ("api_schedules_create", 404): lambda w: w.alice.post(
            "/api/schedules/",
            {"instance": MISSING, "action": "reboot", "run_at": "2099-01-01T00:00"},
            format="json",
        ),
        ("api_schedules_destroy", 204): lambda w: w.alice.delete(
            "/api/schedules/{}/".format(
                w.alice.post(
                    "/api/schedules/",
                    {"instance": w.server, "action": "stop", "run_at": "2099-01-01T00:00"},
                    format="json",
                ).json()["schedule"]["id"]
            )
        ),
        ("api_schedules_destroy", 404): lambda w: w.alice.delete("/api/schedules/999999/"),
        ("api_schedules_create", 400): lambda w: w.alice.post(
            "/api/schedules/",
            {"instance": w.server, "action": "stop", "cron": "0 3 * *"},
            format="json",
        ),
        ("scheduleShow", 200): lambda w: w.alice.get(f"/api/schedules/{_schedule(w)}/"),
        ("scheduleShow", 404): lambda w: w.alice.get("/api/schedules/999999/"),
        ("scheduleRuns", 200): lambda w: w.alice.get(f"/api/schedules/{_schedule(w)}/runs/"),
        ("scheduleRuns", 404): lambda w: w.alice.get("/api/schedules/999999/runs/"),
        ("schedulePause", 200): lambda w: w.alice.post(f"/api/schedules/{_schedule(w)}/pause/"),
        ("schedulePause", 404): lambda w: w.alice.post("/api/schedules/999999/pause/"),
        ("scheduleResume", 200): lambda w: w.alice.post(
            f"/api/schedules/{_schedule(w, paused=True)}/resume/"
        ),
        ("scheduleResume", 404): lambda w: w.alice.post(f"/api/schedules/{_schedule(w)}/resume/"),
        ("api_tasks_cancel_create", 202): lambda w: _queued_cancel(w),
        ("api_tasks_cancel_create", 404): lambda w: w.alice.post("/api/tasks/999999/cancel/"),
        ("api_tasks_cancel_create", 409): lambda w: w.alice.post(
            f"/api/tasks/{InstanceAction.objects.filter(finish_time__isnull=False).first().pk}/cancel/"
        ),
    }
)


def _schedule(w: SimpleNamespace, *, paused: bool = False) -> int:
    """A recurring schedule of alice's on her server (paused if asked)."""
    made = w.alice.post(
        "/api/schedules/", {"instance": w.server, "action": "reboot", "cron": "0 3 * * *"},
        format="json",
    ).json()["schedule"]["id"]  # fmt: skip
    if paused:
        w.alice.post(f"/api/schedules/{made}/pause/")
    return made


def generic(operation_id: str, method: str, path: str, code: int, w: SimpleNamespace):
    """The codes every compute operation has: a malformed or unknown version, no token; a NUL
    in the query (every operation, ``dashboard.security``); a body too large (those with one);
    the database unreachable."""
    if code == 401:
        return call(w.anonymous, method, fill(path, w), {})
    if code == 406:
        return call(w.alice, method, fill(path, w), {}, **at("2.999"))
    if code == 400:
        response = call(w.alice, method, fill(path, w), {}, **at("two"))
        if response.status_code != 400:
            response = call(w.alice, method, fill(path, w) + "?nul=%00", {})
        return response
    if code == 413:
        return call(w.admin, method, fill(path, w), {"pad": "x" * 120_000})
    if code == 503:
        from unittest import mock

        from django.db import OperationalError

        gone = OperationalError("the database is restarting")
        with mock.patch("dashboard.api.base.ComputeView.initial", side_effect=gone):
            return call(w.alice, method, fill(path, w), {})
    return None


def test_every_documented_response_code_is_one_the_api_gives(schema, w):
    # Destructive scenarios (revoke, delete) go last, so the others still find their objects.
    last = {("serverDelete", 409), ("serverDelete", 204), ("flavorDelete", 202)}
    cases = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for code in operation["responses"]:
                cases.append((operation["operationId"], method.upper(), path, int(code)))
    cases.sort(key=lambda c: (c[0], c[3]) in last)
    for operation_id, method, path, code in cases:
        scenario = SCENARIOS.get((operation_id, code))
        response = scenario(w) if scenario else generic(operation_id, method, path, code, w)
        if scenario is not None and response is None:
            continue  # documented for Nova's sake, not reachable here (see its view)
        assert response is not None, f"no scenario shows {operation_id} answering {code}"
        assert response.status_code == code, (operation_id, code, response.content[:300])


def test_every_write_that_takes_a_body_documents_it(schema):
    """A POST / PUT / PATCH either declares no body (Keystone's role grant, Nova's tag add, the
    Neutron writes refused by policy) or shows the body it accepts (the newest microversion's
    shape) — never a bare ``object``."""
    bare = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method not in ("post", "put", "patch") or "requestBody" not in operation:
                continue
            shapes = [b.get("schema", {}) for b in operation["requestBody"]["content"].values()]
            if not any(
                s.get("properties")
                or s.get("$ref")
                or s.get("oneOf")
                or s.get("patternProperties")
                or s.get("format") == "binary"
                for s in shapes
            ):
                bare.append(f"{method.upper()} {path}")
    assert bare == []


# --- the migrations API (dashboard.api.views.migrations) -------------------------------------
def _migrating(w: SimpleNamespace, name: str, *, status: str = "") -> tuple[str, int]:
    """A server of alice's live-migrating to a second host (queued: no agent runs it), and its
    migration's id; ``status`` sets the record's as the agent would have (force-complete needs
    "running")."""
    from compute.models import Host, Migration
    from compute.services import host_heartbeat, host_register

    # Built on node1 (node1's agent builds it): node2, up and enabled, is only the destination.
    Host.objects.filter(host="node2").update(disabled=True)
    server = str(w.make("active", name=name).uuid)
    host_heartbeat(host=host_register(host="node2", driver="fake"))
    Host.objects.filter(host="node2").update(disabled=False)
    body = {"os-migrateLive": {"host": "node2", "block_migration": "auto"}}
    answer = w.admin.post(f"/v2.1/servers/{server}/action", body, format="json")
    assert answer.status_code == 202, answer.content
    migration = Migration.objects.get(instance__uuid=server)
    if status:
        Migration.objects.filter(pk=migration.pk).update(status=status)
    return server, migration.pk


def _migration_url(w: SimpleNamespace, name: str, *, status: str = "", tail: str = "") -> str:
    server, migration = _migrating(w, name, status=status)
    return f"/v2.1/servers/{server}/migrations/{migration}{tail}"


FORCE = {"force_complete": None}

SCENARIOS.update(
    {
        ("migrationList", 200): lambda w: w.admin.get("/v2.1/os-migrations"),
        ("migrationList", 403): lambda w: w.alice.get("/v2.1/os-migrations"),
        ("serverMigrationList", 200): lambda w: w.admin.get(f"/v2.1/servers/{w.server}/migrations"),
        ("serverMigrationList", 403): lambda w: w.alice.get(f"/v2.1/servers/{w.server}/migrations"),
        ("serverMigrationList", 404): lambda w: w.admin.get(f"/v2.1/servers/{MISSING}/migrations"),
        ("serverMigrationShow", 200): lambda w: w.admin.get(_migration_url(w, "show")),
        ("serverMigrationShow", 403): lambda w: w.alice.get(_migration_url(w, "show403")),
        ("serverMigrationShow", 404): lambda w: w.admin.get(
            f"/v2.1/servers/{w.server}/migrations/1"
        ),
        ("serverMigrationAbort", 202): lambda w: w.admin.delete(_migration_url(w, "abort")),
        ("serverMigrationAbort", 403): lambda w: w.alice.delete(
            f"/v2.1/servers/{w.server}/migrations/1"
        ),
        ("serverMigrationAbort", 404): lambda w: w.admin.delete(
            _migration_url(w, "abort404", tail="0")
        ),
        ("serverMigrationAbort", 409): lambda w: w.admin.delete(
            f"/v2.1/servers/{w.server}/migrations/1"
        ),
        ("serverMigrationForceComplete", 202): lambda w: w.admin.post(
            _migration_url(w, "force", status="running", tail="/action"), FORCE, format="json"
        ),
        ("serverMigrationForceComplete", 403): lambda w: w.alice.post(
            f"/v2.1/servers/{w.server}/migrations/1/action", FORCE, format="json"
        ),
        ("serverMigrationForceComplete", 404): lambda w: w.admin.post(
            f"/v2.1/servers/{MISSING}/migrations/1/action", FORCE, format="json"
        ),
        ("serverMigrationForceComplete", 409): lambda w: w.admin.post(
            f"/v2.1/servers/{w.server}/migrations/1/action", FORCE, format="json"
        ),
        ("serverMigrationForceComplete", 415): lambda w: w.admin.post(
            f"/v2.1/servers/{w.server}/migrations/1/action", "x", content_type="text/plain"
        ),
    }
)

SCENARIOS.update(
    {
        ("hostDrainPlan", 200): lambda w: w.admin.get("/v2.1/vmdash/hosts/node1/drain-plan"),
        ("hostDrainPlan", 403): lambda w: w.alice.get("/v2.1/vmdash/hosts/node1/drain-plan"),
        ("hostDrainPlan", 404): lambda w: w.admin.get("/v2.1/vmdash/hosts/nope/drain-plan"),
    }
)


def _drain(w: SimpleNamespace, *, cancel: bool = False):
    """A drain of node1 started over the API (node2 up to move to), or its cancel."""
    from compute.models import DrainJob, Host
    from compute.services import host_heartbeat, host_register

    Host.objects.filter(host="node2").update(disabled=True)
    w.make("active", name="drained")
    host_heartbeat(host=host_register(host="node2", driver="fake"))
    Host.objects.filter(host="node2").update(disabled=False)
    DrainJob.objects.all().delete()
    started = w.admin.post("/v2.1/vmdash/hosts/node1/drains", {"drain": {}}, format="json")
    if not cancel:
        return started
    return w.admin.post(f"/v2.1/vmdash/drains/{started.json()['drain']['id']}/cancel")


def _drain_again(w: SimpleNamespace):
    """A second drain while one is still running (a job row left running, as one whose
    instances take their time would be)."""
    from compute.models import DrainJob, Host

    DrainJob.objects.create(host=Host.objects.get(host="node1"), request_id="req-running")
    return w.admin.post("/v2.1/vmdash/hosts/node1/drains", {"drain": {}}, format="json")


SCENARIOS.update(
    {
        ("hostDrainStart", 202): lambda w: _drain(w),
        ("hostDrainStart", 403): lambda w: w.alice.post(
            "/v2.1/vmdash/hosts/node1/drains", {"drain": {}}, format="json"
        ),
        ("hostDrainStart", 404): lambda w: w.admin.post(
            "/v2.1/vmdash/hosts/nope/drains", {"drain": {}}, format="json"
        ),
        ("hostDrainStart", 409): _drain_again,
        ("hostDrainStart", 415): lambda w: w.admin.post(
            "/v2.1/vmdash/hosts/node1/drains", "x", content_type="text/plain"
        ),
        ("drainShow", 200): lambda w: w.admin.get(
            f"/v2.1/vmdash/drains/{_drain(w).json()['drain']['id']}"
        ),
        ("drainShow", 403): lambda w: w.alice.get("/v2.1/vmdash/drains/1"),
        ("drainShow", 404): lambda w: w.admin.get("/v2.1/vmdash/drains/999999"),
        ("drainCancel", 202): lambda w: _drain(w, cancel=True),
        ("drainCancel", 403): lambda w: w.alice.post("/v2.1/vmdash/drains/1/cancel"),
        ("drainCancel", 404): lambda w: w.admin.post("/v2.1/vmdash/drains/999999/cancel"),
    }
)


def _migration_task(w: SimpleNamespace, name: str) -> int:
    """The task-centre id of a queued live migration (``_migrating``)."""
    server, _ = _migrating(w, name)
    return InstanceAction.objects.get(instance__uuid=server, action="live-migration").pk


SCENARIOS.update(
    {
        ("api_tasks_abort_create", 202): lambda w: w.admin.post(
            f"/api/tasks/{_migration_task(w, 'task-abort')}/abort/"
        ),
        ("api_tasks_abort_create", 404): lambda w: w.alice.post("/api/tasks/999999/abort/"),
        ("api_tasks_abort_create", 409): lambda w: w.alice.post(
            f"/api/tasks/{InstanceAction.objects.filter(finish_time__isnull=False).first().pk}/abort/"
        ),
    }
)
