"""Security groups, as Nova's ``os-security-groups`` proxy serves them in front of Neutron: a
project's groups (``default`` made on first use, with the id ``networks.security_group_id``
gives it), their ingress rules, and the servers that name them (``ServerExtras``).

The rules are kept and shown; no driver here filters a guest's traffic by them (the fake
hypervisor has no traffic, the libvirt driver attaches no filter), which the docs say.
Refusals carry Nova's texts for Neutron's answers: a group in use or the default group
cannot be deleted (400), a duplicate rule is refused (400).
"""

from __future__ import annotations

import ipaddress
import uuid as uuidlib
from typing import Any

from django.db import IntegrityError, transaction

from compute.context import RequestContext
from compute.exceptions import Forbidden, Invalid, NotFound
from compute.models import Instance, SecurityGroup, SecurityGroupRule, ServerExtras
from compute.networks import security_group_id
from compute.services import quotas

DEFAULT = "default"


def _uuid(value: object, message: str) -> uuidlib.UUID:
    try:
        return uuidlib.UUID(str(value))
    except ValueError:
        raise Invalid(message) from None


def default_group(project_id: str) -> SecurityGroup:
    """The project's ``default`` group, made the first time anything asks for it."""
    ident = uuidlib.UUID(security_group_id(project_id, DEFAULT))
    found = SecurityGroup.objects.filter(uuid=ident).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return SecurityGroup.objects.create(
                uuid=ident,
                project_id=project_id,
                name=DEFAULT,
                description="Default security group",
            )
    except IntegrityError:  # made meanwhile by a concurrent request
        return SecurityGroup.objects.get(uuid=ident)


def security_group_list(
    *, context: RequestContext, all_tenants: bool = False
) -> list[SecurityGroup]:
    """The caller's project's groups (every project's for an admin asking ``all_tenants``)."""
    if context.project_id:
        default_group(context.project_id)
    rows = SecurityGroup.objects.prefetch_related("rules__remote_group")
    if not (context.is_admin and all_tenants):
        rows = rows.filter(project_id=context.project_id)
    return list(rows)


def security_group_get(*, context: RequestContext, group_id: str) -> SecurityGroup:
    ident = _uuid(group_id, "Security group id should be uuid")
    rows = SecurityGroup.objects.prefetch_related("rules__remote_group")
    if not context.is_admin:
        rows = rows.filter(project_id__in=context.project_ids)
    found = rows.filter(uuid=ident).first()
    if found is None:
        raise NotFound(f"Security group {group_id} does not exist")
    return found


def security_group_create(*, context: RequestContext, name: str, description: str) -> SecurityGroup:
    project_id = str(context.project_id)
    default_group(project_id)
    if name == DEFAULT:
        raise Forbidden("Default security group already exists.")
    limit = quotas.project_limits(project_id)["security_groups"]
    if 0 <= limit <= SecurityGroup.objects.filter(project_id=project_id).count():
        raise Forbidden("Quota exceeded for resources: ['security_group'].")
    return SecurityGroup.objects.create(project_id=project_id, name=name, description=description)


def security_group_update(
    *, context: RequestContext, group: SecurityGroup, name: str, description: str
) -> SecurityGroup:
    if group.name == DEFAULT and name != DEFAULT:
        raise Invalid("Updating default security group not allowed.")
    group.name, group.description = name, description
    group.save(update_fields=["name", "description", "updated_at"])
    return group


def _in_use(group: SecurityGroup) -> bool:
    named = ServerExtras.objects.filter(
        instance__project_id=group.project_id, instance__deleted_at__isnull=True
    ).values_list("security_groups", flat=True)
    return any(group.name in (names or ()) for names in named)


def security_group_delete(*, context: RequestContext, group: SecurityGroup) -> None:
    if group.name == DEFAULT:
        raise Invalid("Insufficient rights for removing default security group.")
    if _in_use(group):
        raise Invalid(f"Security Group {group.uuid} in use.")
    group.delete()


