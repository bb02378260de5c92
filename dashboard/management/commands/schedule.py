"""``manage.py schedule add|list|cancel|run …``: scheduled actions (one-off runs).

- ``add --user U --instance I --action start|stop|reboot|reboot_hard|shelve|createImage
  --at 2026-12-24T07:00 [--tz Europe/Paris] [--image-name N]``
- ``list --user U``, ``cancel --user U --id N``
- ``run [--once]``: run the due schedules (every web process also does, every second).

``--json`` prints one JSON document; a refusal is the domain's message and exit status 1.
"""

from __future__ import annotations

import json
import time
from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from compute.exceptions import ComputeError
from compute.models import ScheduledAction
from compute.services.schedules import (
    SCHEDULABLE,
    schedule_cancel,
    schedule_create,
    schedules_run_due,
)
from dashboard.api.views.schedules import schedule_body
from dashboard.context import context_for


class Command(BaseCommand):
    help = "Scheduled actions: add, list, cancel, or run the due ones."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("command", choices=["add", "list", "cancel", "run"])
        parser.add_argument("--user")
        parser.add_argument("--instance")
        parser.add_argument("--action", choices=SCHEDULABLE)
        parser.add_argument("--at", help="ISO date and time in --tz")
        parser.add_argument("--tz", default="UTC")
        parser.add_argument("--image-name", default="")
        parser.add_argument("--id", type=int)
        parser.add_argument("--once", action="store_true")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        command = options["command"]
        try:
            result = self._do(command, options)
        except ComputeError as error:
            raise CommandError(error.message) from None
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
        else:
            for row in result if isinstance(result, list) else [result]:
                self.stdout.write("  ".join(f"{k}={v}" for k, v in row.items()))

    def _do(self, command: str, options: dict[str, Any]) -> Any:
        if command == "run":
            if options["once"]:
                return schedules_run_due()
            while True:  # pragma: no cover - the loop; a pass is tested through --once
                schedules_run_due()
                time.sleep(1.0)
        name = options.get("user")
        user = get_user_model().objects.filter(username=name).first() if name else None
        if user is None:
            raise CommandError("--user must name an existing user.")
        context = context_for(user, client="cli")
        if command == "add":
            params = {"name": options["image_name"]} if options["image_name"] else None
            created = schedule_create(
                context=context,
                instance_uuid=options.get("instance") or "",
                action=options.get("action") or "",
                run_at=options.get("at") or "",
                time_zone=options["tz"],
                params=params,
            )
            return schedule_body(created)
        if command == "cancel":
            if options.get("id") is None:
                raise CommandError("--id is required.")
            return schedule_body(schedule_cancel(context=context, schedule_id=options["id"]))
        rows = ScheduledAction.objects.select_related("instance").filter(owner=user)
        return [schedule_body(s) for s in rows.order_by("-id")[:500]]
