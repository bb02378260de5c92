"""Demo data: users in projects and instances in a spread of states, made through the real
action path (never by writing state columns). Idempotent: running it again adds nothing.

Users: ``alice`` / ``alice`` and ``bob`` / ``bob`` (members of ``demo``; bob also of
``research``), ``carol`` / ``carol`` (member of ``research`` only), ``admin`` / ``admin``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import replace

from compute.agent.agent import ComputeAgent
from compute.context import RequestContext, system_context
from compute.models import Instance, Membership, Project, Role
from compute.services import instance_action, instance_create, user_ensure

log = logging.getLogger(__name__)

CIRROS = "3a4c5a2e-0c5e-4c1e-9a55-6d7d6f8f0001"
DEBIAN = "3a4c5a2e-0c5e-4c1e-9a55-6d7d6f8f0002"
UBUNTU = "3a4c5a2e-0c5e-4c1e-9a55-6d7d6f8f0003"

USERS = [
    ("alice", "demo", Role.MEMBER),
    ("bob", "demo", Role.MEMBER),
    ("bob", "research", Role.MEMBER),
    ("carol", "research", Role.MEMBER),
    ("admin", "admin", Role.ADMIN),
]

#: name, project, flavor, image, the actions that bring it to its demo state
INSTANCES: Sequence[tuple[str, str, str, str, Sequence[tuple[str, dict[str, object]]]]] = [
    ("web-1", "demo", "2", UBUNTU, ()),
    ("web-2", "demo", "2", UBUNTU, ()),
    ("db-1", "demo", "3", DEBIAN, (("stop", {}),)),
    ("cache-1", "demo", "1", CIRROS, (("pause", {}),)),
    ("batch-1", "demo", "1", CIRROS, (("suspend", {}),)),
    ("legacy-app", "demo", "2", DEBIAN, (("resize", {"flavorRef": "3"}),)),
    ("broken-1", "demo", "1", CIRROS, (("os-resetState", {"state": "error"}),)),
    ("archive-1", "demo", "1", CIRROS, (("shelve", {}),)),
    ("ml-train-1", "research", "4", UBUNTU, ()),
    ("ml-notebook", "research", "2", UBUNTU, (("rescue", {}),)),
    ("jupyter-old", "research", "1", DEBIAN, (("stop", {}),)),
]


def _context_of(username: str, project: str) -> RequestContext:
    membership = Membership.objects.select_related("user", "project").get(
        user__username=username, project__name=project
    )
    return RequestContext(
        user_id=membership.user_id,
        user_name=username,
        project_id=membership.project_id,
        project_ids=frozenset({membership.project_id}),
        is_admin=membership.role == Role.ADMIN,
        manager_project_ids=(
            frozenset({membership.project_id})
            if Role(membership.role).implies(Role.MANAGER)
            else frozenset()
        ),
        client="demo",
    )


def seed(agents: Sequence[ComputeAgent]) -> int:
    """Create the demo users and instances that are missing; return how many instances."""
    for username, project, role in USERS:
        existing = Membership.objects.filter(user__username=username, project__name=project)
        if not existing.exists():
            user_ensure(username=username, password=username, project=project, role=role)
    made = 0
    for name, project, flavor, image, path in INSTANCES:
        proj = Project.objects.get(name=project)
        if Instance.objects.filter(name=name, project=proj).exists():
            continue
        owner = "alice" if project == "demo" else "carol"
        context = _context_of(owner, project)
        instance = instance_create(
            context=replace(context, request_id=f"req-{uuid.uuid4()}"),
            name=name,
            flavor_ref=flavor,
            image_ref=image,
        )
        _drain(agents)
        for action, params in path:
            actor = system_context("demo") if action == "os-resetState" else context
            instance_action(
                context=replace(actor, request_id=f"req-{uuid.uuid4()}"),
                instance_uuid=str(instance.uuid),
                action=action,
                params=params,
            )
            _drain(agents)
        made += 1
    if made:
        log.info("demo data: %d instances created", made)
    return made


def _drain(agents: Sequence[ComputeAgent]) -> None:
    while sum(agent.run_pending() for agent in agents):
        pass


#: The real guests ``rundashboard --demo --libvirt URI`` boots on the libvirt host (m1.tiny:
#: 512 MiB, a 1 GiB overlay on the vmdash-guest image).
REAL_GUESTS = ("guest-1", "guest-2", "guest-3")


def seed_real_guests(*, host: str, count: int = len(REAL_GUESTS)) -> int:
    """Build (or reuse) the vmdash-guest image and queue the missing real guests on ``host``,
    owned by alice's project ``demo``; the host's agent boots them when it starts."""
    from compute.guest_image import IMAGE_ID, build_and_register

    build_and_register(log=log.info)
    member = _context_of("alice", "demo")
    # Placing on a named host is an admin's right; the guests still belong to ``demo``.
    placer = replace(member, is_admin=True)
    made = 0
    for name in REAL_GUESTS[:count]:
        if Instance.objects.filter(name=name, project_id=member.project_id).exists():
            continue
        instance_create(
            context=replace(placer, request_id=f"req-{uuid.uuid4()}"),
            name=name,
            flavor_ref="1",
            image_ref=str(IMAGE_ID),
            host=host,
        )
        made += 1
    if made:
        log.info("demo data: %d real guests queued on %s", made, host)
    return made
