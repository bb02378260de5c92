"""Instance services: create, update, and every action of the action table.

``instance_action`` is the single entry for actions (the API's ``POST /servers/{id}/action``,
the pages' buttons, the sync's corrections): it checks the table's preconditions, then in one
transaction moves task_state from the value it read to the action's first task_state (the
conditional UPDATE of the state machine), opens the action record and queues the dispatch for
the host's agent. The agent is woken after commit. Of conflicting requests exactly one wins;
the others get ``UnexpectedTaskState`` (409) and nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from compute import actions, migration_records, policy, preconditions, records, state_machine
from compute.actions import ActionSpec
from compute.conf import conf
from compute.context import RequestContext
from compute.dispatch import dispatch_queue
from compute.exceptions import (
    Conflict,
    InstanceNotReady,
    Invalid,
    UnexpectedTaskState,
)
from compute.models import ActionDispatch, Host, Instance, InstanceAction
from compute.scheduler import select_host
from compute.selectors import instance_get
from compute.services.params import (
    MIGRATION_KEYS,
    Prepared,
    prepare,
    usable_flavor,
    usable_image,
)
from compute.states import PowerState, TaskState, VmState

#: Actions the API and pages may ask for by key (the table's user actions).
ACTION_KEYS = frozenset(a.key for a in actions.ACTIONS)
#: Actions only the system context may ask for (the sync's force-stop).
SYSTEM_ACTION_KEYS = frozenset(a.key for a in actions.INTERNAL_ACTIONS)


def instance_create(
    *,
    context: RequestContext,
    name: str,
    flavor_ref: str,
    image_ref: str,
    host: str | None = None,
    availability_zone: str | None = None,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
) -> Instance:
    """Accept a new instance: BUILD at once, then scheduling → networking → spawning → ACTIVE.

    With no enabled, up host the instance goes to ERROR with Nova's "No valid host was found"
    fault; the request itself is still accepted, as in Nova.
    """
    name = (name or "").strip()
    if not name or len(name) > 255:
        raise Invalid("Invalid input for field/attribute name. Name must be 1 to 255 characters.")
    if context.project_id is None:
        raise Invalid("A project-scoped context is required to create an instance.")
    if host:
        policy.authorize(context, "compute:servers:create:requested_destination")
    flavor = usable_flavor(context, flavor_ref, missing=f"Flavor {flavor_ref} could not be found.")
    image = usable_image(context, image_ref)
    zone = availability_zone
    if zone and ":" in zone:  # Nova's "zone:host" form, admins only
        zone, _, host = zone.partition(":")
        if host:
            policy.authorize(context, "os_compute_api:servers:create:forced_host")
    spec = actions.CREATE
    try:
        chosen: Host | None = select_host(requested=host or None, zone=zone or None)
        no_host_reason = ""
    except Exception as refusal:  # NoValidHost: accepted, then ERROR with a fault
        chosen, no_host_reason = None, getattr(refusal, "message", str(refusal))

    with transaction.atomic():
        instance = state_machine.create_instance(
            name=name,
            description=description,
            project_id=context.project_id,
            user_id=context.user_id,
            host=chosen,
            availability_zone=zone or (chosen.zone if chosen else "nova"),
            flavor=flavor,
            image=image,
            metadata=metadata or {},
            task_state=spec.start_task,
        )
        if chosen is None:
            _, event = records.action_start(context=context, instance=instance, spec=spec)
            instance = state_machine.transition(
                instance,
                expected_task_state=spec.start_task,
                vm_state=VmState.ERROR,
                task_state=None,
            )
            records.fault_record(instance, message=no_host_reason, code=500)
            records.event_finish(event, error=no_host_reason)
        else:
            dispatch_queue(context=context, instance=instance, host=chosen, spec=spec, params={})
    return instance


def instance_update(
    *,
    context: RequestContext,
    instance_uuid: str,
    name: str | None = None,
    description: str | None = None,
) -> Instance:
    """Rename or re-describe an instance (``PUT /servers/{id}``)."""
    instance = instance_get(context=context, instance_uuid=instance_uuid)
    fields: dict[str, Any] = {}
    if name is not None:
        name = name.strip()
        if not name or len(name) > 255:
            raise Invalid(
                "Invalid input for field/attribute name. Name must be 1 to 255 characters."
            )
        fields["name"] = name
    if description is not None:
        if len(description) > 255:
            raise Invalid("Invalid input for field/attribute description.")
        fields["description"] = description
    if not fields:
        return instance
    return _with_current_task(instance, **fields)


def instance_action(
    *,
    context: RequestContext,
    instance_uuid: str,
    action: str,
    params: dict[str, Any] | None = None,
) -> InstanceAction | None:
    """Start ``action`` on an instance, or raise the refusal. Returns its action record.

    None means the request was accepted but had nothing to do (a delete of an instance that is
    already being deleted, as Nova answers 204 and ignores it).
    """
    if action not in ACTION_KEYS and not (context.is_system and action in SYSTEM_ACTION_KEYS):
        raise Invalid(f"Unknown action {action!r}.")
    params = dict(params or {})
    # The host only: the checks and the dispatch need it; the few actions that read the flavor
    # or the image (resize, rebuild, rescue) read it when they do.
    instance = instance_get(context=context, instance_uuid=instance_uuid, joined=("host",))
    spec = actions.get(action)
    if spec.reclaiming and conf().reclaim_instance_interval > 0 and instance.launched_at:
        # Nova's REST delete soft-deletes a launched instance while deletes are reclaimable.
        spec = actions.get(spec.reclaiming)
    preconditions.check(spec, instance, context)
    prepared = prepare(spec, instance=instance, context=context, params=params)
    try:
        return _start(context, instance, spec, prepared)
    except Exception:
        # The action did not start (it lost its race for the task_state): what ``prepare``
        # made for it goes too.
        if prepared.undo is not None:
            prepared.undo()
        raise


def _start(
    context: RequestContext, instance: Instance, spec: ActionSpec, prepared: Prepared
) -> InstanceAction | None:
    if spec.completed_by_service:
        return COMPLETIONS[spec.complete](context, instance, spec, prepared.params)
    if spec.result in (VmState.DELETED, VmState.SOFT_DELETED):
        host_up = instance.host_id is not None and instance.host.is_up
        if instance.task_state in (TaskState.DELETING, TaskState.SOFT_DELETING) and host_up:
            return None
        # No host (never scheduled, or shelved offloaded), or a host that is not up: no agent
        # will run it soon, so the row goes at once — for a soft delete too, as in Nova.
        if not host_up:
            return _local_delete(context, instance, spec)

    host = prepared.host or instance.host
    if host is None:  # nobody to dispatch to: a 409, never a crash
        raise InstanceNotReady(instance_uuid=str(instance.uuid))
    with transaction.atomic():
        if spec.start_task is not None:
            instance = state_machine.transition(
                instance,
                expected_task_state=instance.task_state,
                expected_vm_state=[instance.vm_state],
                task_state=spec.start_task,
                new_task=True,
                progress=spec.steps[0].progress or 0,
                **_remembered(spec, instance, prepared.fields),
            )
        params = prepared.params
        migration = migration_records.migration_open(
            context=context, spec=spec, instance=instance, params=params
        )
        if migration is not None:
            # The agent walks the record with the action (``compute.agent.executor``).
            params = {**params, "migration_id": migration.pk}
        action_record = dispatch_queue(
            context=context, instance=instance, host=host, spec=spec, params=params
        )
    return action_record


# --- helpers ------------------------------------------------------------------------------


def _remembered(spec: ActionSpec, instance: Instance, fields: dict[str, Any]) -> dict[str, Any]:
    if not spec.remembers_state:
        return fields
    meta = {**instance.system_metadata, **fields.pop("system_metadata", {})}
    meta["old_vm_state"] = instance.vm_state
    return {**fields, "system_metadata": meta}


def _with_current_task(instance: Instance, **fields: Any) -> Instance:
    """Write non-state fields conditionally on the task_state just read; re-read on a race."""
    for _ in range(5):
        try:
            return state_machine.transition(
                instance, expected_task_state=instance.task_state, **fields
            )
        except UnexpectedTaskState:
            instance = Instance.objects.select_related("host").get(pk=instance.pk)
    raise Conflict(f"Instance {instance.uuid} is changing too fast; try again.")


def _local_delete(context: RequestContext, instance: Instance, spec: ActionSpec) -> InstanceAction:
    """Nova's local delete: the host is down or absent, so the row is deleted at once and the
    host's agent removes the guest when it comes back. A soft delete done this way is final
    too (Nova's ``_do_soft_delete(local=True)`` then ``destroy()``): its row keeps vm_state
    soft-delete, but it is deleted and cannot be restored."""
    now = timezone.now()
    with transaction.atomic():
        state_machine.transition(
            instance,
            expected_task_state=instance.task_state,
            vm_state=spec.result,
            task_state=None,
            power_state=PowerState.NOSTATE,
            deleted_at=now,
            terminated_at=now,
        )
        action, event = records.action_start(
            context=context, instance=instance, spec=spec, event_prefix="api"
        )
        records.event_finish(event, details="Deleted locally: the compute host is not up.")
        # The actions still waiting for the host will never run: end their records too, or
        # they would stay "in progress" for ever (invariant 7).
        waiting = ActionDispatch.objects.filter(
            instance=instance, state=ActionDispatch.State.PENDING
        ).select_related("action")
        for dispatch in waiting:
            for open_event in dispatch.action.events.filter(finish_time__isnull=True):
                records.event_finish(
                    open_event, error="Not run: the instance was deleted while its host was down."
                )
        waiting.update(state=ActionDispatch.State.FAILED, finished_at=now)
    return action


def _lock(
    context: RequestContext, instance: Instance, spec: ActionSpec, params: dict[str, Any]
) -> str | None:
    """Nova's ``API.lock``: the lock is the owner's when the caller belongs to the instance's
    project, else the admin's (``compute.policy.lock_party``). An owner's lock on a locked
    instance changes nothing (and is not recorded); an admin from elsewhere takes it over."""
    party = policy.lock_party(context, instance.project_id)
    if instance.locked and party == "owner":
        return None
    _with_current_task(
        instance,
        locked=True,
        locked_by=party,
        locked_reason=params.get("locked_reason") or instance.locked_reason,
    )
    return ""


def _unlock(
    context: RequestContext, instance: Instance, spec: ActionSpec, params: dict[str, Any]
) -> str:
    """Nova's ``unlock``; the override a lock of the other party needs is the action table's
    (``foreign_lock_policy``), checked with the other preconditions."""
    if instance.locked:
        _with_current_task(instance, locked=False, locked_by=None, locked_reason=None)
    return ""


def _reset_state(
    context: RequestContext, instance: Instance, spec: ActionSpec, params: dict[str, Any]
) -> str:
    """Admin's escape hatch for a stuck instance: the vm_state named (active or error), no
    task. A task the agent is still running loses its next conditional write and is abandoned."""
    state_machine.transition(
        instance,
        expected_task_state=instance.task_state,
        vm_state=spec.resulting_vm_state(
            vm_state=instance.vm_state, power_state=instance.power_state, chosen=params["state"]
        ),
        task_state=None,
    )
    return ""


def _confirm_resize(
    context: RequestContext, instance: Instance, spec: ActionSpec, params: dict[str, Any]
) -> str:
    """The source compute's liveness is the action table's (``HostCheck.SOURCE_UP``), checked
    with the other preconditions; here the resize is kept."""
    meta = {k: v for k, v in instance.system_metadata.items() if k not in MIGRATION_KEYS}
    state_machine.transition(
        instance,
        expected_task_state=None,
        expected_vm_state=[VmState.RESIZED],
        vm_state=spec.resulting_vm_state(
            vm_state=instance.vm_state, power_state=instance.power_state
        ),
        system_metadata=meta,
    )
    if spec.moves is not None:
        current = migration_records.migration_current(instance, status=spec.moves.continues)
        if current is not None:
            migration_records.migration_set_status(current.pk, spec.moves.done)
    return instance.system_metadata.get("old_host") or ""


def _completed_at_once(
    apply: Callable[[RequestContext, Instance, ActionSpec, dict[str, Any]], str | None],
) -> Callable[[RequestContext, Instance, ActionSpec, dict[str, Any]], InstanceAction | None]:
    """An action the service completes itself: the change and its closed record, atomically.

    ``apply`` makes the change (or refuses before writing) and names the host that did the
    work, if any; its event is then ``compute_…``, else ``api_…`` as in Nova's action log.
    None means there was nothing to do, and Nova records no action for it.
    """

    def run(
        context: RequestContext, instance: Instance, spec: ActionSpec, params: dict[str, Any]
    ) -> InstanceAction | None:
        with transaction.atomic():
            host = apply(context, instance, spec, params)
            if host is None:
                return None
            action, event = records.action_start(
                context=context,
                instance=instance,
                spec=spec,
                event_prefix="compute" if host else "api",
                host=host,
            )
            records.event_finish(event)
        return action

    return run


#: What completes each action the service finishes in the request, by the name its row gives
#: (``ActionSpec.complete``).
COMPLETIONS = {
    "lock": _completed_at_once(_lock),
    "unlock": _completed_at_once(_unlock),
    "reset_state": _completed_at_once(_reset_state),
    "confirm_resize": _completed_at_once(_confirm_resize),
}
