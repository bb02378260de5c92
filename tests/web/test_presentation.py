"""One presentation map for every page and the live script: every value of every state
vocabulary has a label and a tone, and the sync warning is the sync's own decision."""

from __future__ import annotations

import json

import pytest
from django.utils import translation

from compute.states import PowerState, TaskState, VmState
from compute.status import HostStatus, Status
from compute.sync.decisions import Correction, decide
from dashboard.web.presentation import TONES, badge, presentation_json
from dashboard.web.sync_hints import sync_hint

VOCABULARIES = [
    ("vm_state", VmState.values),
    ("task_state", TaskState.values),
    ("power_state", PowerState.values),
    ("status", [s.value for s in Status]),
    ("host_status", [s.value for s in HostStatus]),
    ("service", ["enabled", "disabled"]),
]


@pytest.mark.parametrize(
    ("kind", "value"), [(kind, value) for kind, values in VOCABULARIES for value in values]
)
def test_every_state_value_has_a_label_and_a_known_tone(kind, value):
    b = badge(kind, value)
    assert b.label and b.tone in TONES
    assert b.title.startswith(b.title.split(":")[0])


def test_no_task_and_no_host_are_shown_in_words():
    assert badge("task_state", None).label == "None"
    assert badge("host_status", "").label


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_live_script_gets_the_same_map_the_server_renders_with(language):
    with translation.override(language):
        data = json.loads(presentation_json())
        for kind, values in VOCABULARIES:
            for value in values:
                b = badge(kind, value)
                assert data["badges"][kind][str(value)] == {
                    "label": b.label,
                    "tone": b.tone,
                    "description": b.description,
                }


def test_other_languages_keep_novas_identifiers_in_the_badge_and_explain_them():
    with translation.override("zh-hans"):
        active = badge("vm_state", "active")
        assert active.label == "active"
        assert active.title.startswith("vm_state: active — ")
        assert badge("power_state", 1).label == "RUNNING"
        assert badge("task_state", "powering-off").label == "powering-off"
    with translation.override("en"):
        assert badge("vm_state", "active").title == "vm_state: active"


@pytest.mark.parametrize("vm_state", VmState.values)
@pytest.mark.parametrize("power", PowerState.values)
def test_the_disagreement_warning_appears_exactly_where_the_sync_would_act_or_warn(vm_state, power):
    verdict = decide(vm_state, power)
    hint = sync_hint(vm_state, None, power)
    assert (hint is not None) == (verdict.correction is not Correction.NONE or verdict.warn)
    if verdict.correction in (Correction.STOP, Correction.FORCE_STOP):
        assert "stop" in hint


def test_no_warning_while_a_task_is_in_progress_as_the_sync_skips_the_row():
    assert sync_hint(VmState.ACTIVE, TaskState.POWERING_OFF, PowerState.SHUTDOWN) is None
