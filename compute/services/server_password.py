"""A server's encrypted password, as Nova keeps it: the guest posts it to the metadata service,
which stores it in four ``system_metadata`` chunks (``password_0`` … ``password_3``);
``os-server-password`` reads them joined and clears them. No metadata service runs here, so
nothing stores one and a server's password reads empty until one does — Nova's answer for a
guest that never posted one. No state column is touched.
"""

from __future__ import annotations

from django.db import transaction

from compute.context import RequestContext
from compute.models import Instance
from compute.selectors import instance_get

PREFIX = "password_"


def server_password_get(*, context: RequestContext, instance_uuid: str) -> str:
    instance = instance_get(context=context, instance_uuid=instance_uuid)
    meta = instance.system_metadata or {}
    return "".join(str(meta[k]) for k in sorted(meta) if k.startswith(PREFIX))


def server_password_clear(*, context: RequestContext, instance_uuid: str) -> None:
    """Nova's clear: the stored chunks emptied (the guest's password itself is unchanged)."""
    instance = instance_get(context=context, instance_uuid=instance_uuid)
    with transaction.atomic():
        row = Instance.objects.select_for_update().only("system_metadata").get(pk=instance.pk)
        meta = dict(row.system_metadata or {})
        if not any(k.startswith(PREFIX) for k in meta):
            return
        meta.update({f"{PREFIX}{i}": "" for i in range(4)})
        Instance.objects.filter(pk=instance.pk).update(system_metadata=meta)
