"""``manage.py sync_power_states [--host NAME …] [--driver fake|libvirt] [--uri URI]
[--once | --interval SECONDS] [--chunk HOSTS] [--json]``: Nova's power-state sync, outside the
agent.

Each round is ``compute.sync.sync_fleet``: the agents' pass (``sync_host``), made over a chunk
of hosts at once where the driver lists many hosts' guests in one call (the fake hypervisor),
with the same decisions and one record per host. Without ``--host`` every registered host is
synced (only those of ``--driver`` if given), each through the driver and URI it registered
with. A host on libvirt's ``test://`` hypervisor is skipped unless ``--uri`` is given: that
hypervisor lives inside the process that opened it, so another process would see no guests at
all and report every instance gone. After each round, pass records beyond the newest
``PASSES_KEPT`` of each host are pruned.
"""

from __future__ import annotations

import json
import signal
import threading
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from compute.agent.periodic import DEFAULT_SPACING
from compute.conf import conf
from compute.drivers import load_driver
from compute.drivers.base import ComputeDriver
from compute.models import Host
from compute.states import POWER_STATE_NAMES
from compute.sync import CHUNK_HOSTS, SyncPassReport, prune_passes, report, sync_fleet


class Command(BaseCommand):
    help = (
        "Keep power_state in step with the hypervisor as Nova does: one pass per host reads "
        "every guest's state, copies it into power_state and stops (or force-stops, or deletes) "
        "instances whose guest went off behind the dashboard's back, as the system user. Runs "
        "every --interval seconds (default sync_power_state_interval, 600; negative disables), "
        "or once with --once."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--host",
            dest="hosts",
            nargs="+",
            action="extend",
            metavar="NAME",
            help="Hosts to sync (default: every registered host).",
        )
        parser.add_argument(
            "--driver",
            choices=["fake", "libvirt"],
            help="Driver to use (default: the one each host registered with).",
        )
        parser.add_argument("--uri", default="", help="libvirt URI (default: the host's own).")
        when = parser.add_mutually_exclusive_group()
        when.add_argument("--once", action="store_true", help="Run one pass and exit.")
        when.add_argument(
            "--interval",
            type=float,
            help="Seconds between passes (0: Nova's default spacing, 60; negative: disabled).",
        )
        parser.add_argument(
            "--count", type=int, help="Stop after this many passes (default: until interrupted)."
        )
        parser.add_argument(
            "--chunk",
            type=int,
            default=CHUNK_HOSTS,
            metavar="HOSTS",
            help=f"Hosts synced together where the driver allows (default {CHUNK_HOSTS}; "
            "1: each host on its own, as its agent does).",
        )
        parser.add_argument("--json", action="store_true", help="Print each pass as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        interval = options["interval"]
        if interval is None:
            interval = conf().sync_power_state_interval
        if not options["once"] and interval < 0:
            self.stdout.write("The periodic power-state sync is disabled (negative interval).")
            return
        if options["chunk"] < 1:
            raise CommandError("--chunk must be at least 1.")
        hosts = self._hosts(options)
        drivers: dict[int, ComputeDriver] = {}
        stop = threading.Event()
        previous = {}
        if not options["once"] and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, lambda *_: stop.set())
        rounds = 0
        try:
            while True:
                for host in hosts:
                    self._driver(host, options, drivers)
                records = sync_fleet(hosts=hosts, drivers=drivers, chunk=options["chunk"])
                reports = [report(record) for record in records]
                prune_passes()
                rounds += 1
                self._print(reports, as_json=options["json"], pretty=options["once"])
                if options["once"]:
                    failed = [r["host"] for r in reports if r["error"]]
                    if failed:
                        raise CommandError(f"The sync failed on: {', '.join(failed)}")
                    return
                if options["count"] is not None and rounds >= options["count"]:
                    return
                close_old_connections()
                if stop.wait(interval or DEFAULT_SPACING):
                    return
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            for driver in drivers.values():
                driver.close()

    def _hosts(self, options: dict[str, Any]) -> list[Host]:
        names: list[str] | None = options["hosts"]
        rows = Host.objects.order_by("host")
        if names:
            found = list(rows.filter(host__in=names))
            missing = sorted(set(names) - {h.host for h in found})
            if missing:
                raise CommandError(f"Compute host(s) not found: {', '.join(missing)}")
            return found
        if options["driver"]:
            rows = rows.filter(driver=options["driver"])
        chosen = []
        for host in rows:
            if not options["uri"] and host.driver_uri.startswith("test:"):
                self.stderr.write(
                    f"Skipping {host.host}: its test:// hypervisor lives in its agent's process; "
                    "the agent syncs it (or pass --host and --uri)."
                )
                continue
            chosen.append(host)
        if not chosen:
            raise CommandError("No compute host to sync.")
        return chosen

    @staticmethod
    def _driver(
        host: Host, options: dict[str, Any], drivers: dict[int, ComputeDriver]
    ) -> ComputeDriver:
        if host.pk not in drivers:
            name = options["driver"] or host.driver or "fake"
            uri = options["uri"] or host.driver_uri
            try:
                drivers[host.pk] = load_driver(name, host=host.host, uri=uri)
            except ImportError as missing:
                raise CommandError(f"The {name} driver is not available: {missing}") from None
        return drivers[host.pk]

    def _print(self, reports: list[SyncPassReport], *, as_json: bool, pretty: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(reports, indent=2 if pretty else None))
            return
        for r in reports:
            if r["error"]:
                self.stdout.write(f"{r['host']}: sync failed: {r['error']}")
                continue
            self.stdout.write(
                f"{r['host']}: {r['checked']} instance(s) checked in {r['duration_ms']:.1f} ms, "
                f"{len(r['changes'])} change(s), {len(r['unknown_guests'])} unknown guest(s)"
            )
            for change in r["changes"]:
                before, after = (POWER_STATE_NAMES.get(p, str(p)) for p in change["power_state"])
                action = f", {change['action']} requested" if change["action"] else ""
                note = f" ({change['note']})" if change["note"] else ""
                self.stdout.write(
                    f"  {change['name']} ({change['instance']}) {change['vm_state']}: "
                    f"power {before} → {after}{action}{note}"
                )
            for guest in r["unknown_guests"]:
                note = f" ({guest['note']})" if guest["note"] else ""
                power = POWER_STATE_NAMES.get(guest["power_state"], str(guest["power_state"]))
                self.stdout.write(f"  unknown guest {guest['uuid']}: {power}{note}")
