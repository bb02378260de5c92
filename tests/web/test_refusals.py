"""Nova's refusals in the page's language: an English page shows exactly Nova's words (the
API's), a Chinese one the translation with the identifiers kept; an unknown text passes as is."""

from __future__ import annotations

import pytest
from django.utils import translation

from compute.exceptions import InstanceInvalidState, InstanceIsLocked
from compute.policy import refused
from dashboard.web.refusals import in_language

NOVA = [
    InstanceInvalidState(
        instance_uuid="u-1", action="pause", attr="vm_state", state="paused"
    ).message,
    InstanceInvalidState(instance_uuid="u-1", action="restore", attr="locked", state=None).message,
    InstanceIsLocked(instance_uuid="u-1").message,
    refused("os_compute_api:servers:create").message,
    "Quota exceeded for cores, ram: Requested 2, 4096, but already used 19, 50000 of 20, 51200 "
    "cores, ram",
]


@pytest.mark.parametrize("text", NOVA)
def test_an_english_page_shows_novas_words_exactly(text):
    with translation.override("en"):
        assert in_language(text) == text


@pytest.mark.parametrize("text", NOVA)
def test_a_chinese_page_translates_them_and_keeps_the_identifiers(text):
    with translation.override("zh-hans"):
        shown = in_language(text)
    assert shown != text and any("\u4e00" <= ch <= "\u9fff" for ch in shown)
    for kept in ("u-1", "pause", "paused", "os_compute_api:servers:create", "cores, ram"):
        if kept in text:
            assert kept in shown


def test_an_unknown_text_and_nothing_pass_as_they_are():
    with translation.override("zh-hans"):
        assert in_language("Something the table does not know.") == (
            "Something the table does not know."
        )
        assert in_language(None) is None
    with translation.override("zh-hans"):
        assert in_language(NOVA[0]) == "实例 u-1 处于 vm_state paused，不能执行“pause”"
