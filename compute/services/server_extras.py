"""What Nova's API keeps about a server beside its state: access IPs, the disk config, the key
pair's name, user data, tags, a multi-server create's reservation id and the security groups,
in ``ServerExtras`` (one row per server that has any). No state
column is touched, so this is not the state machine's business.
"""

from __future__ import annotations

from typing import Any

from compute.exceptions import Invalid, NotFound
from compute.models import Instance, ServerExtras
from compute.selectors.server_extras import (
    EXTRA_KEYS,
    security_groups_of,
    server_extras_of,
)
from compute.services.security_groups import group_named


def server_extras_set(*, instance_uuid: str, values: dict[str, Any]) -> None:
    """Set ``values`` (keys of ``EXTRA_KEYS``; None clears one) on the server's extras."""
    unknown = set(values) - set(EXTRA_KEYS)
    if unknown:
        raise ValueError(f"not a server extra: {sorted(unknown)}")
    pk = Instance.objects.filter(uuid=instance_uuid).values_list("pk", flat=True).first()
    if pk is None:
        return
    fields = {k: ([] if k == "tags" and v is None else v) for k, v in values.items()}
    ServerExtras.objects.update_or_create(instance_id=pk, defaults=fields)


def security_group_add(*, instance: Instance, project_id: str, name: str) -> None:
    """Nova's addSecurityGroup: a group of the server's project, by name (or id); adding one
    the server has changes nothing."""
    group = group_named(project_id=project_id, name=name)
    if group is None:
        raise NotFound(f"Security group {name} not found for project {project_id}.")
    groups = security_groups_of(server_extras_of(instance))
    if group.name not in groups:
        server_extras_set(
            instance_uuid=str(instance.uuid), values={"security_groups": [*groups, group.name]}
        )


def security_group_remove(*, instance: Instance, project_id: str, name: str) -> None:
    group = group_named(project_id=project_id, name=name)
    if group is None:
        raise NotFound(f"Security group {name} not found for project {project_id}.")
    groups = security_groups_of(server_extras_of(instance))
    if group.name not in groups:
        raise Invalid(f"Security group {name} not associated with the instance {instance.uuid}")
    server_extras_set(
        instance_uuid=str(instance.uuid),
        values={"security_groups": [g for g in groups if g != group.name]},
    )
