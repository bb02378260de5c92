"""What every page carries: the scope and switcher, the presentation map for the live script, the
outbox sequence the page was rendered at, and the asset version for cache busting.

``begin`` must run before a view reads what it shows: the sequence it takes is the point the
page's live script resumes from, so a change committed while the page is being rendered is
replayed to it rather than lost (and a delta it already shows is ignored by version).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from compute.exceptions import ComputeError
from compute.notify.queries import unread_count
from compute.outbox.replay import latest_seq
from compute.selectors.tasks import open_task_count
from dashboard.models import Preference
from dashboard.web.language import preferred_language
from dashboard.web.presentation import presentation_json
from dashboard.web.refusals import in_language
from dashboard.web.scope import Scope, scope_for
from dashboard.web.views.preferences import theme_of


@dataclass(frozen=True)
class Page:
    request: HttpRequest
    scope: Scope
    seq: int

    def render(
        self, template: str, context: dict[str, Any], *, nav: str = "", status: int = 200
    ) -> HttpResponse:
        return render(
            self.request,
            template,
            {
                **context,
                "scope": self.scope,
                "nav": nav,
                "live": {
                    "seq": self.seq,
                    "now_ms": int(time.time() * 1000),
                    "admin": self.scope.is_admin,
                    "project": self.scope.selected or "",
                },
                # Where the top bar's forms come back to: not on an error page, which must not
                # echo what was asked for (a refused host's name, say).
                "back_to": self.request.get_full_path() if status < 400 else "",
                "theme": theme_of(self.request),
                "themes": Preference.Theme.choices,
                "language_choice": preferred_language(self.request),
                "bell_unread": unread_count(user_id=self.scope.full.user_id),
                "tasks_open": open_task_count(context=self.scope.full),
                "presentation_json": presentation_json(),
                "asset_version": asset_version(),
            },
            status=status,
        )

    def refused(self, error: ComputeError) -> None:
        """Show the domain's refusal (Nova's words, in the page's language) in the banner."""
        messages.error(self.request, in_language(error.message) or error.message)


def begin(request: HttpRequest) -> Page:
    seq = latest_seq()
    return Page(request=request, scope=scope_for(request), seq=seq)


@lru_cache(maxsize=1)
def asset_version() -> str:
    """A short digest of the static files' names and modification times."""
    digest = hashlib.sha1(usedforsecurity=False)
    for root in getattr(settings, "STATICFILES_DIRS", []):
        for path in sorted(Path(root).rglob("*")):
            if path.is_file():
                digest.update(f"{path}:{path.stat().st_mtime_ns}".encode())
    return digest.hexdigest()[:10]


def error_page(page: Page, *, status: int, title: str, message: str) -> HttpResponse:
    return page.render("web/error.html", {"title": title, "message": message}, status=status)
