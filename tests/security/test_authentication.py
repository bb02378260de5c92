"""Who may come in, and for how long: sessions and CSRF on every form, API tokens that expire
and can be revoked, passwords kept by Django's hashers, and log-in attempts rate-limited on the
login page and the identity endpoint alike (``dashboard.ratelimit``)."""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

import pytest
from django.conf import global_settings, settings
from django.contrib.auth.hashers import check_password
from django.test import Client
from django.utils import timezone

import dashboard.settings as project_settings
from compute.models import Membership
from compute.services import user_ensure
from dashboard.models import Token
from tests.api.conftest import DocumentedClient, issue_token, password_body
from tests.security.conftest import snapshot

pytestmark = pytest.mark.django_db

TOKENS = "/identity/v3/auth/tokens"


# --- CSRF and sessions ----------------------------------------------------------------------

#: Every form the pages post, with a body that would be accepted given a CSRF token.
FORM_POSTS = [
    ("/login/", {"username": "alice", "password": "alice-pass"}, "anonymous"),
    ("/logout/", {}, "member"),
    ("/projects/switch/", {"project": ""}, "member"),
    ("/instances/new/", {"name": "n", "flavor": "1", "image": "x", "project": "x"}, "member"),
    ("/instances/bulk/", {"action": "stop", "confirmed": "yes", "instance": ["{mine}"]}, "member"),
    ("/instances/{mine}/action/", {"action": "stop"}, "member"),
    ("/hosts/node1/update/", {"op": "disable", "reason": "patching"}, "admin"),
    ("/hosts/node1/migrate-away/", {"instance": ["{mine}"]}, "admin"),
]


@pytest.mark.parametrize(("path", "data", "who"), FORM_POSTS, ids=[p for p, _, _ in FORM_POSTS])
def test_every_form_post_without_a_csrf_token_is_refused(world, alice, admin_user, path, data, who):
    client = Client(enforce_csrf_checks=True)
    if who != "anonymous":
        client.force_login(admin_user if who == "admin" else alice)
    data = {k: [world.fill(x) for x in v] if isinstance(v, list) else v for k, v in data.items()}
    before = snapshot()
    response = client.post(world.fill(path), data)
    assert response.status_code == 403
    assert snapshot() == before


def test_a_session_cannot_drive_the_api_without_a_csrf_token(world, alice):
    """The API also takes the browser's session (the browsable API); a forged cross-site POST
    carrying that cookie must not act."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get(f"/v2.1/servers/{world.mine.uuid}").status_code == 200
    before = snapshot()
    response = client.post(
        f"/v2.1/servers/{world.mine.uuid}/action",
        {"os-stop": None},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert list(response.json()) == ["forbidden"]
    assert snapshot() == before


PAGES = [
    "/instances/",
    "/instances/{mine}/",
    "/instances/new/",
    "/states/",
    "/hosts/",
    "/hosts/node1/",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_post_form_on_every_page_carries_a_csrf_token(world, admin_client, path):
    html = admin_client.get(world.fill(path)).content.decode()
    forms = re.findall(r"<form\b[^>]*>.*?</form>", html, flags=re.S)
    posting = [f for f in forms if re.search(r'method="post"', f[: f.index(">")], flags=re.I)]
    assert posting or path in ("/states/", "/hosts/")
    for form in posting:
        assert 'name="csrfmiddlewaretoken"' in form, form[:200]


def test_the_login_page_form_carries_a_csrf_token():
    html = Client().get("/login/").content.decode()
    assert 'name="csrfmiddlewaretoken"' in html


def test_the_session_cookie_is_http_only_same_site_and_renewed_at_login(alice):
    client = Client()
    client.session["probe"] = "anonymous"  # an anonymous session exists before the login
    client.session.save()
    before = client.cookies["sessionid"].value
    client.post("/login/", {"username": "alice", "password": "alice-pass"})
    cookie = client.cookies["sessionid"]
    assert cookie.value != before  # no session fixation
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert 0 < settings.SESSION_COOKIE_AGE <= 12 * 3600


def test_logging_out_ends_the_session_on_the_server_and_needs_a_post(alice_client):
    old = alice_client.cookies["sessionid"].value
    assert alice_client.get("/logout/").status_code == 405
    assert alice_client.post("/logout/").status_code == 302
    replay = Client()
    replay.cookies["sessionid"] = old
    assert replay.get("/instances/").status_code == 302


# --- API tokens -----------------------------------------------------------------------------


def test_only_a_digest_of_a_token_is_stored(alice):
    raw = issue_token("alice", "alice-pass", "demo")
    record = Token.objects.get(digest=hashlib.sha256(raw.encode()).hexdigest())
    assert not Token.objects.filter(digest=raw).exists()
    assert raw not in repr(list(Token.objects.values_list()))
    assert record.expires_at - record.issued_at == timezone.timedelta(seconds=settings.TOKEN_TTL)


def test_a_token_answer_is_never_cached(alice):
    response = DocumentedClient().post(
        TOKENS, password_body("alice", "alice-pass", "demo"), format="json"
    )
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"


def test_an_expired_token_is_refused(world, alice_api):
    Token.objects.update(expires_at=timezone.now() - timezone.timedelta(seconds=1))
    response = alice_api.get("/v2.1/servers")
    assert response.status_code == 401
    assert list(response.json()) == ["error"]


def test_a_revoked_token_is_refused_and_stays_refused(world, alice):
    raw = issue_token("alice", "alice-pass", "demo")
    client = DocumentedClient()
    client.credentials(HTTP_X_AUTH_TOKEN=raw)
    assert client.get("/v2.1/servers").status_code == 200
    assert client.delete(TOKENS, HTTP_X_SUBJECT_TOKEN=raw).status_code == 204
    assert client.get("/v2.1/servers").status_code == 401
    # Nor can it mint a fresh token by the token method.
    rescoped = DocumentedClient().post(
        TOKENS,
        {"auth": {"identity": {"methods": ["token"], "token": {"id": raw}}}},
        format="json",
    )
    assert rescoped.status_code == 401


def test_an_unscoped_token_cannot_use_the_compute_api(alice):
    raw = issue_token("alice", "alice-pass", None)
    assert DocumentedClient().get("/v2.1/servers", HTTP_X_AUTH_TOKEN=raw).status_code == 401


def test_a_token_of_a_deactivated_user_is_refused(world, alice, alice_api):
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert alice_api.get("/v2.1/servers").status_code == 401


# --- passwords --------------------------------------------------------------------------------


def test_passwords_use_djangos_default_hashers_and_are_never_stored_as_given(settings):
    assert not hasattr(project_settings, "PASSWORD_HASHERS")  # Django's defaults: PBKDF2 first
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    user = user_ensure(username="erin", password="a long pass phrase", project="demo").user
    assert user.password.startswith("pbkdf2_sha256$")
    assert "a long pass phrase" not in user.password
    assert check_password("a long pass phrase", user.password)


def test_an_unknown_username_costs_a_password_hash_like_a_known_one(alice, monkeypatch):
    """Otherwise the answer's timing tells which usernames exist."""
    from django.contrib.auth.base_user import AbstractBaseUser

    hashed = []
    original = AbstractBaseUser.set_password

    def counting(self: Any, raw: str | None) -> None:
        hashed.append(raw)
        original(self, raw)

    monkeypatch.setattr(AbstractBaseUser, "set_password", counting)
    response = DocumentedClient().post(
        TOKENS, password_body("nobody", "guess", None), format="json"
    )
    assert response.status_code == 401
    assert hashed == ["guess"]


