"""``manage.py fake_guest <instance> shutdown|crash|start|pause|suspend|vanish|fail-next|slow-migration|log|type``.

Changes a guest on the fake hypervisor behind the dashboard's back, as a guest OS ``shutdown -h``
or a crashing kernel would; ``log`` prints its serial console's log, ``type TEXT`` types a line
at its serial console (``fake_guest web-1 type root``, then ``type "shutdown -h now"``). The dashboard learns of it the way it would from a real hypervisor:
through the lifecycle event the agent hears, or the next power-state sync.

``slow-migration SECONDS [--fail-at PERCENT]`` makes the guest's live migrations take SECONDS,
their memory and disk figures advancing as they go (so they can be watched, aborted or forced to
complete), and the next one fail once PERCENT is copied; ``slow-migration 0`` undoes both.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from compute.consoles import bus
from compute.drivers.fake import FakeDriver, remove_guest, set_guest_state
from compute.models import FakeGuest
from compute.states import PowerState

P = PowerState

_STATES = {
    "shutdown": P.SHUTDOWN,
    "crash": P.CRASHED,
    "start": P.RUNNING,
    "pause": P.PAUSED,
    "suspend": P.SUSPENDED,
}


class Command(BaseCommand):
    help = (
        "Change a fake hypervisor guest behind the dashboard's back. INSTANCE is the instance's "
        "uuid or name. 'fail-next [OPERATION]' makes the next driver operation on the guest's "
        "host fail; 'log' prints the guest's serial console log; 'type LINE' types LINE and "
        "Enter at its serial console."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("instance", help="Instance uuid or name.")
        parser.add_argument(
            "change",
            choices=[*_STATES, "vanish", "fail-next", "slow-migration", "log", "type"],
        )
        parser.add_argument(
            "operation",
            nargs="?",
            default="",
            help=(
                "For fail-next: e.g. power_off. For slow-migration: the seconds it takes. "
                "For type: the line to type."
            ),
        )
        parser.add_argument("--message", default="Injected failure from fake_guest.")
        parser.add_argument(
            "--fail-at",
            type=int,
            default=None,
            help="For slow-migration: fail the next live migration once this percent is copied.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        wanted = options["instance"]
        guests = list(FakeGuest.objects.filter(Q(uuid=wanted) | Q(name=wanted))[:2])
        if not guests:
            raise CommandError(f"No fake guest {wanted!r}: is the instance built on a fake host?")
        if len(guests) > 1:
            raise CommandError(f"Several guests are named {wanted!r}; give the uuid.")
        guest = guests[0]
        change = options["change"]
        if change == "log":
            self.stdout.write(FakeDriver(host=guest.host).console_output(guest.uuid))
            return
        if change == "type":
            # The fake hypervisor is its table: this process can type at the guest as well as
            # the agent; what it prints reaches the sockets through the channel layer (Redis).
            driver = FakeDriver(host=guest.host)
            before = len(driver.console_output(guest.uuid))
            driver.console_input(guest.uuid, options["operation"] + "\r")
            bus.flush()
            self.stdout.write(driver.console_output(guest.uuid)[before:])
            return
        if change == "vanish":
            remove_guest(guest)
        elif change == "slow-migration":
            self._slow_migration(guest, options["operation"], options["fail_at"])
        elif change == "fail-next":
            FakeDriver.fail_next(
                host=guest.host, operation=options["operation"], message=options["message"]
            )
        else:
            set_guest_state(guest, _STATES[change], saved=change == "suspend")
            bus.flush()
        self.stdout.write(f"{guest.name} ({guest.uuid}) on {guest.host}: {change}")

    def _slow_migration(self, guest: FakeGuest, seconds_text: str, fail_at: int | None) -> None:
        try:
            seconds = float(seconds_text or "")
        except ValueError:
            raise CommandError(
                "slow-migration needs the seconds a migration takes, e.g. 20."
            ) from None
        if not 0 <= seconds <= 3600:
            raise CommandError("slow-migration takes 0 to 3600 seconds.")
        if fail_at is not None and not 0 <= fail_at <= 100:
            raise CommandError("--fail-at is a percent, 0 to 100.")
        FakeGuest.objects.filter(pk=guest.pk).update(
            migration_seconds=seconds, migration_fail_at=fail_at if seconds or fail_at else None
        )
