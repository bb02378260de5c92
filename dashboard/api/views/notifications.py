"""``/api/notifications…``: the caller's notifications, subscriptions and delivery logs (issue
15). Not a Nova API (Nova emits notifications on a message bus; it has no REST for them): the
bodies are this project's, the payloads inside are Nova's versioned notifications.

- ``GET /api/notifications?unread=1&limit=&offset=``; ``POST /api/notifications/read``
  (``{"ids": [...]}`` or all);
- ``GET|POST /api/notifications/subscriptions``; ``DELETE …/subscriptions/{id}``;
- ``GET …/subscriptions/{id}/log``: the delivery attempts, newest first.

Errors are the usual fault bodies (``compute.exceptions`` through the API's handler).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from compute.exceptions import Invalid
from compute.models import DeliveryAttempt, EventKind, Notification, Subscription
from compute.notify.queries import delivery_log, notifications_of, subscriptions_of
from compute.notify.subscriptions import (
    notifications_mark_read,
    subscription_create,
    subscription_delete,
)
from dashboard.api.base import AuthenticatedView
from dashboard.api.validation import query_int

MAX_LIMIT = 1000


def subscription_body(s: Subscription) -> dict[str, Any]:
    return {
        "id": s.pk,
        "scope": s.scope,
        "target": s.target,
        "events": list(s.events),
        "email": s.email,
        "webhook_url": s.webhook_url or None,
        "created_at": s.created_at.isoformat(),
    }


def notification_body(n: Notification) -> dict[str, Any]:
    return {
        "id": n.pk,
        "kind": n.kind,
        "event_type": n.event_type,
        "title": n.title,
        "object_id": n.object_id,
        "project_id": n.project_id,
        "seq": n.change_seq,
        "created_at": n.created_at.isoformat(),
        "read": n.read_at is not None,
        "payload": n.payload,
    }


def attempt_body(a: DeliveryAttempt) -> dict[str, Any]:
    return {
        "id": a.pk,
        "at": a.at.isoformat(),
        "delivery_id": a.delivery_id,
        "channel": a.delivery.channel,
        "target": a.delivery.target,
        "event_type": a.delivery.notification.event_type,
        "ok": a.ok,
        "status_code": a.status_code,
        "excerpt": a.excerpt,
        "delivery_state": a.delivery.state,
        "attempts": a.delivery.attempts,
    }


KINDS = "One of: " + ", ".join(EventKind.values)
SUBSCRIPTION = inline_serializer(
    "NotificationSubscription",
    {
        "id": serializers.IntegerField(),
        "scope": serializers.ChoiceField(Subscription.Scope.values),
        "target": serializers.CharField(),
        "events": serializers.ListField(child=serializers.CharField(help_text=KINDS)),
        "email": serializers.BooleanField(),
        "webhook_url": serializers.URLField(allow_null=True),
        "created_at": serializers.DateTimeField(),
    },
)
NEW_SUBSCRIPTION = inline_serializer(
    "NotificationSubscriptionRequest",
    {
        "scope": serializers.ChoiceField(Subscription.Scope.values),
        "target": serializers.CharField(),
        "events": serializers.ListField(
            child=serializers.CharField(help_text=KINDS), required=False
        ),
        "email": serializers.BooleanField(required=False),
        "webhook_url": serializers.URLField(required=False),
    },
)
NOTIFICATION = inline_serializer(
    "Notification",
    {
        "id": serializers.IntegerField(),
        "kind": serializers.CharField(help_text=KINDS),
        "event_type": serializers.CharField(),
        "title": serializers.CharField(),
        "object_id": serializers.CharField(),
        "project_id": serializers.CharField(allow_null=True),
        "seq": serializers.IntegerField(),
        "created_at": serializers.DateTimeField(),
        "read": serializers.BooleanField(),
        "payload": serializers.DictField(help_text="Nova's versioned notification."),
    },
)
ATTEMPT = inline_serializer(
    "NotificationDeliveryAttempt",
    {
        "id": serializers.IntegerField(),
        "at": serializers.DateTimeField(),
        "delivery_id": serializers.IntegerField(),
        "channel": serializers.ChoiceField(["email", "webhook"]),
        "target": serializers.CharField(),
        "event_type": serializers.CharField(),
        "ok": serializers.BooleanField(),
        "status_code": serializers.IntegerField(allow_null=True),
        "excerpt": serializers.CharField(),
        "delivery_state": serializers.ChoiceField(["pending", "delivered", "failed"]),
        "attempts": serializers.IntegerField(),
    },
)
TAGS = ["notifications"]


class NotificationList(AuthenticatedView):
    @extend_schema(
        tags=TAGS,
        parameters=[
            OpenApiParameter("unread", bool),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses={
            200: inline_serializer(
                "NotificationList", {"notifications": serializers.ListField(child=NOTIFICATION)}
            )
        },
    )
    def get(self, request: Request) -> Response:
        limit = min(query_int(request, "limit", 100), MAX_LIMIT)
        offset = query_int(request, "offset", 0)
        unread = request.query_params.get("unread") in ("1", "true")
        rows = notifications_of(context=self.context, unread_only=unread)[offset : offset + limit]
        return Response({"notifications": [notification_body(n) for n in rows]})


class NotificationRead(AuthenticatedView):
    @extend_schema(
        tags=TAGS,
        request=inline_serializer(
            "NotificationReadRequest",
            {"ids": serializers.ListField(child=serializers.IntegerField(), required=False)},
        ),
        responses={
            200: inline_serializer("NotificationRead", {"marked_read": serializers.IntegerField()})
        },
    )
    def post(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, dict) else None
        if body is None:
            raise Invalid("The request body must be a JSON object.")
        ids = body.get("ids")
        if ids is not None and (
            not isinstance(ids, list)
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
        ):
            raise Invalid("'ids' must be a list of integers.")
        return Response({"marked_read": notifications_mark_read(context=self.context, ids=ids)})


class SubscriptionList(AuthenticatedView):
    @extend_schema(
        tags=TAGS,
        responses={
            200: inline_serializer(
                "NotificationSubscriptionList",
                {"subscriptions": serializers.ListField(child=SUBSCRIPTION)},
            )
        },
    )
    def get(self, request: Request) -> Response:
        rows = subscriptions_of(context=self.context)
        return Response({"subscriptions": [subscription_body(s) for s in rows]})

    @extend_schema(
        tags=TAGS,
        request=NEW_SUBSCRIPTION,
        responses={
            201: OpenApiResponse(
                description="Created; ``webhook_secret`` (the HMAC key) is shown this once."
            ),
            400: OpenApiResponse(description="Unknown scope or event kind, refused webhook URL"),
            403: OpenApiResponse(description="A host, and the caller is not an admin"),
            404: OpenApiResponse(description="A project or instance the caller may not see"),
        },
    )
    def post(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, dict) else None
        if body is None:
            raise Invalid("The request body must be a JSON object.")
        events = body.get("events")
        if events is not None and (
            not isinstance(events, list) or not all(isinstance(e, str) for e in events)
        ):
            raise Invalid("'events' must be a list of event kinds.")
        for key in ("scope", "target", "webhook_url"):
            if body.get(key) is not None and not isinstance(body.get(key), str):
                raise Invalid(f"'{key}' must be a string.")
        if not isinstance(body.get("email", False), bool):
            raise Invalid("'email' must be a boolean.")
        created = subscription_create(
            context=self.context,
            scope=body.get("scope") or "",
            target=body.get("target") or "",
            events=events,
            email=body.get("email", False),
            webhook_url=body.get("webhook_url") or "",
        )
        return Response(
            {
                "subscription": {
                    **subscription_body(created),
                    "webhook_secret": created.webhook_secret or None,
                }
            },
            status=201,
        )


class SubscriptionDetail(AuthenticatedView):
    @extend_schema(tags=TAGS, responses={204: None, 404: OpenApiResponse(description="Not yours")})
    def delete(self, request: Request, pk: int) -> Response:
        subscription_delete(context=self.context, subscription_id=pk)
        return Response(status=204)


class SubscriptionLog(AuthenticatedView):
    @extend_schema(
        tags=TAGS,
        parameters=[OpenApiParameter("limit", int)],
        responses={
            200: inline_serializer(
                "NotificationDeliveryLog", {"attempts": serializers.ListField(child=ATTEMPT)}
            ),
            404: OpenApiResponse(description="Not the caller's subscription"),
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        limit = min(query_int(request, "limit", 100), MAX_LIMIT)
        rows = delivery_log(context=self.context, subscription_id=pk)[:limit]
        return Response({"attempts": [attempt_body(a) for a in rows]})
