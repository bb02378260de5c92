"""The browser tests' second process: compute hosts, the watchdog, and a second client.

Run as ``python tests/web/live_driver.py`` with ``DATABASE_URL`` pointing at the live server's
database. It runs the fake compute agents and the watchdog (as ``rundashboard`` does beside
daphne), and answers one JSON request per stdin line — create an instance, run an action, shut a
guest down behind the dashboard's back, run a power-state sync, stop a host's heartbeat — with
one JSON line on stdout. Everything it changes goes through the domain's services, so the page
under test learns of it exactly as it would of a change made by the API or another process.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import close_old_connections  # noqa: E402

from compute import watchdog  # noqa: E402
from compute.agent import periodic  # noqa: E402
from compute.agent.agent import ComputeAgent  # noqa: E402
from compute.drivers.fake import FakeDriver, set_guest_state  # noqa: E402
from compute.models import FakeGuest, Host, Instance, Project, Role  # noqa: E402
from compute.services import host_update, instance_action, instance_create, user_ensure  # noqa: E402
from compute.states import PowerState  # noqa: E402
from dashboard.context import context_for  # noqa: E402

CIRROS = "3a4c5a2e-0c5e-4c1e-9a55-6d7d6f8f0001"
AGENTS: dict[str, ComputeAgent] = {}


def _context(user: str, project: str | None = None) -> Any:
    account = get_user_model().objects.get(username=user)
    pid = Project.objects.get(name=project).pk if project else None
    return context_for(account, project_id=pid, client="second-client")


def seed(hosts: list[str]) -> dict[str, Any]:
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    # A cheap hash (Django upgrades it at the first login): seeding need not cost seconds.
    hasher = PBKDF2PasswordHasher()
    for user, project, role in (
        ("alice", "demo", Role.MEMBER),
        ("bob", "other", Role.MEMBER),
        ("admin", "admin", Role.ADMIN),
    ):
        account = user_ensure(username=user, password=None, project=project, role=role).user
        account.password = hasher.encode(f"{user}-pass", hasher.salt(), iterations=1000)
        account.save(update_fields=["password"])
    for host in hosts:
        start_agent(host)
    return {"hosts": hosts}


def session(user: str) -> dict[str, Any]:
    """A signed-in session cookie, sparing each browser test the password hash of a login."""
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=user))
    return {"sessionid": client.cookies["sessionid"].value}


def start_agent(host: str) -> dict[str, Any]:
    if host not in AGENTS:
        agent = ComputeAgent(host=host, driver=FakeDriver(host=host), poll_interval=0.1)
        if os.environ.get("HANDLE_VIRT_LIFECYCLE_EVENTS") == "1":
            # The agent hears the fake hypervisor's lifecycle events (a guest crashing behind
            # the dashboard's back), as compute_agent's would; no periodic sync.
            periodic.attach(agent, interval=-1)
        periodic.attach_sampler(agent)  # the charts' samples (DIAGNOSTICS_INTERVAL)
        agent.start()
        AGENTS[host] = agent
    return {"host": host}


def stop_agent(host: str) -> dict[str, Any]:
    agent = AGENTS.pop(host, None)
    if agent is not None:
        agent.stop(timeout=5)
    return {"host": host}


def create(user: str, project: str, name: str, host: str | None = None) -> dict[str, Any]:
    context = _context(user, project)
    instance = instance_create(
        context=context, name=name, flavor_ref="1", image_ref=CIRROS, host=host
    )
    return wait_idle(str(instance.uuid))


def action(
    user: str, uuid: str, action: str, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    instance_action(context=_context(user), instance_uuid=uuid, action=action, params=params)
    return {"accepted": True, "at": time.time()}


def host(name: str, **changes: Any) -> dict[str, Any]:
    row = host_update(context=_context("admin"), host=Host.objects.get(host=name), **changes)
    return {"host_status": str(row.host_status)}


def guest(uuid: str, power: str) -> dict[str, Any]:
    set_guest_state(FakeGuest.objects.get(uuid=uuid), PowerState[power.upper()])
    return {"uuid": uuid}


def sync(host: str) -> dict[str, Any]:
    call_command("sync_power_states", "--once", "--host", host, verbosity=0)
    return {"host": host}


def delays(**seconds: float) -> dict[str, Any]:
    """How long each fake hypervisor operation takes from now on (e.g. default=2)."""
    from django.conf import settings

    settings.COMPUTE = {**settings.COMPUTE, "fake_delays": dict(seconds)}
    return dict(seconds)


def fail_next(host: str, operation: str, message: str) -> dict[str, Any]:
    FakeDriver.fail_next(host=host, operation=operation, message=message)
    return {}


def slow_migration(uuid: str, seconds: float) -> dict[str, Any]:
    """``fake_guest <uuid> slow-migration <seconds>``."""
    FakeGuest.objects.filter(uuid=uuid).update(migration_seconds=seconds)
    return {"uuid": uuid}


def migrations(uuid: str) -> list[dict[str, Any]]:
    from compute.models import Migration

    return list(
        Migration.objects.filter(instance__uuid=uuid)
        .order_by("id")
        .values("id", "status", "memory_processed", "memory_total")
    )


def get(uuid: str) -> dict[str, Any]:
    i = Instance.objects.select_related("host").get(uuid=uuid)
    return {
        "uuid": uuid,
        "name": i.name,
        "vm_state": i.vm_state,
        "task_state": i.task_state,
        "power_state": i.power_state,
        "version": i.version,
        "host": i.host.host if i.host_id else None,
    }


def wait_idle(uuid: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        state = get(uuid)
        if state["task_state"] is None or time.monotonic() > deadline:
            return state
        time.sleep(0.05)
        close_old_connections()


OPS = {
    f.__name__: f
    for f in (
        seed,
        session,
        start_agent,
        stop_agent,
        create,
        action,
        host,
        guest,
        sync,
        delays,
        fail_next,
        slow_migration,
        migrations,
        get,
        wait_idle,
    )
}


def _watchdog(stop: threading.Event) -> None:
    while not stop.wait(0.3):
        try:
            watchdog.run_once()
        except Exception:
            traceback.print_exc()
        finally:
            close_old_connections()


def main() -> None:
    # Replies own stdout; anything else the domain prints goes to the log.
    replies, sys.stdout = sys.stdout, sys.stderr
    stop = threading.Event()
    threading.Thread(target=_watchdog, args=(stop,), daemon=True).start()
    print(json.dumps({"ready": True}), file=replies, flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            result = OPS[request["op"]](**request.get("args", {}))
            reply = {"ok": True, "result": result}
        except Exception as error:  # reported to the test, which decides
            reply = {"ok": False, "error": getattr(error, "message", None) or repr(error)}
        finally:
            close_old_connections()
        print(json.dumps(reply), file=replies, flush=True)
    stop.set()
    for name in list(AGENTS):
        stop_agent(name)


if __name__ == "__main__":
    main()
