"""The API's texts are Nova's, in English, whatever the caller's browser or page language."""

from __future__ import annotations

import pytest

from dashboard.models import Preference

pytestmark = pytest.mark.django_db


def test_the_api_keeps_novas_english_whatever_the_language(alice, alice_api):
    Preference.objects.create(user=alice, language="zh-hans")
    answer = alice_api.get("/v2.1/servers/nope", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert answer.status_code == 404
    assert answer.json()["itemNotFound"]["message"] == "Instance nope could not be found."
