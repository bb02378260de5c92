"""A server's user metadata (``/servers/{id}/metadata``) and tags (``/servers/{id}/tags``),
with Nova's rules: the server must be ACTIVE, PAUSED, SUSPENDED or STOPPED with no task and not
locked (by someone else) for metadata; tags only need it not to be building or deleting. The
number of items is the project's ``metadata_items`` quota; 50 tags at most.

Metadata is ``Instance.metadata`` (not a state column); tags live in ``ServerExtras``.
"""

from __future__ import annotations

from django.db import transaction

from compute.context import RequestContext
from compute.exceptions import Conflict, Forbidden, Invalid, NotFound
from compute.models import Instance, ServerExtras
from compute.selectors import instance_get
from compute.services import quotas

METADATA_STATES = ("active", "paused", "suspended", "stopped")
MAX_TAGS = 50


class InstanceInvalidStateForMetadata(Conflict):
    pass


def _editable(context: RequestContext, instance: Instance, action: str) -> None:
    if instance.locked and not context.is_admin:
        raise Conflict(f"Instance {instance.uuid} is locked")
    if instance.vm_state not in METADATA_STATES or instance.task_state is not None:
        attr, state = (
            ("task_state", instance.task_state)
            if instance.task_state is not None
            else ("vm_state", instance.vm_state)
        )
        raise InstanceInvalidStateForMetadata(
            f"Cannot '{action}' instance {instance.uuid} while it is in {attr} {state}"
        )


def _check_count(instance: Instance, count: int) -> None:
    limit = quotas.project_limits(instance.project_id)["metadata_items"]
    if 0 <= limit < count:
        raise Forbidden(f"Quota exceeded for metadata_items: Maximum number of metadata items "
                        f"exceeds {limit}")  # fmt: skip


def metadata_get(*, context: RequestContext, instance_uuid: str) -> dict[str, str]:
    return dict(instance_get(context=context, instance_uuid=instance_uuid).metadata or {})


def metadata_set(
    *, context: RequestContext, instance_uuid: str, metadata: dict[str, str], replace: bool
) -> dict[str, str]:
    """Merge (``replace=False``) or replace the server's metadata; the result."""
    instance = instance_get(context=context, instance_uuid=instance_uuid)
    _editable(context, instance, "update_metadata")
    with transaction.atomic():
        current = (
            Instance.objects.select_for_update()
            .filter(pk=instance.pk)
            .values_list("metadata", flat=True)
            .get()
        )
        merged = dict(metadata) if replace else {**(current or {}), **metadata}
        _check_count(instance, len(merged))
        Instance.objects.filter(pk=instance.pk).update(metadata=merged)
    return merged


def metadata_replace(*, instance_uuid: str, metadata: dict[str, str]) -> None:
    """A rebuild's new metadata (the rebuild itself was accepted and checked the server)."""
    Instance.objects.filter(uuid=instance_uuid).update(metadata=dict(metadata))


def metadata_delete(*, context: RequestContext, instance_uuid: str, key: str) -> None:
    instance = instance_get(context=context, instance_uuid=instance_uuid)
    if key not in (instance.metadata or {}):
        raise NotFound("Metadata item was not found")
    _editable(context, instance, "delete_metadata")
    with transaction.atomic():
        current = (
            Instance.objects.select_for_update()
            .filter(pk=instance.pk)
            .values_list("metadata", flat=True)
            .get()
        )
        remaining = {k: v for k, v in (current or {}).items() if k != key}
        Instance.objects.filter(pk=instance.pk).update(metadata=remaining)


def _taggable(instance: Instance) -> None:
    if instance.vm_state in ("building", "deleted") or instance.task_state == "deleting":
        raise Conflict(
            f"Cannot 'update tags' instance {instance.uuid} while it is in vm_state "
            f"{instance.vm_state}"
        )


def tags_get(*, context: RequestContext, instance_uuid: str) -> list[str]:
    instance = instance_get(context=context, instance_uuid=instance_uuid)
    row = ServerExtras.objects.filter(instance_id=instance.pk).first()
    return list(row.tags or []) if row is not None else []


def tags_set(*, context: RequestContext, instance_uuid: str, tags: list[str]) -> list[str]:
    instance = instance_get(context=context, instance_uuid=instance_uuid)
    _taggable(instance)
    unique = list(dict.fromkeys(tags))
    if len(unique) > MAX_TAGS:
        raise Invalid(f"The number of tags exceeded the per-server limit {MAX_TAGS}")
    ServerExtras.objects.update_or_create(instance_id=instance.pk, defaults={"tags": unique})
    return unique


def tag_add(*, context: RequestContext, instance_uuid: str, tag: str) -> bool:
    """Add ``tag``; False when it was already there."""
    _taggable(instance_get(context=context, instance_uuid=instance_uuid))
    current = tags_get(context=context, instance_uuid=instance_uuid)
    if tag in current:
        return False
    tags_set(context=context, instance_uuid=instance_uuid, tags=[*current, tag])
    return True


def tag_delete(*, context: RequestContext, instance_uuid: str, tag: str) -> None:
    _taggable(instance_get(context=context, instance_uuid=instance_uuid))
    current = tags_get(context=context, instance_uuid=instance_uuid)
    if tag not in current:
        raise NotFound(f"Tag {tag} could not be found.")
    tags_set(context=context, instance_uuid=instance_uuid, tags=[t for t in current if t != tag])
