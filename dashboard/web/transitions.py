"""The state machine as a graph, read from the action table: vm_states are nodes, actions arrows.

Every arrow comes from one row of ``compute.actions``: its allowed vm_states are the arrow's
tails, its result the head, its walk the task_states it passes through. Actions that leave the
vm_state as it was are "in place" on their node; actions allowed in any vm_state start from the
pseudo-state ``ANY``. Both the diagram (``dashboard.web.diagram``) and the state-machine page's
precondition table are drawn from what this module returns.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from compute.actions import ACTIONS, CREATE, SOFT_DELETE, ActionSpec, HostCheck, Result
from compute.models.tenancy import Role
from compute.states import TaskState, VmState

V = VmState

#: The tail of arrows of actions allowed in every vm_state.
ANY = "*"


@dataclass(frozen=True)
class Arrow:
    source: str
    target: str
    spec: ActionSpec
    #: Drawn dashed: a failure path rather than an action's normal result.
    failure: bool = False


@dataclass(frozen=True)
class Graph:
    states: tuple[str, ...]
    #: (source, target) → the actions along that arrow, in table order.
    arrows: dict[tuple[str, str], tuple[Arrow, ...]]
    #: vm_state (or ANY) → the actions that leave it unchanged.
    in_place: dict[str, tuple[ActionSpec, ...]]


def targets(spec: ActionSpec, source: str) -> tuple[str, ...]:
    result = spec.result
    if result is Result.CHOSEN:
        return spec.chosen_results
    if isinstance(result, str):
        return (result,)
    if result is Result.UNCHANGED:
        return (source,)
    if result is Result.PREVIOUS:
        return (V.ACTIVE,)
    if result is Result.ACTIVE_OR_STOPPED and spec.remembers_state:
        # "stopped before the action" is the arrow's own tail.
        return (V.STOPPED,) if source == V.STOPPED else (V.ACTIVE,)
    return (V.ACTIVE, V.STOPPED)


def graph() -> Graph:
    arrows: dict[tuple[str, str], list[Arrow]] = defaultdict(list)
    in_place: dict[str, list[ActionSpec]] = defaultdict(list)
    for spec in (CREATE, *ACTIONS, SOFT_DELETE):
        sources = sorted(spec.vm_states) if spec.vm_states is not None else [ANY]
        for source in sources:
            for target in targets(spec, source):
                if target == source:
                    in_place[source].append(spec)
                else:
                    arrows[(source, target)].append(Arrow(source, target, spec))
        if spec.error_on_failure and spec is CREATE:
            arrows[(V.BUILDING, V.ERROR)].append(Arrow(V.BUILDING, V.ERROR, spec, failure=True))
    return Graph(
        states=tuple(V.values),
        arrows={k: tuple(v) for k, v in arrows.items()},
        in_place={k: tuple(v) for k, v in in_place.items()},
    )


def walk_text(spec: ActionSpec) -> str:
    return " › ".join(spec.walk)


# --- the preconditions of each action, in words ---------------------------------------------


def _states(values: frozenset[str | None] | frozenset[str] | None, *, none: str) -> str:
    if values is None:
        return "any"
    named = sorted(v for v in values if v is not None)
    words = [none] if None in values else []
    return ", ".join(words + named)


@dataclass(frozen=True)
class Precondition:
    spec: ActionSpec
    vm_states: str
    task_states: str
    #: In words, translated when shown (lazy), as are ``walk``'s and ``result``'s prose.
    checks: tuple[str | Promise, ...]
    walk: str | Promise
    result: str | Promise


def _result_text(spec: ActionSpec) -> str | Promise:
    result = spec.result
    if isinstance(result, str):
        return result
    if result is Result.CHOSEN:
        return " or ".join(spec.chosen_results) + f" (the caller's {spec.params[0]!r})"
    return {
        Result.UNCHANGED: _("unchanged"),
        Result.PREVIOUS: _("the vm_state it had before (default active)"),
        Result.ACTIVE_OR_STOPPED: _("active, or stopped if it was stopped before"),
        Result.BY_POWER: _("active, or stopped if the guest is shut down"),
    }[result]


def preconditions() -> tuple[Precondition, ...]:
    out = []
    for spec in (*ACTIONS, CREATE, SOFT_DELETE):
        checks: list[str | Promise] = []
        if spec.role == Role.ADMIN:
            checks.append(_("admin only"))
        elif spec.role == Role.MANAGER:
            checks.append(_("project managers and admins"))
        if spec.check_lock:
            checks.append(_("refused while locked (admins bypass)"))
        if spec.must_have_launched:
            checks.append(_("instance must have launched"))
        if spec.host_check is HostCheck.SET:
            checks.append(_("instance must have a host"))
        elif spec.host_check is HostCheck.UP:
            checks.append(_("host's compute service must be up"))
        if spec.destructive:
            checks.append(_("asks for confirmation"))
        out.append(
            Precondition(
                spec=spec,
                vm_states=_states(spec.vm_states, none="none"),
                task_states=_states(spec.task_states, none="no task"),
                checks=tuple(checks),
                walk=walk_text(spec) or _("— (completes at once, no task)"),
                result=_result_text(spec),
            )
        )
    return tuple(out)


#: Every task_state that some action walks through (for the diagram's legend).
WALKED: frozenset[str] = frozenset(
    t for spec in (CREATE, *ACTIONS, SOFT_DELETE) for t in spec.walk if t in TaskState.values
)
