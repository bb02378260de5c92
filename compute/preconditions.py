"""Preconditions: whether an action may start on an instance now, and if not, why.

``check`` is Nova's ``check_instance_state`` / ``check_instance_lock`` / ``check_instance_host``
read from the action table; ``evaluate`` runs the same check for every action, so the buttons a
page enables and the API's allowed-actions key can never disagree with what the services accept.
"""

from __future__ import annotations

from compute.actions import USER_ACTIONS, ActionSpec, HostCheck
from compute.context import RequestContext
from compute.exceptions import (
    ComputeError,
    Forbidden,
    InstanceInvalidState,
    InstanceIsLocked,
    InstanceNotReady,
    ServiceUnavailable,
)
from compute.models import Instance


def check(
    spec: ActionSpec, instance: Instance, context: RequestContext, *, host_up: bool | None = None
) -> None:
    """Raise the error Nova would for ``spec`` on ``instance``; return if it may start.

    The order is Nova's decorator order: policy, lock, then vm_state, task_state, launched_at,
    then host. ``host_up`` is the instance's compute service liveness, needed only for
    ``HostCheck.UP``; pass it to avoid a query when listing many instances.
    """
    uuid = str(instance.uuid)
    if spec.admin_only and not context.is_admin:
        raise Forbidden(f"Policy doesn't allow os_compute_api:{spec.api_name} to be performed.")
    if spec.check_lock and instance.locked and not context.is_admin:
        raise InstanceIsLocked(instance_uuid=uuid)
    if spec.vm_states is not None and instance.vm_state not in spec.vm_states:
        raise InstanceInvalidState(
            instance_uuid=uuid, action=spec.api_name, attr="vm_state", state=instance.vm_state
        )
    if spec.task_states is not None and instance.task_state not in spec.task_states:
        raise InstanceInvalidState(
            instance_uuid=uuid, action=spec.api_name, attr="task_state", state=instance.task_state
        )
    if spec.must_have_launched and instance.launched_at is None:
        raise InstanceInvalidState(
            instance_uuid=uuid, action=spec.api_name, attr="launched_at", state=None
        )
    if spec.host_check is not HostCheck.NONE:
        if instance.host_id is None:
            raise InstanceNotReady(instance_uuid=uuid)
        if spec.host_check is HostCheck.UP:
            up = host_up if host_up is not None else instance.host.is_up
            if not up:
                raise ServiceUnavailable()


def evaluate(
    instance: Instance, context: RequestContext, *, host_up: bool | None = None
) -> dict[str, str | None]:
    """For every action: None if it may start now, else the refusal's text (Nova's words).

    This is the one answer the API's allowed-actions key and the pages' buttons show; it is
    the same ``check`` the services run, so they cannot disagree.
    """
    answer: dict[str, str | None] = {}
    for spec in USER_ACTIONS:
        if spec.admin_only and not context.is_admin:
            continue
        try:
            check(spec, instance, context, host_up=host_up)
        except ComputeError as refusal:
            answer[spec.key] = refusal.message
        else:
            answer[spec.key] = None
    return answer
