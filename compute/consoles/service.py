"""What users ask of consoles (Nova's ``compute.api`` console calls): the console log now.

The order of Nova's checks is kept: the instance as the caller may see it (404), the policy
(403), a host to ask (``check_instance_host``: 409 "Instance … is not ready"), then the host's
driver (a guest the hypervisor lacks, or no console: 404).
"""

from __future__ import annotations

import re

from compute.consoles import client
from compute.context import RequestContext
from compute.exceptions import InstanceNotFoundOnHypervisor, InstanceNotReady, NotFound
from compute.models import Instance
from compute.policy import authorize
from compute.selectors import instance_get

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
