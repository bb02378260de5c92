"""``manage.py compute_agent --host NAME --driver fake|libvirt [--uri URI]``: run one host."""

from __future__ import annotations

import signal
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from compute.agent.runner import build_agent


class Command(BaseCommand):
    help = (
        "Run the compute agent of one host: heartbeat every report_interval, claim and run the "
        "actions dispatched to the host, recover interrupted work on start, run the power-state "
        "sync on its interval and listen to the hypervisor's lifecycle events."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", required=True, help="The compute host this agent runs.")
        parser.add_argument("--driver", choices=["fake", "libvirt"], default="fake")
        parser.add_argument("--uri", default="", help="libvirt connection URI (libvirt only).")
        parser.add_argument("--workers", type=int, default=4, help="Actions run at once.")

    def handle(self, *args: Any, **options: Any) -> None:
        agent = build_agent(
            host=options["host"],
            driver=options["driver"],
            uri=options["uri"],
            workers=options["workers"],
        )
        agent.start()
        self.stdout.write(f"compute agent for {options['host']} ({options['driver']}) running")

        def _stop(signum: int, frame: object) -> None:
            agent.stop()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        agent.wait()
        self.stdout.write("compute agent stopped")
