"""The drain plan of a host: for every instance on it, what each maintenance choice would meet
(the action table's guard, Nova's refusal texts) and a sensible default, before anything moves.

The choices are rows of the action table — live-migrate, cold-migrate (then confirm), stop,
shelve, evacuate (a host that is down) — and "leave". Each is asked of the guard
(``preconditions.Evaluator``), with one rule of the drain's own: a locked instance is refused
with Nova's "Instance … is locked" wherever the row checks the lock, even for the admin Nova
would let through, because a drain moves many instances at once and an owner's lock says "not
mine to move". The moves also need somewhere to go: another host UP and enabled (the
scheduler's ``up_hosts``) with room for the instance's flavor (``compute.selectors.inventory``'s
capacity times Nova's initial allocation ratios — vCPUs four to one —, filled as the plan places the movable instances in order, the emptiest host first as
the scheduler places them); else Nova's "No valid host was found." text.

A host may hold a thousand instances: they are read as tuples (``Resident``, one query), and
the plan is made once per situation (``Shape``: what the guard and these rules read of an
instance) with each instance's uuid put into its texts, so a host costs a handful of checks,
a fixed number of queries, and per instance only its room and a small tuple.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import NamedTuple

from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils.translation import gettext_noop

from compute import actions, policy
from compute.context import RequestContext
from compute.exceptions import InstanceIsLocked, NotFound, NoValidHost
from compute.models import DrainJob, DrainStep, Host
from compute.preconditions import Evaluator
from compute.scheduler import up_hosts
from compute.selectors.instances import visible_instances
from compute.selectors.inventory import HOST_CAPACITY, host_usage, schedulable
from compute.states import VmState
from compute.status import Status, status_from_state

#: The choices a drain offers per instance, in the page's order, with the action-table row
#: each one runs ("" for leave).
CHOICES: dict[str, str] = {
    "live-migrate": "os-migrateLive",
    "cold-migrate": "migrate",
    "stop": "stop",
    "shelve": "shelve",
    "evacuate": "evacuate",
    "leave": "",
}
MOVES = ("live-migrate", "cold-migrate", "evacuate")
#: What a choice is called on the page (marked for translation; the page translates them).
LABELS = {
    "live-migrate": gettext_noop("Live-migrate"),
    "cold-migrate": gettext_noop("Cold-migrate, then confirm"),
    "stop": gettext_noop("Stop"),
    "shelve": gettext_noop("Shelve"),
    "evacuate": gettext_noop("Evacuate (host down)"),
    "leave": gettext_noop("Leave"),
}
NO_ROOM = NoValidHost("There are not enough hosts available.").message


class Resident(NamedTuple):
    """One live instance of the host as the plan reads it: the columns the guard, the room and
    the host page need, in one tuple per row (a thousand model objects, each with its host and
    flavor, cost more than the rest of the plan together)."""

    pk: int
    uuid: str
    name: str
    project_id: str
    vm_state: str
    task_state: str | None
    power_state: int
    task_started_at: datetime | None
    progress: int
    version: int
    locked: bool
    locked_by: str | None
    #: Whether it ever launched (the guard asks no more of ``launched_at``).
    launched: bool
    host_id: int
    vcpus: int
    ram: int
    disk: int
    #: The host it is on (the guard names it in evacuate's refusal).
    host: Host

    @property
    def status(self) -> Status:
        return status_from_state(self.vm_state, self.task_state)

    @property
    def launched_at(self) -> object:
        """Not None if it launched: what the guard reads of the column."""
        return True if self.launched else None


#: What ``Resident`` reads, in its order (up to ``host``, which the selector adds).
_RESIDENT_COLUMNS = (
    "pk", "uuid", "name", "project_id", "vm_state", "task_state", "power_state",
    "task_started_at", "progress", "version", "locked", "locked_by", "launched", "host_id",
    "flavor__vcpus", "flavor__ram", "flavor__disk",
)  # fmt: skip


#: What the plan of an instance on a given host depends on: vm_state, task_state, locked,
#: whose lock, launched, project (the policy may read it). A tuple of ``Resident``'s fields.
_situation = itemgetter(4, 5, 10, 11, 12, 3)


def host_residents(*, context: RequestContext, host: Host) -> list[Resident]:
    """``host``'s live instances that the caller may see, by name: one query, no models."""
    rows = (
        visible_instances(context, all_tenants=True, joined=())
        .filter(host=host, deleted_at__isnull=True)
        .order_by("name", "id")
        .annotate(launched=ExpressionWrapper(Q(launched_at__isnull=False), BooleanField()))
        .values_list(*_RESIDENT_COLUMNS)
    )
    return [Resident(pk, str(uuid), *rest, host) for pk, uuid, *rest in rows]


