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

from compute.models import Flavor
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
    return SimpleNamespace(
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
        assert response is not None, f"no scenario shows {operation_id} answering {code}"
        assert response.status_code == code, (operation_id, code, response.content[:300])
