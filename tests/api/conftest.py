"""Fixtures of the API tests: clients holding a real token, and a check that every answer the
tests see is one the OpenAPI document lists for that operation."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from compute.models import Project
from dashboard.api.identity import tokens
from dashboard.api.microversions import MAX_VERSION

ANY_VERSION = f"compute {MAX_VERSION}"


@cache
def api_schema() -> dict[str, Any]:
    """The OpenAPI document, generated once per test session."""
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


@cache
def documented_codes() -> list[tuple[re.Pattern[str], str, frozenset[int]]]:
    """(path regex, method, documented status codes) for every operation of the schema."""
    schema = api_schema()
    table = []
    # Literal paths first, so /servers/detail is not read as /servers/{server_id}.
    for path, operations in sorted(schema["paths"].items(), key=lambda p: p[0].count("{")):
        parts = re.split(r"\{[^/]+\}", path.rstrip("/"))
        pattern = "[^/]+".join(re.escape(part) for part in parts) + "/?$"
        for method, operation in operations.items():
            codes = frozenset(int(c) for c in operation["responses"])
            table.append((re.compile("^" + pattern), method.upper(), codes))
    return table


def codes_for(method: str, path: str) -> frozenset[int] | None:
    for pattern, verb, codes in documented_codes():
        if verb == method and pattern.match(path):
            return codes
    return None


class DocumentedClient(APIClient):
    """An APIClient that fails the test on an answer the OpenAPI document does not list.

    ``version`` is the microversion it asks for unless a request names its own.
    """

    version: str | None = None

    def request(self, **kwargs: Any) -> Any:
        if self.version and "HTTP_OPENSTACK_API_VERSION" not in kwargs:
            kwargs["HTTP_OPENSTACK_API_VERSION"] = self.version
        response = super().request(**kwargs)
        method, path = kwargs["REQUEST_METHOD"], kwargs["PATH_INFO"]
        if method in ("GET", "POST", "PUT", "DELETE") and not path.startswith("/api/"):
            # A path that is no operation at all may only be a 404.
            codes = codes_for(method, path) or frozenset({404})
            assert response.status_code in codes, (
                f"{method} {path} answered {response.status_code}, documented {sorted(codes)}: "
                f"{response.content[:300]!r}"
            )
        return response


def password_body(username: str, password: str, project: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": username, "domain": {"id": "default"}, "password": password}
                },
            }
        }
    }
    if project is not None:
        body["auth"]["scope"] = {"project": {"name": project, "domain": {"id": "default"}}}
    return body


def issue_token(username: str, password: str, project: str | None) -> str:
    response = DocumentedClient().post(
        "/identity/v3/auth/tokens", password_body(username, password, project), format="json"
    )
    assert response.status_code == 201, response.content
    return response["X-Subject-Token"]


@pytest.fixture
def client_for() -> Callable[..., DocumentedClient]:
    """A client authenticated with a token of ``user`` in ``project``."""

    def make(user: User, project: str, *, version: str | None = ANY_VERSION) -> DocumentedClient:
        # Minted by the token service directly: logging in over HTTP is test_identity's job.
        issued = tokens.token_issue(
            user=user, project=Project.objects.get(name=project), methods=["password"]
        )
        client = DocumentedClient()
        client.credentials(HTTP_X_AUTH_TOKEN=issued.token)
        client.version = version
        return client

    return make


@pytest.fixture
def alice_api(alice: User, client_for: Callable[..., DocumentedClient]) -> DocumentedClient:
    return client_for(alice, "demo")


@pytest.fixture
def bob_api(bob: User, client_for: Callable[..., DocumentedClient]) -> DocumentedClient:
    return client_for(bob, "other")


@pytest.fixture
def admin_api(admin_user: User, client_for: Callable[..., DocumentedClient]) -> DocumentedClient:
    return client_for(admin_user, "admin")


@pytest.fixture
def anonymous() -> DocumentedClient:
    return DocumentedClient()


#: The request header that asks for the project's ``vmdash:…`` keys in Nova's bodies.
EXTRAS = {"HTTP_X_VMDASH_EXTRAS": "1"}


def at(version: str) -> dict[str, str]:
    """Per-request headers asking for a microversion (overriding the client's default)."""
    return {"HTTP_OPENSTACK_API_VERSION": f"compute {version}"}
