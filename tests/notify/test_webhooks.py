"""Webhooks against a real local HTTP receiver: each event exactly once with a valid signature,
the backlog after the receiver was down, a replayed or altered request caught by the documented
check, and URLs that must never be fetched refused."""

from __future__ import annotations

import json
import time

import pytest
from django.test import override_settings

from compute.drivers.fake import set_guest_state
from compute.exceptions import Invalid
from compute.models import Delivery, DeliveryAttempt, FakeGuest, Host
from compute.notify import runner, signing
from compute.notify.derive import cursor_start
from compute.notify.queries import delivery_log
from compute.notify.subscriptions import subscription_create
from compute.notify.targets import check_webhook_url
from compute.services import host_update
from compute.states import PowerState
from compute.sync.passes import sync_host
from tests.support.webhook import WebhookReceiver

pytestmark = pytest.mark.django_db

LOCAL = {"allow_private_webhooks": True, "retry_base": 0.5, "retry_max": 4.0, "interval": 0.05}


@pytest.fixture
def receiver():
    hook = WebhookReceiver().start()
    yield hook
    hook.stop()


def crash(agent, instance) -> None:
    set_guest_state(FakeGuest.objects.get(uuid=instance.uuid), PowerState.CRASHED)
    sync_host(host=agent.host, driver=agent.driver)


