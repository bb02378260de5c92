"""The dict settings (COMPUTE, NOTIFICATIONS) read as dataclasses: defaults, caching, refusal."""

from __future__ import annotations

import pytest
from django.test import override_settings

from compute.conf import conf
from compute.notify.conf import notify_conf


@pytest.mark.parametrize(("setting", "reader"), [("COMPUTE", conf), ("NOTIFICATIONS", notify_conf)])
def test_a_misspelt_knob_is_refused_by_name(setting, reader):
    with (
        override_settings(**{setting: {"intervall": 1}}),
        pytest.raises(ValueError, match=f"Unknown {setting} settings: intervall"),
    ):
        reader()


def test_a_missing_knob_takes_its_default_and_a_given_one_wins():
    with override_settings(NOTIFICATIONS={"batch": 7}):
        assert notify_conf().batch == 7
        assert notify_conf().max_attempts == 12


def test_task_timeouts_given_in_part_keep_novas_other_defaults():
    with override_settings(COMPUTE={"task_timeouts": {"resize": 5.0}}):
        assert conf().task_timeout("resize") == 5.0
        assert conf().task_timeout("unshelve") == 1200.0
