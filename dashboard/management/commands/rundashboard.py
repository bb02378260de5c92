"""``manage.py rundashboard [--bind ADDR] [--port N] [--agents N] [--demo] [--libvirt URI]``.

The embedded default in one process: daphne serving HTTP and WebSockets (with the outbox relay
and the watchdog every web process runs) and the agents of N fake compute hosts
(``compute-1`` … ``compute-N``). With ``--demo`` the
database is migrated and seeded (idempotently), the fake hypervisor's operations take a
second or two so transitions are visible, and the power-state sync runs every 10 s.

``--libvirt URI`` also runs the agent of one real host (``--libvirt-host``, ``qemu-1``) on that
libvirt connection; with ``--demo`` it boots a few real ``vmdash-guest`` instances there (built
by ``build_guest_image`` from Debian packages). The fake demo instances are seeded before the
real host registers, so they stay on the fake hosts.
"""

from __future__ import annotations

import logging
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from compute.agent.agent import ComputeAgent
from compute.agent.runner import build_agent

log = logging.getLogger(__name__)

#: Seconds the fake hypervisor takes per operation in the demo (FAKE_DELAYS overrides).
DEMO_DELAYS = {"default": 1.0, "spawn": 3.0, "power_off": 2.0, "snapshot": 3.0,
               "migrate_disk_and_power_off": 3.0, "finish_migration": 2.0, "live_migrate": 3.0}  # fmt: skip
DEMO_SYNC_INTERVAL = 10.0
DEMO_STOPPED_DELAY = 3.0


class Command(BaseCommand):
    help = (
        "Serve the dashboard (HTTP and WebSockets, with daphne) with the agents of N fake "
        "compute hosts and the watchdog running in the same process. --demo migrates and seeds "
        "demo users and instances."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--bind", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on.")
        parser.add_argument(
            "--agents", type=int, default=3, help="Fake compute hosts to run here (0: none)."
        )
        parser.add_argument("--demo", action="store_true", help="Migrate and seed demo data.")
        parser.add_argument(
            "--libvirt",
            metavar="URI",
            default="",
            help="Also run one real host's agent on this libvirt URI (e.g. qemu:///system).",
        )
        parser.add_argument("--libvirt-host", default="qemu-1", help="That host's name.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["agents"] < 0:
            raise CommandError("--agents must be 0 or more.")
        if options["demo"]:
            call_command("migrate", verbosity=0, interactive=False)
            self._demo_settings(sync_interval=DEMO_SYNC_INTERVAL)
        agents = [
            build_agent(host=f"compute-{n}", driver="fake") for n in range(1, options["agents"] + 1)
        ]
        for agent in agents:
            agent.register()
            agent.heartbeat()
        if options["demo"]:
            from compute import demo

            demo.seed(agents)  # before the delays: seeding runs every action at full speed
            self._demo_settings(fake_delays=DEMO_DELAYS)
        if options["libvirt"]:
            real = build_agent(
                host=options["libvirt_host"], driver="libvirt", uri=options["libvirt"]
            )
            real.register()
            real.heartbeat()
            if options["demo"]:
                from compute import demo

                demo.seed_real_guests(host=options["libvirt_host"])
            agents.append(real)
        for agent in agents:
            agent.start()
        url = f"http://{options['bind']}:{options['port']}/"
        real_hosts = f" and libvirt host {options['libvirt_host']}" if options["libvirt"] else ""
        fakes = options["agents"]
        self.stdout.write(
            f"vmdash on {url} with {fakes} fake host(s){real_hosts}; Ctrl-C stops it."
        )
        if options["demo"]:
            self.stdout.write("Log in as alice/alice (member) or admin/admin (admin).")
        try:
            self._serve(options["bind"], options["port"])
        finally:
            self._stop(agents)

    @staticmethod
    def _demo_settings(**demo: Any) -> None:
        """Apply demo pacing where the environment left Nova's defaults in place."""
        compute = dict(settings.COMPUTE)
        if "fake_delays" in demo and not compute.get("fake_delays"):
            compute["fake_delays"] = demo["fake_delays"]
        if "sync_interval" in demo and compute.get("sync_power_state_interval", 600.0) == 600.0:
            compute["sync_power_state_interval"] = demo["sync_interval"]
            # Nova holds a STOPPED event 15 s in case a reboot follows; the demo shows
            # out-of-band shutdowns sooner.
            compute.setdefault("lifecycle_stopped_delay", DEMO_STOPPED_DELAY)
        settings.COMPUTE = compute

    @staticmethod
    def _serve(bind: str, port: int) -> None:
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server

        from dashboard.asgi import application

        Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=bind, port=port),
            signal_handlers=True,
            verbosity=0,
        ).run()

    @staticmethod
    def _stop(agents: list[ComputeAgent]) -> None:
        for agent in agents:
            agent.stop(timeout=5)