def pump(until, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "the notifier did not get there in time"
        runner.run_once()
        time.sleep(0.05)


def verified(secret: str, request) -> bool:
    h = request.headers
    return signing.verify(
        secret,
        timestamp=h[signing.TIMESTAMP_HEADER],
        body=request.body,
        signature=h[signing.SIGNATURE_HEADER],
    )


@override_settings(NOTIFICATIONS=LOCAL)
def test_the_receiver_gets_each_event_exactly_once_with_a_valid_signature(
    receiver, agent_factory, make_instance, alice_ctx, admin_ctx
):
    agent = agent_factory("node1")
    one, two = make_instance("active", name="one"), make_instance("active", name="two")
    sub = subscription_create(
        context=alice_ctx, scope="project", target=alice_ctx.project_id, webhook_url=receiver.url
    )
    admin_sub = subscription_create(
        context=admin_ctx, scope="host", target="node1", webhook_url=receiver.url
    )
    cursor_start()
    crash(agent, one)
    crash(agent, two)
    host_update(context=admin_ctx, host=Host.objects.get(host="node1"), status="disabled")
    # The crashes' corrections run on node1 (each stop also tells the admin's host subscription).
    pump(lambda: not Delivery.objects.filter(state="pending").exists())
    for _ in range(5):  # more passes change nothing
        runner.run_once()
    time.sleep(0.2)
    got = receiver.received
    ids = [r.headers[signing.DELIVERY_HEADER] for r in got]
    assert len(ids) == len(set(ids)) == Delivery.objects.count()
    secrets = {str(d.pk): d.subscription.webhook_secret for d in Delivery.objects.all()}
    assert all(verified(secrets[r.headers[signing.DELIVERY_HEADER]], r) for r in got)
    alice_bodies = [
        json.loads(r.body)
        for r in got
        if secrets[r.headers[signing.DELIVERY_HEADER]] == sub.webhook_secret
    ]
    assert sorted(b["payload"]["nova_object.data"]["display_name"] for b in alice_bodies) == [
        "one",
        "two",
    ]
    assert {b["event_type"] for b in alice_bodies} == {"instance.power_off.start"}
    admin_types = sorted(
        json.loads(r.body)["event_type"]
        for r in got
        if secrets[r.headers[signing.DELIVERY_HEADER]] == admin_sub.webhook_secret
    )
    assert admin_types == ["instance.power_off.start"] * 2 + ["service.update"]
    envelope = alice_bodies[0]
    assert set(envelope) >= {"priority", "event_type", "publisher_id", "payload"}
    assert envelope["payload"]["nova_object.namespace"] == "nova"
    log = list(delivery_log(context=alice_ctx, subscription_id=sub.pk))
    assert len(log) == 2 and all(a.ok and a.status_code == 204 for a in log)


@override_settings(NOTIFICATIONS=LOCAL)
def test_the_backlog_arrives_once_after_the_receiver_was_down_for_30_seconds(
    receiver, agent, make_instance, alice_ctx
):
    vms = [make_instance("active", name=f"vm{i}") for i in range(3)]
    sub = subscription_create(
        context=alice_ctx, scope="project", target=alice_ctx.project_id, webhook_url=receiver.url
    )
    cursor_start()
    receiver.stop()
    down_at = time.monotonic()
    for vm in vms:
        crash(agent, vm)
    while time.monotonic() - down_at < 30:
        runner.run_once()
        time.sleep(0.2)
    assert receiver.received == []
    failures = DeliveryAttempt.objects.filter(ok=False)
    assert failures.count() >= 3 * 3  # each retried, with backoff, while it was down
    assert all(a.status_code is None and "Connection" in a.excerpt for a in failures)
    receiver.start()
    pump(lambda: not Delivery.objects.filter(state="pending").exists(), timeout=15)
    time.sleep(0.2)
    names = sorted(
        json.loads(r.body)["payload"]["nova_object.data"]["display_name"] for r in receiver.received
    )
    assert names == ["vm0", "vm1", "vm2"]
    assert all(verified(sub.webhook_secret, r) for r in receiver.received)


@override_settings(NOTIFICATIONS=LOCAL)
def test_a_replayed_or_altered_request_fails_the_documented_check(
    receiver, agent, make_instance, alice_ctx
):
    vm = make_instance("active")
    sub = subscription_create(
        context=alice_ctx, scope="instance", target=str(vm.uuid), webhook_url=receiver.url
    )
    cursor_start()
    crash(agent, vm)
    pump(lambda: len(receiver.received) == 1)
    (request,) = receiver.received
    h = request.headers
    stamp, signature = h[signing.TIMESTAMP_HEADER], h[signing.SIGNATURE_HEADER]
    check = dict(timestamp=stamp, signature=signature)
    assert signing.verify(sub.webhook_secret, body=request.body, **check)
    altered = request.body.replace(b'"crashed"', b'"running"')
    assert altered != request.body
    assert not signing.verify(sub.webhook_secret, body=altered, **check)
    assert not signing.verify("another-secret", body=request.body, **check)
    # The same request sent again ten minutes later: signed right, but stale.
    later = float(stamp) + 600
    assert not signing.verify(sub.webhook_secret, body=request.body, now=later, **check)
    # A timestamp moved forward to pass the freshness check breaks the signature.
    assert not signing.verify(
        sub.webhook_secret, body=request.body, timestamp=str(int(later)), signature=signature
    )


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "http:///nohost",
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://user:pw@example.com/hook",
    ],
)
def test_a_webhook_url_that_is_not_public_http_is_refused(url, alice_ctx):
    with pytest.raises(Invalid):
        check_webhook_url(url)
    with pytest.raises(Invalid):
        subscription_create(
            context=alice_ctx, scope="project", target=alice_ctx.project_id, webhook_url=url
        )


def test_a_webhook_refused_at_send_time_is_logged_and_given_up(
    agent, make_instance, alice_ctx, receiver
):
    vm = make_instance("active")
    with override_settings(NOTIFICATIONS=LOCAL):
        subscription_create(
            context=alice_ctx, scope="instance", target=str(vm.uuid), webhook_url=receiver.url
        )
    cursor_start()
    crash(agent, vm)
    runner.run_once()  # the setting was turned off since: the loopback URL is refused
    (delivery,) = Delivery.objects.all()
    assert delivery.state == "failed" and receiver.received == []
    (attempt,) = delivery.log.all()
    assert attempt.excerpt.startswith("refused: The webhook host '127.0.0.1' resolves to")
