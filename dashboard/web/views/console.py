"""The console's pages and endpoints: a one-time console URL for the instance page's Console
tab (the same door as the API's ``remote-consoles``), the noVNC page a ``novnc`` URL opens, and
the charts' samples.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from compute.conf import conf
from compute.consoles.service import TYPES, remote_console_create
from compute.exceptions import ComputeError
from compute.selectors.samples import instance_samples
from dashboard.security import CONSOLE_POLICY
from dashboard.web.pages import begin
from dashboard.web.refusals import in_language


@login_required
@require_POST
def console_token_view(request: HttpRequest, uuid: UUID, protocol: str) -> JsonResponse:
    """``{"token": …}`` for one connection of the page's console (its protocol's type)."""
    page = begin(request)
    if protocol not in TYPES:
        return JsonResponse({"message": f"Unavailable console type {protocol}."}, status=400)
    try:
        issued = remote_console_create(
            context=page.scope.context,
            instance_uuid=str(uuid),
            protocol=protocol,
            console_type=TYPES[protocol],
        )
    except ComputeError as refused:
        return JsonResponse({"message": in_language(refused.message)}, status=refused.code)
    return JsonResponse({"token": issued.token, "type": issued.console_type})


@login_required
@require_GET
def samples_view(request: HttpRequest, uuid: UUID) -> JsonResponse:
    """The charts' data: ``{"interval": s, "samples": [[ms, cpu %, mem MiB, max MiB, read B/s,
    write B/s, rx B/s, tx B/s], …]}``, after ``?since=<epoch ms>``."""
    page = begin(request)
    since = None
    raw = request.GET.get("since", "")
    if raw:
        if not raw.isdigit() or len(raw) > 15:
            return JsonResponse({"message": "since must be epoch milliseconds."}, status=400)
        # Rows are shown to the millisecond: "after" begins at the next one.
        since = datetime.fromtimestamp((int(raw) + 1) / 1000, tz=UTC)
    try:
        rows = instance_samples(context=page.scope.context, instance_uuid=str(uuid), since=since)
    except ComputeError as refused:
        return JsonResponse({"message": in_language(refused.message)}, status=refused.code)
    return JsonResponse({"interval": conf().diagnostics_interval, "samples": rows})


@login_required
@require_GET
def vnc_page_view(request: HttpRequest) -> HttpResponse:
    """The page a ``novnc`` URL opens: noVNC, connected with the URL's token."""
    page = begin(request)
    response = page.render("web/consoles/vnc.html", {}, nav="instances")
    response.headers["Content-Security-Policy"] = CONSOLE_POLICY
    return response
