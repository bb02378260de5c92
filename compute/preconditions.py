"""Preconditions: whether an action may start on an instance now, and if not, why.

``refusal`` is Nova's ``check_instance_state`` / ``check_instance_lock`` / ``check_instance_host``
read from the action table: the error Nova would raise, or None. ``check`` raises it (the
services' guard); ``evaluate`` asks the same question for every action, so the buttons a page
enables and the API's allowed-actions key can never disagree with what the services accept.

A list of servers asks ``evaluate`` for each of them, and most of them are in one of a handful
of situations. ``Evaluator`` memoises the answer per request by what the check reads (vm_state,
task_state, locked, whose lock, launched, host set, host up, a resize's source host up; the
caller is the evaluator's) and puts the instance's uuid into the cached texts, so a page of a
thousand servers runs the check a few times, not thirty thousand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from compute import policy
from compute.actions import ACTIONS, ActionSpec, HostCheck
from compute.context import RequestContext
from compute.exceptions import (
    ComputeError,
    ComputeServiceInUse,
    InstanceInvalidState,
    InstanceIsLocked,
    InstanceNotReady,
    ServiceUnavailable,
)
from compute.models import Host, Instance
from compute.states import VmState


def refusal(
    spec: ActionSpec,
    instance: Instance,
    context: RequestContext,
    *,
    host_up: bool | None = None,
    source_up: bool | None = None,
) -> ComputeError | None:
    """The error Nova would raise for ``spec`` on ``instance``, or None if it may start.

    The order is Nova's: policy (and, for unlock, the override a lock of the other party needs),
    lock, then vm_state, task_state, launched_at, then host — or the host before the states
    where Nova's ``check_instance_host`` stands above ``check_instance_state``
    (``spec.host_checked_first``). ``host_up`` is the instance's compute service liveness,
    needed only for ``HostCheck.UP``, and ``source_up`` that of a resize's source compute, only
    for ``HostCheck.SOURCE_UP``; pass them to avoid a query when listing many instances.
    """
    if not policy.allowed(context, spec.policy, instance.project_id):
        return policy.refused(spec.policy)
    if (
        spec.foreign_lock_policy
        and policy.lock_is_foreign(context, instance)
        and not policy.allowed(context, spec.foreign_lock_policy, instance.project_id)
    ):
        return policy.refused(spec.foreign_lock_policy)
    if spec.check_lock and instance.locked and not context.is_admin:
        if spec.locked_reads_invalid_state:
            return InstanceInvalidState(
                instance_uuid=str(instance.uuid), action=spec.api_name, attr="locked", state=None
            )
        return InstanceIsLocked(instance_uuid=str(instance.uuid))
    if spec.host_checked_first:
        return _host_refusal(spec, instance, host_up, source_up) or _state_refusal(spec, instance)
    return _state_refusal(spec, instance) or _host_refusal(spec, instance, host_up, source_up)


def _state_refusal(spec: ActionSpec, instance: Instance) -> ComputeError | None:
    """Nova's ``check_instance_state``: vm_state, task_state, then launched_at."""
    if spec.vm_states is not None and instance.vm_state not in spec.vm_states:
        return InstanceInvalidState(
            instance_uuid=str(instance.uuid),
            action=spec.api_name,
            attr="vm_state",
            state=instance.vm_state,
        )
    if spec.task_states is not None and instance.task_state not in spec.task_states:
        return InstanceInvalidState(
            instance_uuid=str(instance.uuid),
            action=spec.api_name,
            attr="task_state",
            state=instance.task_state,
        )
    if spec.must_have_launched and instance.launched_at is None:
        return InstanceInvalidState(
            instance_uuid=str(instance.uuid), action=spec.api_name, attr="launched_at", state=None
        )
    return None


