"""Fixtures shared by every test: users in projects, a fake host with its agent, instances
brought to a given state through the real action path (never by writing state columns)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from compute.agent.agent import ComputeAgent
from compute.context import RequestContext
from compute.drivers.fake import FakeDriver
from compute.models import Host, Instance, Role
from compute.services import instance_action, instance_create, user_ensure

CIRROS = "3a4c5a2e-0c5e-4c1e-9a55-6d7d6f8f0001"
DEBIAN = "3a4c5a2e-0c5e-4c1e-9a55-6d7d6f8f0002"


def fresh(context: RequestContext) -> RequestContext:
    """The same caller with a new request id, as each HTTP request would have."""
    return replace(context, request_id=f"req-{uuid.uuid4()}")


def context_of(user: User, project: str, *, is_admin: bool = False) -> RequestContext:
    from compute.models import Project

    pid = Project.objects.get(name=project).pk
    return RequestContext(
        user_id=user.pk,
        user_name=user.username,
        project_id=pid,
        project_ids=frozenset({pid}),
        is_admin=is_admin,
        client="test",
    )


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """Each test starts in the default language: a request in another language leaves it
    active in the thread (Django activates per request and never resets)."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.activate("en")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    """PBKDF2's deliberate slowness is for attackers, not for every test's users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def image_dir(settings, tmp_path: Path) -> Path:
    """Image files a test writes (uploads, snapshots, imports) go to its own folder."""
    settings.IMAGE_DIR = str(tmp_path / "images")
    return tmp_path / "images"


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    """The login limiter counts in the cache: one test's wrong passwords must not lock out
    another test's users."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


class Inbox:
    """A live subscriber that keeps what it is pushed (the frames a socket would send)."""

    def __init__(self) -> None:
        self.frames: list[dict] = []
        self.arrived = asyncio.Event()

    async def push(self, frame: str) -> None:
        self.frames.append(json.loads(frame))
        self.arrived.set()

    async def next(self, timeout: float = 5.0) -> dict:
        while not self.frames:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), timeout)
        return self.frames.pop(0)


@pytest.fixture(autouse=True)
def empty_fanout() -> Iterator[None]:
    """A socket a test closed from the server side never sends its disconnect (the
    communicator does not answer a close): its consumer must not stay in the process's fan-out
    for the next test to count."""
    from compute.outbox.fanout import local_fanout

    local_fanout().groups.clear()
    yield
    local_fanout().groups.clear()


@pytest.fixture
def alice(db: None) -> User:
    return user_ensure(username="alice", password="alice-pass", project="demo").user


@pytest.fixture
def bob(db: None) -> User:
    return user_ensure(username="bob", password="bob-pass", project="other").user


@pytest.fixture
def admin_user(db: None) -> User:
    return user_ensure(
        username="admin", password="admin-pass", project="admin", role=Role.ADMIN
    ).user


@pytest.fixture
def alice_ctx(alice: User) -> RequestContext:
    return context_of(alice, "demo")


@pytest.fixture
def bob_ctx(bob: User) -> RequestContext:
    return context_of(bob, "other")


@pytest.fixture
def admin_ctx(admin_user: User) -> RequestContext:
    return context_of(admin_user, "admin", is_admin=True)


@pytest.fixture
def manager_ctx(alice: User) -> RequestContext:
    """carol, a manager of alice's project ``demo`` (Nova's ``project_manager_api``)."""
    carol = user_ensure(
        username="carol", password="carol-pass", project="demo", role=Role.MANAGER
    ).user
    context = context_of(carol, "demo")
    return replace(context, manager_project_ids=context.project_ids)


@pytest.fixture
def catalog(db: None) -> None:
    """Nova's flavors and the images, as the data migration seeds them. Transactional tests
    flush the database between tests, so the fixture puts them back (idempotently)."""
    from importlib import import_module

    from django.apps import apps

    import_module("compute.migrations.0002_seed_flavors_and_images").seed(apps, None)


@pytest.fixture
def agent_factory(catalog: None) -> Iterator[Callable[[str], ComputeAgent]]:
    """Registered, heart-beating agents on the fake hypervisor, run synchronously by tests."""
    made: list[ComputeAgent] = []

    def make(host: str = "node1") -> ComputeAgent:
        agent = ComputeAgent(host=host, driver=FakeDriver(host=host))
        agent.register()
        agent.heartbeat()
        made.append(agent)
        return agent

    yield make
    for agent in made:
        agent.driver.stop_events()


@pytest.fixture
def agent(agent_factory: Callable[[str], ComputeAgent]) -> ComputeAgent:
    return agent_factory("node1")


@pytest.fixture
def host(agent: ComputeAgent) -> Host:
    assert agent.host is not None
    return agent.host


@pytest.fixture
def make_instance(agent: ComputeAgent, alice_ctx: RequestContext) -> Callable[..., Instance]:
    """Create an instance and drive it through real actions to ``vm_state``."""

    def make(
        vm_state: str = "active",
        *,
        name: str = "vm",
        context: RequestContext | None = None,
        run: ComputeAgent | None = None,
    ) -> Instance:
        ctx = context or alice_ctx
        runner = run or agent
        instance = instance_create(context=fresh(ctx), name=name, flavor_ref="1", image_ref=CIRROS)
        runner.run_pending()
        for action, params in PATH_TO.get(vm_state, ()):
            instance_action(
                context=fresh(ctx), instance_uuid=str(instance.uuid), action=action, params=params
            )
            runner.run_pending()
        instance.refresh_from_db()
        return instance

    return make


#: The user actions that bring a fresh ACTIVE instance to each vm_state.
PATH_TO: dict[str, tuple[tuple[str, dict], ...]] = {
    "active": (),
    "stopped": (("stop", {}),),
    "paused": (("pause", {}),),
    "suspended": (("suspend", {}),),
    "rescued": (("rescue", {}),),
    "resized": (("resize", {"flavorRef": "2"}),),
    "shelved_offloaded": (("shelve", {}),),
    "deleted": (("delete", {}),),
}


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Remove this run's on-disk SQLite test database files (WAL and shared memory too) and the
    login counters' file cache kept beside them."""
    import os
    import shutil
    from pathlib import Path

    var = Path(__file__).resolve().parents[1] / "var"
    for leftover in var.glob(f"test-{os.getpid()}.sqlite3*"):
        leftover.unlink(missing_ok=True)
    for leftover in (var / "cache").glob(f"test-{os.getpid()}.sqlite3-*"):
        shutil.rmtree(leftover, ignore_errors=True)
