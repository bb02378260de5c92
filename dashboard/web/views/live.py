"""The polling fallback of the live updates: the same deltas the WebSocket sends.

A page whose socket cannot connect asks ``/live/poll?since=<seq>`` every few seconds and gets
``compute.outbox.replay`` for its user: the same visibility as the socket (its projects, or
everything for admins), the same message shapes, and ``resync`` when the outbox no longer
reaches back that far.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from compute.outbox.replay import latest_seq, replay
from dashboard.context import context_for

MAX_BATCH = 500


@never_cache
@require_GET
def live_poll_view(request: HttpRequest) -> JsonResponse:
    if not request.user.is_authenticated:
        return JsonResponse({"error": "Authentication required."}, status=401)
    try:
        since = int(request.GET.get("since", ""))
        if since < 0:
            raise ValueError
    except ValueError:
        return JsonResponse({"error": "since must be a sequence number."}, status=400)
    context = context_for(request.user, client="poll")
    head = latest_seq()
    messages, complete = replay(context=context, since=since, limit=MAX_BATCH)
    return JsonResponse(
        {
            "messages": [{"type": "delta", "seq": m["seq"], "delta": m["delta"]} for m in messages],
            "resync": not complete,
            # The next "since": past everything replayed, and past invisible events up to the head.
            "seq": max([since, head, *(m["seq"] for m in messages)]),
            "admin": context.is_admin,
        }
    )