def _host_refusal(
    spec: ActionSpec, instance: Instance, host_up: bool | None, source_up: bool | None
) -> ComputeError | None:
    """Nova's ``check_instance_host``, with ``check_is_up`` for ``HostCheck.UP``; for
    ``HostCheck.SOURCE_UP`` the resize's source compute must be up."""
    if spec.host_check is HostCheck.NONE:
        return None
    if spec.host_check is HostCheck.SOURCE_UP:
        up = source_up if source_up is not None else source_host_up(instance)
        return None if up else ServiceUnavailable()
    if instance.host_id is None:
        return InstanceNotReady(instance_uuid=str(instance.uuid))
    if spec.host_check is HostCheck.DOWN:
        up = host_up if host_up is not None else instance.host.is_up
        return ComputeServiceInUse(host=instance.host.host) if up else None
    if spec.host_check is HostCheck.UP:
        up = host_up if host_up is not None else instance.host.is_up
        if not up:
            return ServiceUnavailable()
    return None


def source_host_up(instance: Instance) -> bool:
    """Whether the compute a resized instance came from is up (a resize with no source on
    record, or one whose host row is gone, does not wait for it)."""
    return _host_up_by_name(_source_name(instance))


def _source_name(instance: Instance) -> str:
    meta = getattr(instance, "system_metadata", None)
    if meta is None:  # a list's row carries no system_metadata: read it for this one
        meta = (
            Instance.objects.filter(pk=instance.pk)
            .values_list("system_metadata", flat=True)
            .first()
        )
    return (meta or {}).get("old_host") or ""


def _host_up_by_name(name: str) -> bool:
    source = Host.objects.filter(host=name).first() if name else None
    return source is None or source.is_up


def check(
    spec: ActionSpec,
    instance: Instance,
    context: RequestContext,
    *,
    host_up: bool | None = None,
    source_up: bool | None = None,
) -> None:
    """Raise the error Nova would for ``spec`` on ``instance``; return if it may start."""
    error = refusal(spec, instance, context, host_up=host_up, source_up=source_up)
    if error is not None:
        raise error


def evaluate(
    instance: Instance,
    context: RequestContext,
    *,
    host_up: bool | None = None,
    source_up: bool | None = None,
) -> dict[str, str | None]:
    """For every action: None if it may start now, else the refusal's text (Nova's words).

    This is the one answer the API's allowed-actions key and the pages' buttons show; it is
    the same ``refusal`` the services' ``check`` raises, so they cannot disagree. Admin-only
    actions are left out for other callers.
    """
    answer: dict[str, str | None] = {}
    for spec in ACTIONS:
        if not policy.allowed(context, spec.policy, instance.project_id):
            continue
        error = refusal(spec, instance, context, host_up=host_up, source_up=source_up)
        answer[spec.key] = None if error is None else error.message
    return answer


#: What ``refusal`` reads of an instance (besides its uuid, which only goes into the texts):
#: vm_state, task_state, locked, whose lock, launched, host set, host up, source up, and the
#: instance's project where the policy's answer depends on it (a caller who manages some
#: projects but is no admin), else None; the host's name (evacuate's refusal names it).
_Situation = tuple[
    str, str | None, bool, bool, bool, bool, bool | None, bool | None, str | None, str
]


@dataclass(frozen=True)
class _Memo:
    """One situation's answer, each refusal's text split around the instance's uuid."""

    #: The allowed keys, sorted; the refused keys with their texts' parts, sorted by key.
    allowed: tuple[str, ...]
    refused: tuple[tuple[str, tuple[str, ...]], ...]


