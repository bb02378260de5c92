"""Identity v3: versions, tokens issued, validated, revoked and expiring."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from compute.models import Project
from dashboard.models import Token
from tests.api.conftest import DocumentedClient, issue_token, password_body

pytestmark = pytest.mark.django_db

TOKENS = "/identity/v3/auth/tokens"


def test_the_identity_root_lists_v3_as_keystone_does(anonymous):
    response = anonymous.get("/identity")
    assert response.status_code == 300
    (v3,) = response.json()["versions"]["values"]
    assert v3["id"].startswith("v3.")
    assert v3["links"][0]["href"] == "http://testserver/identity/v3/"


def test_the_v3_document_is_served_with_and_without_a_slash(anonymous):
    for path in ("/identity/v3", "/identity/v3/"):
        assert anonymous.get(path).json()["version"]["status"] == "stable"


def test_a_password_login_scoped_to_a_project_returns_a_token_with_roles_and_catalog(
    anonymous, alice
):
    response = anonymous.post(TOKENS, password_body("alice", "alice-pass", "demo"), format="json")
    assert response.status_code == 201
    assert response["X-Subject-Token"]
    token = response.json()["token"]
    assert token["methods"] == ["password"]
    assert token["user"]["name"] == "alice"
    assert token["user"]["domain"]["id"] == "default"
    assert token["project"]["name"] == "demo"
    assert {r["name"] for r in token["roles"]} == {"member", "reader"}
    catalog = {entry["type"]: entry for entry in token["catalog"]}
    compute_urls = {e["url"] for e in catalog["compute"]["endpoints"]}
    assert compute_urls == {"http://testserver/v2.1"}
    assert {"identity", "image"} <= set(catalog)
    assert token["expires_at"] > token["issued_at"]


def test_an_admin_token_carries_the_admin_role(anonymous, admin_user):
    response = anonymous.post(TOKENS, password_body("admin", "admin-pass", "admin"), format="json")
    assert {r["name"] for r in response.json()["token"]["roles"]} == {
        "admin",
        "manager",
        "member",
        "reader",
    }


def test_nocatalog_leaves_the_catalog_out(anonymous, alice):
    response = anonymous.post(
        TOKENS + "?nocatalog", password_body("alice", "alice-pass", "demo"), format="json"
    )
    assert "catalog" not in response.json()["token"]


def test_a_token_lives_token_ttl_seconds(anonymous, alice, settings):
    settings.TOKEN_TTL = 120
    anonymous.post(TOKENS, password_body("alice", "alice-pass", "demo"), format="json")
    token = Token.objects.get()
    assert token.expires_at - token.issued_at == timedelta(seconds=120)


@pytest.mark.parametrize(
    ("username", "password", "project"),
    [("alice", "wrong", "demo"), ("nobody", "x", "demo"), ("alice", "alice-pass", "other")],
)
def test_bad_credentials_or_a_foreign_project_get_keystones_401(
    anonymous, alice, bob, username, password, project
):
    response = anonymous.post(TOKENS, password_body(username, password, project), format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 401
    assert "X-Subject-Token" not in response


def test_a_body_without_auth_is_a_400(anonymous):
    response = anonymous.post(TOKENS, {"nothing": 1}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["title"] == "Bad Request"


def test_a_body_that_is_not_json_is_a_415(anonymous):
    response = anonymous.post(TOKENS, "auth", content_type="text/plain")
    assert response.status_code == 415


def test_an_unscoped_login_gets_a_token_without_catalog(anonymous, alice):
    response = anonymous.post(TOKENS, password_body("alice", "alice-pass", None), format="json")
    assert response.status_code == 201
    assert "project" not in response.json()["token"]


def test_an_unscoped_token_cannot_call_compute(alice):
    client = DocumentedClient()
    client.credentials(HTTP_X_AUTH_TOKEN=issue_token("alice", "alice-pass", None))
    assert client.get("/v2.1/servers").status_code == 401


def test_the_token_method_rescopes_a_token(anonymous, alice):
    unscoped = issue_token("alice", "alice-pass", None)
    body = {
        "auth": {
            "identity": {"methods": ["token"], "token": {"id": unscoped}},
            "scope": {"project": {"id": Project.objects.get(name="demo").pk}},
        }
    }
    response = anonymous.post(TOKENS, body, format="json")
    assert response.status_code == 201
    assert response.json()["token"]["project"]["name"] == "demo"


def test_a_user_validates_its_own_token(alice):
    token = issue_token("alice", "alice-pass", "demo")
    client = DocumentedClient()
    response = client.get(TOKENS, HTTP_X_AUTH_TOKEN=token, HTTP_X_SUBJECT_TOKEN=token)
    assert response.status_code == 200
    assert response["X-Subject-Token"] == token
    assert response.json()["token"]["user"]["name"] == "alice"


def test_a_member_may_not_validate_someone_elses_token_but_an_admin_may(alice, bob, admin_user):
    alices = issue_token("alice", "alice-pass", "demo")
    bobs = issue_token("bob", "bob-pass", "other")
    admins = issue_token("admin", "admin-pass", "admin")
    client = DocumentedClient()
    assert (
        client.get(TOKENS, HTTP_X_AUTH_TOKEN=bobs, HTTP_X_SUBJECT_TOKEN=alices).status_code == 403
    )
    assert (
        client.get(TOKENS, HTTP_X_AUTH_TOKEN=admins, HTTP_X_SUBJECT_TOKEN=alices).status_code == 200
    )


def test_validating_without_a_caller_token_is_a_401(alice):
    token = issue_token("alice", "alice-pass", "demo")
    assert DocumentedClient().get(TOKENS, HTTP_X_SUBJECT_TOKEN=token).status_code == 401


def test_a_revoked_token_is_gone_for_validation_and_for_compute(alice):
    token = issue_token("alice", "alice-pass", "demo")
    other = issue_token("alice", "alice-pass", "demo")
    client = DocumentedClient()
    assert (
        client.delete(TOKENS, HTTP_X_AUTH_TOKEN=other, HTTP_X_SUBJECT_TOKEN=token).status_code
        == 204
    )
    response = client.get(TOKENS, HTTP_X_AUTH_TOKEN=other, HTTP_X_SUBJECT_TOKEN=token)
    assert response.status_code == 404
    assert (
        client.delete(TOKENS, HTTP_X_AUTH_TOKEN=other, HTTP_X_SUBJECT_TOKEN=token).status_code
        == 404
    )
    assert client.get("/v2.1/servers", HTTP_X_AUTH_TOKEN=token).status_code == 401


def test_an_expired_token_is_refused_with_keystones_401_and_where_to_log_in(alice):
    token = issue_token("alice", "alice-pass", "demo")
    Token.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = DocumentedClient().get("/v2.1/servers", HTTP_X_AUTH_TOKEN=token)
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": 401,
            "title": "Unauthorized",
            "message": "The request you have made requires authentication.",
        }
    }
    assert response["WWW-Authenticate"] == 'Keystone uri="http://testserver/identity/"'


def test_a_token_stops_working_when_its_role_assignment_is_removed(alice):
    token = issue_token("alice", "alice-pass", "demo")
    alice.memberships.all().delete()
    assert DocumentedClient().get("/v2.1/servers", HTTP_X_AUTH_TOKEN=token).status_code == 401


def test_only_a_digest_of_the_token_is_stored(alice):
    token = issue_token("alice", "alice-pass", "demo")
    assert not Token.objects.filter(digest=token).exists()
    assert token not in str(list(Token.objects.values()))


# --- the compute API's memory of checked tokens -------------------------------------------------


def servers_status(token: str) -> int:
    return DocumentedClient().get("/v2.1/servers", HTTP_X_AUTH_TOKEN=token).status_code


@pytest.fixture
def clock(monkeypatch):
    """The monotonic clock the token cache reads, moved by hand."""
    from dashboard.api import auth

    now = [1000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: now[0])
    return now


def test_a_checked_token_is_not_read_again_within_the_ttl(
    alice, django_assert_max_num_queries, django_assert_num_queries
):
    token = issue_token("alice", "alice-pass", "demo")
    with django_assert_max_num_queries(5) as first:
        assert servers_status(token) == 200
    assert any("dashboard_token" in q["sql"] for q in first.captured_queries)
    with django_assert_max_num_queries(5) as again:
        assert servers_status(token) == 200
    sql = [q["sql"] for q in again.captured_queries]
    assert not [s for s in sql if "dashboard_token" in s or "compute_membership" in s], sql


def test_each_request_of_a_remembered_token_gets_its_own_request_id(alice):
    token = issue_token("alice", "alice-pass", "demo")
    ids = {
        DocumentedClient().get("/v2.1/servers", HTTP_X_AUTH_TOKEN=token)["X-Compute-Request-Id"]
        for _ in range(3)
    }
    assert len(ids) == 3


def test_a_revocation_through_the_api_takes_effect_at_once_though_the_token_was_remembered(
    alice,
):
    token = issue_token("alice", "alice-pass", "demo")
    assert servers_status(token) == 200
    client = DocumentedClient()
    assert (
        client.delete(TOKENS, HTTP_X_AUTH_TOKEN=token, HTTP_X_SUBJECT_TOKEN=token).status_code
        == 204
    )
    assert servers_status(token) == 401


def test_a_revocation_this_process_did_not_see_takes_effect_within_the_ttl(alice, clock, settings):
    """Another process revoked it (here: a bulk UPDATE, which sends no signal): this process
    accepts the token until its memory is TOKEN_CACHE_TTL old — the documented window — and
    refuses it after."""
    settings.TOKEN_CACHE_TTL = 5.0
    token = issue_token("alice", "alice-pass", "demo")
    assert servers_status(token) == 200
    Token.objects.update(revoked_at=timezone.now())
    clock[0] += 4.9
    assert servers_status(token) == 200
    clock[0] += 0.2
    assert servers_status(token) == 401
    assert servers_status(token) == 401


def test_expiry_is_exact_even_for_a_remembered_token(alice, clock, monkeypatch):
    from dashboard.api import auth

    token = issue_token("alice", "alice-pass", "demo")
    assert servers_status(token) == 200
    expires = Token.objects.get().expires_at
    monkeypatch.setattr(auth.timezone, "now", lambda: expires + timedelta(microseconds=1))
    assert servers_status(token) == 401


def test_losing_the_role_or_the_account_takes_effect_at_once_though_remembered(alice):
    token = issue_token("alice", "alice-pass", "demo")
    assert servers_status(token) == 200
    alice.memberships.all().delete()
    assert servers_status(token) == 401
    other = issue_token("alice", "alice-pass", None)  # unscoped still issues: alice exists
    assert servers_status(other) == 401


def test_a_deactivated_user_is_refused_at_once_though_remembered(alice):
    token = issue_token("alice", "alice-pass", "demo")
    assert servers_status(token) == 200
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert servers_status(token) == 401


def test_a_ttl_of_zero_reads_the_token_on_every_request(alice, settings):
    settings.TOKEN_CACHE_TTL = 0
    token = issue_token("alice", "alice-pass", "demo")
    assert servers_status(token) == 200
    Token.objects.update(revoked_at=timezone.now())
    assert servers_status(token) == 401
