"""Errors the API did not cause: a database that cannot be reached is a 503 to retry, not a 500."""

from __future__ import annotations

import pytest
from django.db import OperationalError


@pytest.mark.parametrize("path", ["/v2.1/servers", "/v2.1/servers/detail"])
def test_a_database_outage_is_novas_503_service_unavailable_with_retry_after(
    alice_api, monkeypatch, path
):
    def unreachable(**_: object) -> None:
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    monkeypatch.setattr("dashboard.api.views.servers.instance_list", unreachable)
    response = alice_api.get(path)
    assert response.status_code == 503
    assert response.json() == {
        "serviceUnavailable": {
            "code": 503,
            "message": "The service is unavailable; please retry shortly.",
        }
    }
    assert response["Retry-After"] == "5"
    assert "127.0.0.1" not in response.content.decode()  # the database's address stays inside
