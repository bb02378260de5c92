"""Fixtures of the security tests: two tenants with an instance each, their API clients and
signed-in pages, and a snapshot of everything a refused request must leave as it was.

alice is a member of ``demo``, bob of ``other``; admin holds the admin role in ``admin``. The API
and page fixtures are the ones the API and page tests use (imported, so there is one definition).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from compute.agent.agent import ComputeAgent
from compute.context import RequestContext
from compute.models import (
    ActionDispatch,
    ChangeEvent,
    Flavor,
    Host,
    HostAuditEntry,
    Image,
    Instance,
    InstanceAction,
    InstanceActionEvent,
    InstanceFault,
    Membership,
)
from dashboard.models import Token
from tests.api.conftest import (  # noqa: F401  (fixtures)
    admin_api,
    alice_api,
    anonymous,
    bob_api,
    client_for,
)
from tests.web.conftest import admin_client, alice_client, bob_client  # noqa: F401  (fixtures)


@pytest.fixture
def in_memory_layer(settings: Any) -> Iterator[None]:
    """Socket tests read the layer's group table, which only the in-memory layer exposes (the
    Redis layer's fan-out is the multi-process tests' business)."""
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@dataclass(frozen=True)
class World:
    """alice's and bob's instances, on one host."""

    mine: Instance
    foreign: Instance
    host: Host

    def fill(self, text: str) -> str:
        """``text`` with ``{mine}``, ``{foreign}``, ``{host}`` and ``{missing}`` filled in."""
        for name, value in (
            ("mine", self.mine.uuid),
            ("foreign", self.foreign.uuid),
            ("host", self.host.uuid),
            ("missing", "00000000-0000-4000-8000-000000000000"),
        ):
            text = text.replace("{" + name + "}", str(value))
        return text


@pytest.fixture
def world(
    make_instance: Callable[..., Instance],
    bob_ctx: RequestContext,
    agent: ComputeAgent,
    host: Host,
) -> World:
    mine = make_instance("active", name="alice-web")
    foreign = make_instance("active", name="bob-db", context=bob_ctx)
    return World(mine=mine, foreign=foreign, host=host)


def snapshot() -> dict[str, Any]:
    """Everything a request could change: rows with their versions, and the log tables' sizes."""
    return {
        "instances": sorted(
            Instance.objects.values_list(
                "uuid",
                "version",
                "name",
                "description",
                "vm_state",
                "task_state",
                "power_state",
                "locked",
                "locked_reason",
                "metadata",
                "deleted_at",
            )
        ),
        "hosts": sorted(
            Host.objects.values_list(
                "host", "version", "disabled", "disabled_reason", "forced_down"
            )
        ),
        "flavors": sorted(Flavor.objects.values_list("flavorid", "name", "description")),
        "live_tokens": Token.objects.filter(revoked_at__isnull=True).count(),
        "memberships": Membership.objects.count(),
        "images": Image.objects.count(),
        "change_events": ChangeEvent.objects.count(),
        "instance_actions": InstanceAction.objects.count(),
        "instance_action_events": InstanceActionEvent.objects.count(),
        "dispatches": ActionDispatch.objects.count(),
        "faults": InstanceFault.objects.count(),
        "host_audit": HostAuditEntry.objects.count(),
    }