class Evaluator:
    """``evaluate`` for the many instances of one request, memoised by what the check reads.

    Build one per request (the caller is fixed; the memo must not outlive changes to the
    action table or the settings). Answers are equal to ``evaluate``'s, texts included.
    """

    def __init__(self, context: RequestContext) -> None:
        self.context = context
        self._memo: dict[_Situation, _Memo] = {}
        #: Whether any action this caller may see names the host in its refusal (evacuate's
        #: "Compute service of … is still in use."): only then does the host's name count.
        self._names_host = any(
            spec.host_check is HostCheck.DOWN and policy.allowed(context, spec.policy)
            for spec in ACTIONS
        )
        #: Source hosts' liveness by name, read once per request (resized instances only).
        self._sources: dict[str, bool] = {}

    def sorted(
        self, instance: Instance, *, host_up: bool | None = None
    ) -> tuple[list[str], dict[str, str]]:
        """The same answer as (the allowed keys, the refused keys with their texts), both in
        key order, as the API shows them."""
        memo = self._lookup(instance, host_up)
        if memo is None:
            answer = evaluate(instance, self.context, host_up=host_up)
            allowed = sorted(key for key, text in answer.items() if text is None)
            return allowed, {key: text for key, text in sorted(answer.items()) if text}
        uuid = str(instance.uuid)
        return list(memo.allowed), {key: uuid.join(parts) for key, parts in memo.refused}

    def _lookup(self, instance: Instance, host_up: bool | None) -> _Memo | None:
        if host_up is None and instance.host_id is not None:
            # Liveness would be read from the instance's host, lazily: not memoisable.
            return None
        name = ""
        if self._names_host and instance.host_id is not None:
            state = getattr(instance, "_state", None)  # a model, or a list's plain row
            if state is not None and "host" not in state.fields_cache:
                return None  # its name would be read lazily: not memoisable either
            name = instance.host.host
        situation: _Situation = (
            instance.vm_state,
            instance.task_state,
            bool(instance.locked),
            policy.lock_is_foreign(self.context, instance),
            instance.launched_at is not None,
            instance.host_id is not None,
            host_up,
            self._source_up(instance),
            self._policy_project(instance),
            name,
        )
        memo = self._memo.get(situation)
        if memo is None:
            memo = self._memo[situation] = self._answer(situation)
        return memo

    def _source_up(self, instance: Instance) -> bool | None:
        """The resize's source liveness where an action reads it (a resized instance), else
        None. One query per source host per request (and, for a list's row, one for the
        resize's record): resized instances are few and short-lived."""
        if instance.vm_state != VmState.RESIZED:
            return None
        name = _source_name(instance)
        if name not in self._sources:
            self._sources[name] = _host_up_by_name(name)
        return self._sources[name]

    def _policy_project(self, instance: Instance) -> str | None:
        """The instance's project if the policy may answer differently by project: only a
        manager of some projects (admins pass everything, members are scoped already)."""
        if self.context.is_admin or not self.context.manager_project_ids:
            return None
        return instance.project_id

    def _answer(self, situation: _Situation) -> _Memo:
        (
            vm_state,
            task_state,
            locked,
            foreign,
            launched,
            has_host,
            host_up,
            source_up,
            project,
            name,
        ) = situation
        # A stand-in with exactly what ``refusal`` reads; the marker marks where the uuid goes.
        stand_in = _StandIn(
            uuid=_MARKER,
            vm_state=vm_state,
            task_state=task_state,
            locked=locked,
            locked_by=_FOREIGN if foreign else None,
            launched_at=_LAUNCHED if launched else None,
            host_id=0 if has_host else None,
            project_id=project or self.context.project_id,
            host=_HostStandIn(host=name) if has_host else None,
        )
        texts = evaluate(  # type: ignore[arg-type]
            stand_in, self.context, host_up=host_up, source_up=source_up
        )
        answer = {k: None if t is None else tuple(t.split(_MARKER)) for k, t in texts.items()}
        return _Memo(
            allowed=tuple(sorted(k for k, parts in answer.items() if parts is None)),
            refused=tuple(sorted((k, parts) for k, parts in answer.items() if parts is not None)),
        )


@dataclass(frozen=True)
class _HostStandIn:
    host: str


@dataclass(frozen=True)
class _StandIn:
    """What ``refusal`` reads of an instance, for the evaluator's memo (never saved)."""

    uuid: str
    vm_state: str
    task_state: str | None
    locked: bool
    #: ``_FOREIGN`` stands for a lock of the other party, whoever the caller is.
    locked_by: str | None
    launched_at: object
    host_id: int | None
    host: _HostStandIn | None = None
    #: The project the policy reads (None: the caller's own, as Nova's default target).
    project_id: str | None = None
    system_metadata: dict[str, str] = field(default_factory=dict)


#: Stands for the instance's uuid in the memoised texts; no state name or action contains it.
_MARKER = "\x00uuid\x00"
_LAUNCHED = object()
#: Neither "owner" nor "admin": never the caller's own party.
_FOREIGN = "\x00other party\x00"
