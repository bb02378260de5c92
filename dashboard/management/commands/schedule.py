"""``manage.py schedule add|list|show|pause|resume|cancel|run …``: scheduled actions.

- ``add --user U --action start|stop|reboot|reboot_hard|shelve|createImage [--image-name N]``,
  a target — ``--instance I``, or a filter: ``--filter-name RE --filter-status S
  --filter-host H --project P`` (any of them; none at all selects every instance U sees) —
  and when: ``--at 2026-12-24T07:00`` once or ``--cron '0 3 * * 1-5'``, in ``--tz Europe/Paris``.
- ``list --user U``; ``show|pause|resume|cancel --user U --id N`` (``show`` adds the runs).
- ``run [--once] [--interval S]``: run the due schedules (every web process also does, every
  second).

``--json`` prints one JSON document; a refusal is the domain's message and exit status 1.
"""

from __future__ import annotations

import json
import time
from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from compute.exceptions import ComputeError, NotFound
from compute.selectors.schedules import schedule_runs, schedules_of
from compute.services.schedule_runs import schedules_run_due
from compute.services.schedules import (
    SCHEDULABLE,
    schedule_cancel,
    schedule_create,
    schedule_pause,
    schedule_resume,
)
from dashboard.api.views.schedules import run_body, schedule_body
from dashboard.context import context_for

BY_ID = {"pause": schedule_pause, "resume": schedule_resume, "cancel": schedule_cancel}


class Command(BaseCommand):
    help = "Scheduled actions: add, list, show, pause, resume, cancel, or run the due ones."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "command", choices=["add", "list", "show", "pause", "resume", "cancel", "run"]
        )
        parser.add_argument("--user")
        parser.add_argument("--instance")
        parser.add_argument("--filter-name", default="")
        parser.add_argument("--filter-status", default="")
        parser.add_argument("--filter-host", default="")
        parser.add_argument("--project", default="")
        parser.add_argument("--action", choices=SCHEDULABLE)
        parser.add_argument("--at", default="", help="once: ISO date and time in --tz")
        parser.add_argument("--cron", default="", help="recurring: minute hour day month weekday")
        parser.add_argument("--tz", default="UTC")
        parser.add_argument("--image-name", default="")
        parser.add_argument("--id", type=int)
        parser.add_argument("--once", action="store_true")
        parser.add_argument("--interval", type=float, default=1.0, help="run: seconds per pass")
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
                time.sleep(options["interval"])
        name = options.get("user")
        user = get_user_model().objects.filter(username=name).first() if name else None
        if user is None:
            raise CommandError("--user must name an existing user.")
        context = context_for(user, client="cli")
        if command == "add":
            target = {
                "name": options["filter_name"],
                "status": options["filter_status"],
                "host": options["filter_host"],
                "project_id": options["project"],
            }
            created = schedule_create(
                context=context,
                action=options.get("action") or "",
                instance_uuid=options.get("instance") or "",
                target_filter=None if options.get("instance") else target,
                run_at=options["at"],
                cron=options["cron"],
                time_zone=options["tz"],
                params={"name": options["image_name"]} if options["image_name"] else None,
            )
            return schedule_body(created)
        if command == "list":
            return [schedule_body(s) for s in schedules_of(context=context)[:500]]
        if options.get("id") is None:
            raise CommandError("--id is required.")
        if command == "show":
            found = schedules_of(context=context).filter(pk=options["id"]).first()
            if found is None:
                raise NotFound(f"Scheduled action {options['id']} could not be found.")
            runs = schedule_runs(context=context, schedule_id=found.pk)[:50]
            return {**schedule_body(found), "runs": [run_body(r) for r in runs]}
        return schedule_body(BY_ID[command](context=context, schedule_id=options["id"]))
