"""``manage.py create_user USERNAME --password P --project PROJECT [--role member|admin]``."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from compute.exceptions import ComputeError
from compute.models import Role
from compute.services import user_ensure


class Command(BaseCommand):
    help = (
        "Create whatever is missing of the user, the project and the user's role in it. An "
        "existing user keeps its password unless --password is given."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--password", default=None)
        parser.add_argument("--project", required=True)
        parser.add_argument("--role", choices=Role.values, default=Role.MEMBER)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            done = user_ensure(
                username=options["username"],
                password=options["password"],
                project=options["project"],
                role=options["role"],
            )
        except ComputeError as error:
            raise CommandError(error.message) from None
        made = [
            what
            for what, flag in (
                ("user", done.created_user),
                ("project", done.created_project),
                ("role assignment", done.created_membership),
            )
            if flag
        ]
        summary = ", ".join(made) if made else "nothing new"
        self.stdout.write(
            f"{options['username']} is {options['role']} in {options['project']} (created: {summary})"
        )
