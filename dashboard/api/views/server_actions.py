"""``POST /v2.1/servers/{id}/action``: every action of the action table, with Nova's bodies.

The body names the action (``dashboard.api.actions``); ``compute.services.instance_action``
checks it against the action table and starts it, or raises Nova's refusal (409 with Nova's
text, 403 by policy, 404 for a server the caller cannot see). A refused request changes nothing.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from compute import policy, services
from compute.models import InstanceAction
from compute.selectors import instance_get
from compute.services import quotas
from compute.services.server_extras import (
    security_group_add,
    security_group_remove,
    server_extras_set,
)
from compute.services.server_metadata import metadata_replace
from dashboard.api import actions
from dashboard.api.actions import Answer, id_from_href
from dashboard.api.docs.refs import VERSION_HEADER, compute_responses, ref
from dashboard.api.microversions import MAX_VERSION
from dashboard.api.presenters.rows import ServerRow
from dashboard.api.schemas import types as t
from dashboard.api.server_create import extras_of
from dashboard.api.validation import validate
from dashboard.api.views.consoles import CONSOLE_OUTPUT, console_action, is_console_action
from dashboard.api.views.servers import SERVER_ID, SHOWN, ServerViewMixin

SECURITY_GROUP = t.obj({"name": t.NAME}, required=("name",))


def _security_group_change(body: Any) -> tuple[str, str] | None:
    """(addSecurityGroup | removeSecurityGroup, group name) for such a body, else None."""
    if not isinstance(body, dict) or len(body) != 1:
        return None
    key = next(iter(body))
    if key not in ("addSecurityGroup", "removeSecurityGroup"):
        return None
    validate(body, t.wrapped(key, SECURITY_GROUP))
    return key, body[key]["name"]


ACTION_REQUEST: t.Schema = {
    "oneOf": [
        *(
            t.wrapped(row.body_key, row.schema(MAX_VERSION))
            for row in actions.BODY_ACTIONS.values()
        ),
        CONSOLE_OUTPUT,
    ]
}


class ServerAction(ServerViewMixin):
    @extend_schema(
        operation_id="serverAction",
        tags=["server actions"],
        summary="Run an action on a server",
        parameters=[SERVER_ID, VERSION_HEADER],
        request={"application/json": ACTION_REQUEST},
        responses=compute_responses(
            {200: ref("RescueAccepted"), 202: ref("ActionAccepted"), 204: None},
            403,
            404,
            409,
            415,
        ),
    )
    def post(self, request: Request, server_id: str) -> Response:
        if is_console_action(request.data):
            return console_action(request, self.context, self.version, server_id, request.data)
        groups = _security_group_change(request.data)
        if groups is not None:
            return self._security_group(server_id, *groups)
        if isinstance(request.data, dict) and list(request.data) == ["injectNetworkInfo"]:
            return self._inject_network_info(server_id)
        row, value = actions.parse(request.data, self.version)
        key, params = row.action(value)
        extras = extras_of(value, self.context) if key == "rebuild" else {}
        if key == "resize":
            instance = instance_get(context=self.context, instance_uuid=server_id, joined=())
            quotas.check_resize(
                project_id=instance.project_id,
                old_flavor_id=instance.flavor_id,
                flavor_ref=params["flavorRef"],
            )
        record = services.instance_action(
            context=self.context, instance_uuid=server_id, action=key, params=params
        )
        if key == "resize":
            # Nova's resize sets the disk config: AUTO if asked for, else MANUAL
            # (``instance.auto_disk_config = auto_disk_config or False``).
            auto = value.get("OS-DCF:diskConfig") == "AUTO"
            server_extras_set(
                instance_uuid=server_id, values={"disk_config": "AUTO" if auto else "MANUAL"}
            )
        if row.answer is Answer.SERVER:
            return self._rebuilt(server_id, value, extras)
        if row.answer is Answer.IMAGE:
            return self._imaged(record)
        if row.answer is Answer.PASSWORD:
            given = value.get("adminPass") if isinstance(value, dict) else None
            return Response({"adminPass": given or secrets.token_urlsafe(9)}, status=200)
        if row.answer is Answer.EVACUATE:
            if self.since("2.14"):
                return Response(status=200)
            shared = t.truthy(value.get("onSharedStorage"))
            given = value.get("adminPass")
            return Response(
                {"adminPass": given or (None if shared else secrets.token_urlsafe(9))}, status=200
            )
        return Response(status=row.answer.value)

    def _security_group(self, server_id: str, key: str, name: str) -> Response:
        instance = instance_get(context=self.context, instance_uuid=server_id, joined=())
        change = security_group_add if key == "addSecurityGroup" else security_group_remove
        change(instance=instance, project_id=instance.project_id, name=name)
        return Response(status=202)

    def _inject_network_info(self, server_id: str) -> Response:
        """Nova's admin action: cast to the host, whose libvirt driver injects nothing (the
        network is configured by DHCP); here no host has anything to inject either. Accepted
        for an admin, as Nova accepts it; nothing changes."""
        instance_get(context=self.context, instance_uuid=server_id, joined=())
        policy.authorize(self.context, "os_compute_api:os-admin-actions:inject_network_info")
        return Response(status=202)

    def _rebuilt(self, server_id: str, value: dict[str, Any], extras: dict[str, Any]) -> Response:
        if "key_name" in value and value["key_name"] is None:
            extras["key_name"] = None  # 2.54: null unsets the key pair
        if "user_data" in value and value["user_data"] is None:
            extras["user_data"] = None
        if extras:
            server_extras_set(instance_uuid=server_id, values=extras)
        if "metadata" in value:
            metadata_replace(instance_uuid=server_id, metadata=value["metadata"] or {})
        if "description" in value:
            services.instance_update(
                context=self.context,
                instance_uuid=server_id,
                description=value["description"] if value["description"] is not None else "",
            )
        instance = instance_get(context=self.context, instance_uuid=server_id, joined=SHOWN)
        body = self.views().updated(instance)
        row = ServerRow.of(instance)
        if not self.since("2.75"):
            # Nova's short view answers without the extended address keys.
            body["addresses"] = {
                net: [{"addr": a["addr"], "version": a["version"]} for a in addrs]
                for net, addrs in (body.get("addresses") or {}).items()
            }
        # Nova records the new image and name before the rebuild runs: the answer shows them.
        image_id = id_from_href(value.get("imageRef") or "")
        if image_id:
            body["image"] = {"id": image_id, "links": self.views().bookmark("images", image_id)}
        if value.get("name"):
            body["name"] = value["name"]
        if self.since("2.54"):
            body["key_name"] = row.extras["key_name"]
        if self.since("2.57"):
            # Nova shows it at the top level, never as the extended attribute, in a rebuild.
            body.pop("OS-EXT-SRV-ATTR:user_data", None)
            body["user_data"] = row.extras["user_data"]
        body["adminPass"] = value.get("adminPass") or secrets.token_urlsafe(9)
        return Response({"server": body}, status=202)

    def _imaged(self, record: InstanceAction | None) -> Response:
        image_id = record.dispatch.params.get("image_id") if record is not None else None
        if self.since("2.45"):
            return Response({"image_id": image_id}, status=202)
        response = Response(status=202)
        response["Location"] = self.request.build_absolute_uri(reverse("image", args=[image_id]))
        return response
