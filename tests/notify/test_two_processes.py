"""Two notifier processes on one PostgreSQL database (as two web processes run it): every change
is told once per subscriber and every webhook delivered once — the cursor row is the lease, each
delivery is claimed by a conditional UPDATE. Runs on the PostgreSQL pass only (DATABASE_URL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from compute.models import Delivery, Host, Notification
from compute.notify.derive import cursor_start
from compute.notify.subscriptions import subscription_create
from compute.services import host_update
from tests.support.webhook import WebhookReceiver

ROOT = Path(__file__).resolve().parents[2]
FLIPS = 20


@pytest.mark.django_db(transaction=True)
def test_two_notifier_processes_tell_each_change_once_and_deliver_each_once(
    agent, admin_ctx, tmp_path
):
    if connection.vendor != "postgresql":
        pytest.skip("two processes sharing a lease need PostgreSQL (DATABASE_URL)")
    receiver = WebhookReceiver().start()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "NOTIFY_ALLOW_PRIVATE_WEBHOOKS": "1",
        "NOTIFY_INTERVAL": "0.02",
        "LOG_LEVEL": "WARNING",
    }
    from django.test import override_settings

    with override_settings(NOTIFICATIONS={"allow_private_webhooks": True}):
        subscription_create(
            context=admin_ctx, scope="host", target="node1", webhook_url=receiver.url
        )
    cursor_start()
    logs = [open(tmp_path / f"notify{i}.log", "w") for i in range(2)]  # noqa: SIM115
    procs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "notify", "run"],
            cwd=ROOT,
            env=env,
            stdout=logs[i],
            stderr=subprocess.STDOUT,
        )
        for i in range(2)
    ]
    try:
        time.sleep(2)  # both started and polling
        for i in range(FLIPS):
            status = "disabled" if i % 2 == 0 else "enabled"
            host_update(context=admin_ctx, host=Host.objects.get(host="node1"), status=status)
            time.sleep(0.03)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if (
                Notification.objects.count() == FLIPS
                and Delivery.objects.filter(state="delivered").count() == FLIPS
            ):
                break
            time.sleep(0.1)
        time.sleep(1.0)  # a duplicate would have arrived by now
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        for log in logs:
            log.close()
        receiver.stop()
    output = "".join((tmp_path / f"notify{i}.log").read_text() for i in range(2))
    assert "Traceback" not in output, output
    assert Notification.objects.count() == FLIPS
    assert Delivery.objects.filter(state="delivered").count() == FLIPS
    got = [r.headers["X-Vmdash-Delivery"] for r in receiver.received]
    assert len(got) == len(set(got)) == FLIPS
    titles = [json.loads(r.body)["vmdash"]["title"] for r in receiver.received]
    assert sorted(titles).count("Host node1 is MAINTENANCE (was UP)") == FLIPS // 2
