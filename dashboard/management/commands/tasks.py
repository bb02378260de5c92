"""``manage.py tasks list|cancel|abort --user U [--outcome O] [--action A] [--instance I] [--id N]
[--json]``: the task centre from a shell, with the user's rights (``cancel``: a queued action no
agent has taken; ``abort``: a live migration in progress). A refusal is the domain's message and exit status 1."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from compute.exceptions import ComputeError
from compute.selectors.tasks import OUTCOMES, task_rows, visible_actions
from compute.services.tasks import action_abort, action_cancel
from dashboard.api.views.tasks import task_body
from dashboard.context import context_for


class Command(BaseCommand):
    help = (
        "The task centre: list the actions a user may see, cancel a queued one, "
        "abort a live migration."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("command", choices=["list", "cancel", "abort"])
        parser.add_argument("--user", required=True)
        parser.add_argument("--outcome", choices=OUTCOMES, default="")
        parser.add_argument("--action", default="")
        parser.add_argument("--instance", default="")
        parser.add_argument("--id", type=int)
        parser.add_argument("--limit", type=int, default=50)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user {options['user']!r}.")
        context = context_for(user, client="cli")
        try:
            if options["command"] in ("cancel", "abort"):
                if options["id"] is None:
                    raise CommandError("--id is required.")
                if options["command"] == "abort":
                    action = action_abort(context=context, action_id=options["id"])
                    result: Any = {"aborted": options["id"], "action": action.action}
                else:
                    action = action_cancel(context=context, action_id=options["id"])
                    result = {"cancelled": action.pk, "action": action.action}
            else:
                rows = visible_actions(
                    context=context,
                    outcome=options["outcome"],
                    action=options["action"],
                    instance=options["instance"],
                )[: max(0, options["limit"])]
                result = [task_body(t) for t in task_rows(context=context, actions_page=list(rows))]
        except ComputeError as error:
            raise CommandError(error.message) from None
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        for row in result if isinstance(result, list) else [result]:
            self.stdout.write("  ".join(f"{k}={v}" for k, v in row.items()))
