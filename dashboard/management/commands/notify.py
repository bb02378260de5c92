"""``manage.py notify run|subscribe|unsubscribe|subscriptions|list|read|log … [--json]``.

- ``run [--once]``: the notifier loop (derive from the outbox, deliver), the same every web
  process runs; any number may run at once (the cursor is leased, deliveries are claimed).
- ``subscribe --user U --scope project|host|instance --target T [--events K,…] [--email]
  [--webhook URL]``: as that user, with their rights (a project may be named by name or id).
- ``unsubscribe --user U --id N``, ``subscriptions --user U``, ``list --user U [--unread]``,
  ``read --user U``, ``log --user U --id N`` (a subscription's delivery log).

Every refusal is the domain's message and exit status 1; ``--json`` prints one JSON document.
"""

from __future__ import annotations

import asyncio
import json
from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from compute.context import RequestContext
from compute.exceptions import ComputeError
from compute.models import Project
from compute.notify import runner
from compute.notify.queries import delivery_log, notifications_of, subscriptions_of
from compute.notify.subscriptions import (
    notifications_mark_read,
    subscription_create,
    subscription_delete,
)
from dashboard.api.views.notifications import (
    attempt_body,
    notification_body,
    subscription_body,
)
from dashboard.context import context_for

COMMANDS = ("run", "subscribe", "unsubscribe", "subscriptions", "list", "read", "log")


class Command(BaseCommand):
    help = "Notifications: run the notifier, manage a user's subscriptions, read the logs."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("command", choices=COMMANDS)
        parser.add_argument("--user", help="The user acted as (all but run).")
        parser.add_argument("--scope", choices=["project", "host", "instance"])
        parser.add_argument("--target", help="Project (name or id), host name or instance.")
        parser.add_argument("--events", default="", help="Comma-separated event kinds.")
        parser.add_argument("--email", action="store_true")
        parser.add_argument("--webhook", default="")
        parser.add_argument("--id", type=int, help="A subscription's id.")
        parser.add_argument("--unread", action="store_true")
        parser.add_argument("--once", action="store_true", help="run: one pass, then exit.")
        parser.add_argument("--json", action="store_true", help="One JSON document.")

    def handle(self, *args: Any, **options: Any) -> None:
        command = options["command"]
        try:
            if command == "run":
                result: Any = self._run(options)
            else:
                result = getattr(self, f"_{command}")(self._context(options), options)
        except ComputeError as error:
            raise CommandError(error.message) from None
        if result is None:
            return
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2, default=str))
        else:
            self._plain(result)

    def _plain(self, result: Any) -> None:
        rows = result if isinstance(result, list) else [result]
        for row in rows:
            self.stdout.write(
                "  ".join(f"{k}={v}" for k, v in row.items() if k not in ("payload",))
            )

    def _context(self, options: dict[str, Any]) -> RequestContext:
        name = options.get("user")
        if not name:
            raise CommandError("--user is required.")
        user = get_user_model().objects.filter(username=name).first()
        if user is None:
            raise CommandError(f"No user {name!r}.")
        return context_for(user, client="cli")

    def _run(self, options: dict[str, Any]) -> dict[str, int] | None:
        if options["once"]:
            return runner.run_once()
        asyncio.run(runner.run_forever())  # pragma: no cover - the loops; --once is tested
        return None

    def _subscribe(self, context: RequestContext, options: dict[str, Any]) -> dict[str, Any]:
        target = options.get("target") or ""
        if options.get("scope") == "project":
            named = Project.objects.filter(name=target).values_list("pk", flat=True).first()
            target = named or target
        events = [e.strip() for e in options["events"].split(",") if e.strip()] or None
        created = subscription_create(
            context=context,
            scope=options.get("scope") or "",
            target=target,
            events=events,
            email=options["email"],
            webhook_url=options["webhook"],
        )
        return {**subscription_body(created), "webhook_secret": created.webhook_secret}

    def _unsubscribe(self, context: RequestContext, options: dict[str, Any]) -> dict[str, Any]:
        subscription_delete(context=context, subscription_id=self._id(options))
        return {"deleted": options["id"]}

    def _subscriptions(self, context: RequestContext, options: dict[str, Any]) -> list[Any]:
        return [subscription_body(s) for s in subscriptions_of(context=context)]

    def _list(self, context: RequestContext, options: dict[str, Any]) -> list[Any]:
        rows = notifications_of(context=context, unread_only=options["unread"])[:100]
        return [notification_body(n) for n in rows]

    def _read(self, context: RequestContext, options: dict[str, Any]) -> dict[str, Any]:
        return {"marked_read": notifications_mark_read(context=context)}

    def _log(self, context: RequestContext, options: dict[str, Any]) -> list[Any]:
        rows = delivery_log(context=context, subscription_id=self._id(options))[:100]
        return [attempt_body(a) for a in rows]

    def _id(self, options: dict[str, Any]) -> int:
        if options.get("id") is None:
            raise CommandError("--id is required.")
        return int(options["id"])
