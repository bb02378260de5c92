"""The drain plan of a host: for every instance on it, what each maintenance choice would meet
(the action table's guard, Nova's refusal texts) and a sensible default, before anything moves.

The choices are rows of the action table — live-migrate, cold-migrate (then confirm), stop,
shelve, evacuate (a host that is down) — and "leave". Each is asked of the guard (``preconditions.Evaluator``, memoised per
situation, so a host of a thousand instances costs a handful of checks and a fixed number of
queries), with one rule of the drain's own: a locked instance is refused with Nova's
"Instance … is locked" wherever the row checks the lock, even for the admin Nova would let
through, because a drain moves many instances at once and an owner's lock says "not mine to
move". The moves also need somewhere to go: another host UP and enabled (the scheduler's
``up_hosts``) with room for the instance's flavor (``compute.selectors.inventory``'s capacity, filled as
the plan places the movable instances in order, the emptiest host first as the scheduler
places them); else Nova's "No valid host was found." text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from compute import actions, policy
from compute.context import RequestContext
from compute.exceptions import InstanceIsLocked, NotFound, NoValidHost
from compute.models import DrainJob, DrainStep, Host, Instance
from compute.preconditions import Evaluator
from compute.scheduler import up_hosts
from compute.selectors.inventory import HOST_CAPACITY, host_usage
from compute.states import VmState

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
#: What a choice is called on the page.
LABELS = {
    "live-migrate": "Live-migrate",
    "cold-migrate": "Cold-migrate, then confirm",
    "stop": "Stop",
    "shelve": "Shelve",
    "evacuate": "Evacuate (host down)",
    "leave": "Leave",
}
NO_ROOM = NoValidHost("There are not enough hosts available.").message


@dataclass(frozen=True)
class PlanRow:
    instance: Instance
    #: Each choice: None if it may start now, else Nova's refusal text.
    choices: dict[str, str | None]
    default: str
    #: "live-migrate", "cold-migrate", "evacuate" (its host is down), or "cannot-move".
    verdict: str
    #: Why it cannot move (the live migration's refusal), None when it can.
    reason: str | None
    #: The host the plan found room on for a move (the scheduler may still choose another).
    destination: str | None

    @property
    def uuid(self) -> str:
        return str(self.instance.uuid)

    @property
    def live_refusal(self) -> str | None:
        return self.choices["live-migrate"]

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
    instances = list(
        Instance.objects.filter(host=host, deleted_at__isnull=True)
        .select_related("flavor", "host")
        .order_by("name", "id")
    )
    return plan_for(context=context, host=host, instances=instances)


def plan_for(*, context: RequestContext, host: Host, instances: Sequence[Instance]) -> DrainPlan:
    others = list(Host.objects.filter(up_hosts()).exclude(pk=host.pk).order_by("host"))
    room = _Room(others)
    evaluator = Evaluator(context)
    host_up = host.is_up
    rows = []
    for instance in instances:
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
                text = InstanceIsLocked(instance_uuid=str(instance.uuid)).message
            choices[choice] = text
        if not host_up and choices["live-migrate"] is None:
            # Nova's API accepts it, then its conductor's source check fails it (the text of
            # its ComputeServiceUnavailable): the plan says so before anything is asked.
            choices["live-migrate"] = f"Compute service of {host.host} is unavailable at this time."
        destination = None
        if any(choices[move] is None for move in MOVES):
            destination = room.place(instance)
            if destination is None:
                for move in MOVES:
                    if choices[move] is None:
                        choices[move] = NO_ROOM
        rows.append(_row(instance, choices, destination))
    return DrainPlan(host=host, rows=rows, destinations=[h.host for h in others])


def _row(instance: Instance, choices: dict[str, str | None], destination: str | None) -> PlanRow:
    if choices["evacuate"] is None:
        # Its host is down: rebuilt elsewhere is the only way off it.
        return PlanRow(instance, choices, "evacuate", "evacuate", None, destination)
    if choices["live-migrate"] is None:
        return PlanRow(instance, choices, "live-migrate", "live-migrate", None, destination)
    if choices["cold-migrate"] is None:
        return PlanRow(instance, choices, "cold-migrate", "cold-migrate", None, destination)
    # It cannot move: why is the live migration's refusal (or the cold one's when a stopped
    # instance is refused only because it is not running).
    reason = choices["live-migrate"]
    if instance.vm_state == VmState.STOPPED:
        reason = choices["cold-migrate"]
    default = "leave"
    if instance.vm_state == VmState.SUSPENDED and choices["shelve"] is None:
        default = "shelve"  # a suspended guest cannot move, but shelving frees the host
    return PlanRow(instance, choices, default, "cannot-move", reason, None)


class _Room:
    """What the other hosts have free (``compute.selectors.inventory``), filled as the plan places."""

    def __init__(self, hosts: list[Host]) -> None:
        usage = host_usage(hosts)
        self.free = {
            h.host: [
                HOST_CAPACITY.vcpus - usage[h.pk].vcpus_used,
                HOST_CAPACITY.memory_mb - usage[h.pk].memory_mb_used,
                HOST_CAPACITY.local_gb - usage[h.pk].local_gb_used,
                usage[h.pk].running_vms,
            ]
            for h in hosts
        }

    def place(self, instance: Instance) -> str | None:
        flavor = instance.flavor
        need = (flavor.vcpus, flavor.ram, flavor.disk)
        fits = [
            (free[3], name)
            for name, free in self.free.items()
            if all(free[i] >= need[i] for i in range(3))
        ]
        if not fits:
            return None
        _, name = min(fits)
        free = self.free[name]
        for i in range(3):
            free[i] -= need[i]
        free[3] += 1
        return name


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