# --- log-in rate limiting ---------------------------------------------------------------------


def page_login(username: str, password: str, *, ip: str = "127.0.0.1") -> Any:
    return Client(REMOTE_ADDR=ip).post("/login/", {"username": username, "password": password})


def api_login(username: str, password: str, *, ip: str = "127.0.0.1") -> Any:
    return DocumentedClient(REMOTE_ADDR=ip).post(
        TOKENS, password_body(username, password, "demo"), format="json"
    )


def test_the_login_page_locks_a_username_out_after_five_wrong_passwords(alice):
    for _ in range(5):
        assert page_login("alice", "wrong").status_code == 200
    locked = page_login("alice", "alice-pass")
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 0
    assert "Too many failed log-in attempts" in locked.content.decode()
    assert "sessionid" not in locked.cookies
    # Someone else, or the same user from elsewhere, is not locked out.
    assert page_login("alice", "alice-pass", ip="10.0.0.9").status_code == 302


def test_the_identity_endpoint_locks_a_username_out_after_five_wrong_passwords(alice):
    for _ in range(5):
        assert api_login("alice", "wrong").status_code == 401
    locked = api_login("alice", "alice-pass")
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 0
    assert locked.json()["error"]["code"] == 429
    assert Token.objects.count() == 0


def test_the_page_and_the_api_count_into_the_same_counter_whatever_the_case(alice):
    for _ in range(3):
        page_login("Alice", "wrong")
    for _ in range(2):
        api_login("ALICE", "wrong")
    assert page_login("alice", "alice-pass").status_code == 429
    assert api_login("alice", "alice-pass").status_code == 429


def test_a_successful_login_clears_the_count(alice):
    for _ in range(4):
        page_login("alice", "wrong")
    assert page_login("alice", "alice-pass").status_code == 302
    for _ in range(4):
        page_login("alice", "wrong")
    assert page_login("alice", "alice-pass").status_code == 302


def test_spraying_many_usernames_from_one_address_locks_the_address(alice, settings):
    settings.LOGIN_RATE_LIMIT = {**settings.LOGIN_RATE_LIMIT, "ip_failures": 8}
    for n in range(8):
        assert api_login(f"user{n}", "Password1").status_code == 401
    assert page_login("alice", "alice-pass").status_code == 429
    assert page_login("alice", "alice-pass", ip="10.0.0.9").status_code == 302


def test_a_lockout_ends_after_its_time(alice, monkeypatch):
    for _ in range(5):
        page_login("alice", "wrong")
    assert page_login("alice", "alice-pass").status_code == 429
    later = time.time() + settings.LOGIN_RATE_LIMIT["lockout"] + 1
    monkeypatch.setattr(time, "time", lambda: later)
    assert page_login("alice", "alice-pass").status_code == 302


def test_a_member_with_no_project_left_can_log_in_but_sees_nothing(world, alice, alice_client):
    Membership.objects.filter(user=alice).delete()
    html = alice_client.get("/instances/").content.decode()
    assert "alice-web" not in html
    assert "bob-db" not in html
