"""What users ask of consoles (Nova's ``compute.api`` console calls): the console log, and a
remote console's one-time token (issued, then spent by the console socket).

The order of Nova's checks is kept: the instance as the caller may see it (404), the policy
(403), a host to ask (``check_instance_host``: 409 "Instance … is not ready"), then the host's
driver (a guest the hypervisor lacks, or no console: 404).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from compute.conf import conf
from compute.consoles import client
from compute.context import RequestContext
from compute.exceptions import (
    ConsoleTypeInvalid,
    ConsoleTypeUnavailable,
    InstanceInvalidState,
    InstanceNotFoundOnHypervisor,
    InstanceNotReady,
    InvalidToken,
    NotFound,
    NotImplementedFeature,
)
from compute.models import ConsoleToken, Instance
from compute.policy import authorize
from compute.selectors import instance_get
from compute.states import TaskState, VmState

#: What Nova's API removes from the log before answering (its old XML escaping, kept).
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f]")


def console_instance(*, context: RequestContext, instance_uuid: str, rule: str) -> Instance:
    """The instance, if the caller may use its console under ``rule`` and it has a host."""
    instance = instance_get(context=context, instance_uuid=instance_uuid, joined=("host",))
    authorize(context, rule)
    if instance.host_id is None:
        raise InstanceNotReady(instance_uuid=str(instance.uuid))
    return instance


def console_output_get(
    *, context: RequestContext, instance_uuid: str, length: int | None = None
) -> str:
    """Nova's ``get_console_output``: the log's last ``length`` lines (all with None; Nova's
    ``_tail_log`` arithmetic kept, so -1 drops the first line), as ASCII, control characters
    other than tab and newline removed."""
    instance = console_instance(
        context=context, instance_uuid=instance_uuid, rule="os_compute_api:os-console-output"
    )
    assert instance.host is not None
    try:
        log = client.console_log(instance.host.host, str(instance.uuid))
    except InstanceNotFoundOnHypervisor:
        raise NotFound(f"Instance {instance.uuid} could not be found.") from None
    output = log.encode("utf-8", "replace")
    if length is not None:
        output = b"" if length == 0 else b"\n".join(output.split(b"\n")[-length:])
    return _UNPRINTABLE.sub("", output.decode("ascii", "replace"))


# --- remote consoles ---------------------------------------------------------------------------
#: The console type each protocol served here offers (Nova's ``get_vnc_console`` and
#: ``get_serial_console`` accept only these).
TYPES = {"vnc": "novnc", "serial": "serial"}
#: Tasks during which Nova refuses a console (``reject_instance_state``).
_REFUSING_TASKS = (TaskState.DELETING, TaskState.MIGRATING)


@dataclass(frozen=True)
class IssuedConsole:
    protocol: str
    console_type: str
    #: The one-time token, given to the caller once; only its hash is kept.
    token: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def remote_console_create(
    *, context: RequestContext, instance_uuid: str, protocol: str, console_type: str
) -> IssuedConsole:
    """Nova's ``create`` of ``remote-consoles`` (and the older ``os-get*Console``): its checks in
    its order, then a token for the console the host's driver names."""
    instance = instance_get(context=context, instance_uuid=instance_uuid, joined=("host",))
    authorize(context, "os_compute_api:os-remote-consoles")
    if protocol == "rdp":
        raise ConsoleTypeUnavailable(console_type=protocol)
    if protocol == "mks":
        raise NotImplementedFeature()
    uuid = str(instance.uuid)
    if instance.host_id is None:
        raise InstanceNotReady(instance_uuid=uuid)
    if instance.task_state in _REFUSING_TASKS:
        raise InstanceInvalidState(
            instance_uuid=uuid,
            action=f"get_{protocol}_console",
            attr="task_state",
            state=instance.task_state,
        )
    if protocol not in TYPES:  # spice: not enabled on any host here
        raise ConsoleTypeUnavailable(console_type=console_type)
    if console_type != TYPES[protocol]:
        raise ConsoleTypeInvalid(console_type=console_type)
    assert instance.host is not None
    try:
        target = client.console_target(instance.host.host, uuid, protocol)
    except InstanceNotFoundOnHypervisor:
        if instance.vm_state == VmState.BUILDING:
            raise InstanceNotReady(instance_uuid=uuid) from None
        raise NotFound(f"Instance {uuid} could not be found.") from None
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        ConsoleToken.objects.filter(expires_at__lt=now - timedelta(hours=1)).delete()
        ConsoleToken.objects.create(
            token_hash=token_hash(token),
            instance=instance,
            project_id=instance.project_id,
            user_id=context.user_id,
            console_type=console_type,
            host=target.host if target.kind == "tcp" else "",
            port=target.port if target.kind == "tcp" else 0,
            created_at=now,
            expires_at=now + timedelta(seconds=conf().console_token_ttl),
        )
    return IssuedConsole(protocol=protocol, console_type=console_type, token=token)


def console_token_consume(
    *, context: RequestContext, token: str, console_type: str
) -> ConsoleToken:
    """Spend a console token for one connection by ``context``'s user: the token must be
    unused and unexpired, for this kind of console, and its instance in one of the user's
    projects (a stolen URL is useless to anybody else). Another project's user is told the
    instance does not exist, and the token is left for its owner."""
    row = (
        ConsoleToken.objects.select_related("instance", "instance__host")
        .filter(token_hash=token_hash(token), console_type=console_type)
        .first()
    )
    now = timezone.now()
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise InvalidToken(token=token)
    if not (context.is_admin or row.project_id in context.project_ids):
        raise NotFound(f"Instance {row.instance.uuid} could not be found.")
    spent = ConsoleToken.objects.filter(pk=row.pk, used_at__isnull=True, expires_at__gt=now)
    if not spent.update(used_at=now):  # another connection spent it first
        raise InvalidToken(token=token)
    row.used_at = now
    return row