@dataclass(frozen=True)
class Shape:
    """One situation's plan, the same for every instance in it but for the instance's uuid:
    each refusal text is kept split around the uuid (``None``: the choice may start)."""

    choices: tuple[tuple[str, tuple[str, ...] | None], ...]
    default: str
    verdict: str
    reason: tuple[str, ...] | None
    #: Whether a move is offered, so the instance needs room on another host.
    moves: bool
    #: The live migration's refusal (the page's checkbox reads it for every row).
    live: tuple[str, ...] | None


class PlanRow(NamedTuple):
    """One instance's plan: its situation's ``Shape`` with its own uuid put into the texts."""

    instance: Resident
    #: The situation's plan (rows of one shape differ only by uuid, name and destination, so
    #: a renderer may draw a shape once).
    shape: Shape
    #: The host the plan found room on for a move (the scheduler may still choose another).
    destination: str | None

    @property
    def uuid(self) -> str:
        return self.instance.uuid

    @property
    def choices(self) -> dict[str, str | None]:
        """Each choice: None if it may start now, else Nova's refusal text."""
        uuid = self.instance.uuid
        return {k: None if parts is None else uuid.join(parts) for k, parts in self.shape.choices}

    @property
    def default(self) -> str:
        return self.shape.default

    @property
    def verdict(self) -> str:
        """ "live-migrate", "cold-migrate", "evacuate" (its host is down), or "cannot-move"."""
        return self.shape.verdict

    @property
    def reason(self) -> str | None:
        """Why it cannot move (the live migration's refusal), None when it can."""
        parts = self.shape.reason
        return None if parts is None else self.instance.uuid.join(parts)

    @property
    def live_refusal(self) -> str | None:
        parts = self.shape.live
        return None if parts is None else self.instance.uuid.join(parts)

    @property
    def options(self) -> list[tuple[str, str, str | None]]:
        """(choice, its label, its refusal or None), in the page's order."""
        return [(key, LABELS[key], text) for key, text in self.choices.items()]


@dataclass(frozen=True)
class DrainPlan:
    host: Host
    rows: list[PlanRow]
    #: The other hosts UP and enabled, by name.
    destinations: list[str]


def drain_plan(*, context: RequestContext, host: Host) -> DrainPlan:
    """The plan for ``host``'s live instances, by name. A fixed number of queries."""
    return plan_for(
        context=context, host=host, instances=host_residents(context=context, host=host)
    )


def plan_for(*, context: RequestContext, host: Host, instances: Sequence[Resident]) -> DrainPlan:
    """The plan of ``instances`` (all on ``host``). The guard is asked once per situation —
    what it reads, as ``preconditions.Evaluator`` keys it — and each instance's texts are that
    situation's with its own uuid; only the room is counted per instance."""
    others = list(Host.objects.filter(up_hosts()).exclude(pk=host.pk).order_by("host"))
    room = _Room(others)
    evaluator = Evaluator(context)
    host_up = host.is_up
    shapes: dict[tuple[object, ...], tuple[Shape, Shape]] = {}
    rows = []
    resized = str(VmState.RESIZED)
    for instance in instances:
        # Everything the guard and the drain's own rules read of an instance on this host; a
        # resized instance's source host is read per instance (they are few): no sharing.
        key = _situation(instance)
        if instance.vm_state == resized:
            key += (instance.uuid,)
        pair = shapes.get(key)
        if pair is None:
            pair = shapes[key] = _shapes(evaluator, instance, host, host_up)
        shape, destination = pair[0], None
        if shape.moves:
            destination = room.place(instance.vcpus, instance.ram, instance.disk)
            if destination is None:
                shape = pair[1]
        rows.append(PlanRow(instance, shape, destination))
    return DrainPlan(host=host, rows=rows, destinations=[h.host for h in others])