def _ports(protocol: str | None, from_port: Any, to_port: Any) -> tuple[int, int] | None:
    """Nova's checks of a rule's protocol and ports (``security_group_api._new_ingress_rule``)."""
    if not (protocol and from_port is not None and to_port is not None):
        return None
    try:
        low, high = int(from_port), int(to_port)
    except (TypeError, ValueError):
        if protocol.upper() == "ICMP":
            raise Invalid("Invalid input received: Type and Code must be integers for ICMP "
                          "protocol type") from None  # fmt: skip
        raise Invalid("Invalid input received: To and From ports must be integers") from None
    kind = protocol.upper()
    if kind not in ("TCP", "UDP", "ICMP"):
        raise Invalid(f"Invalid IP protocol {protocol}.")
    bad = f"Invalid port range {low}:{high}. "
    if kind in ("TCP", "UDP") and low > high:
        raise Invalid(bad + "Former value cannot be greater than the later")
    if kind in ("TCP", "UDP") and (low < 1 or high > 65535):
        raise Invalid(bad + f"Valid {kind} ports should be between 1-65535")
    if kind == "ICMP" and not (-1 <= low <= 255 and -1 <= high <= 255):
        raise Invalid(bad + "For ICMP, the type:code must be valid")
    return low, high


def _cidr(value: Any) -> str:
    if not value:
        return "0.0.0.0/0"
    try:
        network = ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise Invalid(f"{value} is not a valid IP network.") from None
    if network.prefixlen == 0 and str(network.network_address) not in ("0.0.0.0", "::"):
        raise Invalid(f"Bad prefix for network in cidr {value}")
    return str(value)


def rule_create(
    *,
    context: RequestContext,
    parent_group_id: str,
    group_id: str | None,
    protocol: Any,
    from_port: Any,
    to_port: Any,
    cidr: Any,
) -> SecurityGroupRule:
    parent = security_group_get(context=context, group_id=parent_group_id)
    remote = security_group_get(context=context, group_id=group_id) if group_id else None
    proto = str(protocol) if protocol else None
    if remote is not None:
        # A rule from a group opens every port of its protocol unless a range is given.
        if proto and proto.upper() == "ICMP" and from_port is None and to_port is None:
            from_port = to_port = -1
        elif proto and proto.upper() in ("TCP", "UDP") and from_port is None and to_port is None:
            from_port, to_port = 1, 65535
        network = None
    else:
        network = _cidr(cidr)
    ports = _ports(proto, from_port, to_port)
    if ports is None and remote is None:
        raise Invalid("Not enough parameters to build a valid rule.")
    low, high = ports if ports is not None else (None, None)
    with transaction.atomic():
        for rule in SecurityGroupRule.objects.select_for_update().filter(group=parent):
            if (rule.remote_group_id, rule.cidr, rule.from_port, rule.to_port, rule.protocol) == (
                remote.pk if remote else None,
                network,
                low,
                high,
                proto if ports else None,
            ):
                raise Invalid(f"This rule already exists in group {parent.uuid}")
        return SecurityGroupRule.objects.create(
            group=parent,
            protocol=proto if ports else None,
            from_port=low,
            to_port=high,
            cidr=network,
            remote_group=remote,
        )


def rule_delete(*, context: RequestContext, rule_id: str) -> None:
    ident = _uuid(rule_id, "Security group id should be uuid")
    rows = SecurityGroupRule.objects.filter(uuid=ident)
    if not context.is_admin:
        rows = rows.filter(group__project_id__in=context.project_ids)
    if not rows.delete()[0]:
        raise NotFound(f"Security group rule {rule_id} does not exist")


def server_security_groups(*, instance: Instance, names: list[str]) -> list[SecurityGroup]:
    """The groups a server names, in its project (``default`` made if need be)."""
    default_group(instance.project_id)
    rows = SecurityGroup.objects.filter(project_id=instance.project_id, name__in=names)
    return list(rows.prefetch_related("rules__remote_group"))


def group_named(*, project_id: str, name: str) -> SecurityGroup | None:
    """A project's group by name or id, as Neutron resolves ``addSecurityGroup``'s name."""
    if name == DEFAULT:
        return default_group(project_id)
    rows = SecurityGroup.objects.filter(project_id=project_id)
    try:
        by_id = rows.filter(uuid=uuidlib.UUID(name)).first()
    except ValueError:
        by_id = None
    return by_id or rows.filter(name=name).first()
