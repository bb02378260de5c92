"""Server groups (``os-server-groups``) and the scheduler hints that name hosts: ``group``
(affinity: the members' host; anti-affinity: none of them), ``same_host`` and
``different_host`` (instances' uuids).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from compute.exceptions import Forbidden, Invalid, NotFound
from compute.models import Instance, ServerGroup
from compute.services import quotas

POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")


def server_group_create(
    *, project_id: str, user_id: str, name: str, policy: str, rules: dict[str, Any]
) -> ServerGroup:
    count = ServerGroup.objects.filter(project_id=project_id).count() + 1
    limit = quotas.project_limits(project_id)["server_groups"]
    if 0 <= limit < count:
        raise Forbidden("Quota exceeded, too many server groups.")
    return ServerGroup.objects.create(
        name=name, project_id=project_id, user_id=user_id, policy=policy, rules=rules
    )


def server_group_get(*, group_id: str, project_ids: frozenset[str] | None) -> ServerGroup:
    rows = ServerGroup.objects.all()
    if project_ids is not None:
        rows = rows.filter(project_id__in=project_ids)
    try:
        found = rows.filter(uuid=group_id).first()
    except Exception:  # a malformed uuid is simply not found
        found = None
    if found is None:
        raise NotFound(f"Instance group {group_id} could not be found.")
    return found


def live_members(group: ServerGroup) -> list[str]:
    alive = set(
        str(u)
        for u in Instance.objects.filter(
            uuid__in=group.members, deleted_at__isnull=True
        ).values_list("uuid", flat=True)
    )
    return [m for m in group.members if m in alive]


def server_group_add_member(*, group: ServerGroup, instance_uuid: str) -> None:
    with transaction.atomic():
        locked = ServerGroup.objects.select_for_update().get(pk=group.pk)
        members = live_members(locked)
        limit = quotas.project_limits(locked.project_id)["server_group_members"]
        if 0 <= limit < len(members) + 1:
            raise Forbidden("Quota exceeded, too many servers in group")
        locked.members = [*members, instance_uuid]
        locked.save(update_fields=["members"])


def groups_of(instance_uuid: str) -> list[str]:
    """The uuids of the server groups ``instance_uuid`` belongs to: the database keeps the
    groups whose members' text holds the uuid (a uuid is its own exact match; both SQLite and
    PostgreSQL answer this, unlike a JSON containment), and the members list confirms."""
    return [
        str(g.uuid)
        for g in ServerGroup.objects.filter(members__icontains=instance_uuid).only(
            "uuid", "members"
        )
        if instance_uuid in (g.members or [])
    ]


def _hosts_of(uuids: list[str]) -> set[int]:
    return set(
        Instance.objects.filter(
            uuid__in=uuids, deleted_at__isnull=True, host__isnull=False
        ).values_list("host_id", flat=True)
    )


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def hint_constraints(
    *, hints: dict[str, Any], group: ServerGroup | None
) -> tuple[set[int] | None, set[int]]:
    """(hosts the instance must land on or None, hosts it must avoid) from the hints."""
    must: set[int] | None = None
    avoid: set[int] = set()
    if "same_host" in hints:
        must = _hosts_of(_as_list(hints["same_host"]))
    if "different_host" in hints:
        avoid |= _hosts_of(_as_list(hints["different_host"]))
    if group is not None and group.policy in ("affinity", "anti-affinity"):
        used = _hosts_of(live_members(group))
        if group.policy == "affinity" and used:
            must = used if must is None else must & used
        elif group.policy == "anti-affinity":
            avoid |= used
    return must, avoid


def check_policy(policy: str) -> None:
    if policy not in POLICIES:
        raise Invalid(f"Invalid input for field/attribute policy. Value: {policy}.")