def _shapes(
    evaluator: Evaluator, instance: Resident, host: Host, host_up: bool
) -> tuple[Shape, Shape]:
    """The plan of ``instance``'s situation: with room on another host, and without."""
    allowed, refused = evaluator.sorted(instance, host_up=host_up)
    choices: dict[str, str | None] = {}
    for choice, key in CHOICES.items():
        if not key:
            choices[choice] = None
            continue
        spec = actions.get(key)
        if key in refused:
            text: str | None = refused[key]
        elif key in allowed:
            text = None
        else:  # the caller's policy leaves the action out
            text = policy.refused(spec.policy).message
        if instance.locked and spec.check_lock:
            # Nova checks the lock before the states: its text comes first here too.
            text = InstanceIsLocked(instance_uuid=instance.uuid).message
        choices[choice] = text
    if not host_up and choices["live-migrate"] is None:
        # Nova's API accepts it, then its conductor's source check fails it (the text of
        # its ComputeServiceUnavailable): the plan says so before anything is asked.
        choices["live-migrate"] = f"Compute service of {host.host} is unavailable at this time."
    moves = any(choices[move] is None for move in MOVES)
    crowded = {k: NO_ROOM if k in MOVES and v is None else v for k, v in choices.items()}
    return _shape(instance, choices, moves), _shape(instance, crowded, moves)


def _shape(instance: Resident, choices: dict[str, str | None], moves: bool) -> Shape:
    default, verdict, reason = _verdict(instance, choices)
    uuid = instance.uuid
    return Shape(
        choices=tuple((k, None if v is None else tuple(v.split(uuid))) for k, v in choices.items()),
        default=default,
        verdict=verdict,
        reason=None if reason is None else tuple(reason.split(uuid)),
        moves=moves,
        live=None
        if choices["live-migrate"] is None
        else tuple(choices["live-migrate"].split(uuid)),
    )


def _verdict(instance: Resident, choices: dict[str, str | None]) -> tuple[str, str, str | None]:
    """(default, verdict, reason) of an instance whose choices meet ``choices``."""
    if choices["evacuate"] is None:
        # Its host is down: rebuilt elsewhere is the only way off it.
        return "evacuate", "evacuate", None
    if choices["live-migrate"] is None:
        return "live-migrate", "live-migrate", None
    if choices["cold-migrate"] is None:
        return "cold-migrate", "cold-migrate", None
    # It cannot move: why is the live migration's refusal (or the cold one's when a stopped
    # instance is refused only because it is not running).
    reason = choices["live-migrate"]
    if instance.vm_state == VmState.STOPPED:
        reason = choices["cold-migrate"]
    default = "leave"
    if instance.vm_state == VmState.SUSPENDED and choices["shelve"] is None:
        default = "shelve"  # a suspended guest cannot move, but shelving frees the host
    return default, "cannot-move", reason


class _Room:
    """What the other hosts have free (``compute.selectors.inventory``), filled as the plan places."""

    def __init__(self, hosts: list[Host]) -> None:
        usage = host_usage(hosts)
        offered = schedulable(HOST_CAPACITY)
        self.free = {
            h.host: [
                offered.vcpus - usage[h.pk].vcpus_used,
                offered.memory_mb - usage[h.pk].memory_mb_used,
                offered.local_gb - usage[h.pk].local_gb_used,
                usage[h.pk].running_vms,
            ]
            for h in hosts
        }
        #: The hosts in the scheduler's order of preference: fewest instances, then name.
        self.order = sorted((free[3], name) for name, free in self.free.items())
        #: Flavors that found no room: anything as large finds none either.
        self.full: list[tuple[int, int, int]] = []

    def place(self, vcpus: int, ram: int, disk: int) -> str | None:
        """The emptiest host (fewest instances, then name) with room for the flavor, which
        the instance then fills; None if none has room."""
        for small in self.full:
            if vcpus >= small[0] and ram >= small[1] and disk >= small[2]:
                return None  # no room for less before, and the hosts only fill up
        for index, (count, name) in enumerate(self.order):
            free = self.free[name]
            if free[0] >= vcpus and free[1] >= ram and free[2] >= disk:
                free[0] -= vcpus
                free[1] -= ram
                free[2] -= disk
                free[3] += 1
                del self.order[index]
                insort(self.order, (count + 1, name))
                return name
        self.full.append((vcpus, ram, disk))
        return None


def drain_get(job_id: object) -> DrainJob:
    """A drain job by id, or Nova-style 404."""
    try:
        pk = int(str(job_id))
    except ValueError:
        pk = 0
    job = DrainJob.objects.select_related("host").filter(pk=pk).first() if pk > 0 else None
    if job is None:
        raise NotFound(f"Drain {job_id} could not be found.")
    return job


def drain_latest(host: Host) -> DrainJob | None:
    """The host's newest drain job, if it ever had one."""
    return DrainJob.objects.filter(host=host).order_by("-id").first()


def drain_steps(job: DrainJob) -> list[DrainStep]:
    """The job's steps with their instances and migrations, in order (one query)."""
    return list(job.steps.select_related("instance", "migration").order_by("id"))
