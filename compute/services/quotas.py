"""Nova's quotas: the limits of a project (its own, else the ``default`` class's, else the
configured defaults, ``settings.COMPUTE_QUOTA_DEFAULTS`` over Nova's), what it uses, and the
checks made before a create and a resize.

Usage is counted from the live instances (Nova's counting quota driver does the same since
Pike): instances, cores and ram from their flavors; key pairs per user; server groups per
project. A limit of -1 is unlimited. The check is not locked against a concurrent create in the
same project (neither is Nova's counting driver, which re-checks after the fact and may exceed
by the race window).
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Sum

from compute.exceptions import Forbidden
from compute.models import Instance, KeyPair, QuotaClassLimit, QuotaLimit, ServerGroup

#: Nova's defaults (``nova/conf/quota.py``), every resource the API shows at some version.
DEFAULTS: dict[str, int] = {
    "instances": 10,
    "cores": 20,
    "ram": 51200,
    "metadata_items": 128,
    "key_pairs": 100,
    "server_groups": 10,
    "server_group_members": 10,
    "injected_files": 5,
    "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255,
    "floating_ips": 10,
    "fixed_ips": -1,
    "security_groups": 10,
    "security_group_rules": 20,
}
DEFAULT_CLASS = "default"


def class_limits(class_name: str = DEFAULT_CLASS) -> dict[str, int]:
    limits = {**DEFAULTS, **getattr(settings, "COMPUTE_QUOTA_DEFAULTS", {})}
    rows = QuotaClassLimit.objects.filter(class_name=DEFAULT_CLASS)
    limits.update({r.resource: r.hard_limit for r in rows})
    if class_name != DEFAULT_CLASS:
        rows = QuotaClassLimit.objects.filter(class_name=class_name)
        limits.update({r.resource: r.hard_limit for r in rows})
    return limits


def project_limits(project_id: str) -> dict[str, int]:
    limits = class_limits()
    limits.update(
        {r.resource: r.hard_limit for r in QuotaLimit.objects.filter(project_id=project_id)}
    )
    return limits


def project_usage(project_id: str, user_id: str | None = None) -> dict[str, int]:
    live = Instance.objects.filter(project_id=project_id, deleted_at__isnull=True)
    sums = live.aggregate(instances=Count("id"), cores=Sum("flavor__vcpus"), ram=Sum("flavor__ram"))
    usage = {name: 0 for name in DEFAULTS}
    usage.update({k: v or 0 for k, v in sums.items()})
    usage["server_groups"] = ServerGroup.objects.filter(project_id=project_id).count()
    if user_id is not None:
        usage["key_pairs"] = KeyPair.objects.filter(user_id=user_id).count()
    return usage


def quota_update(*, project_id: str, values: dict[str, int]) -> None:
    for resource, limit in values.items():
        QuotaLimit.objects.update_or_create(
            project_id=project_id, resource=resource, defaults={"hard_limit": int(limit)}
        )


def quota_delete(*, project_id: str) -> None:
    QuotaLimit.objects.filter(project_id=project_id).delete()


def quota_class_update(*, class_name: str, values: dict[str, int]) -> None:
    for resource, limit in values.items():
        QuotaClassLimit.objects.update_or_create(
            class_name=class_name, resource=resource, defaults={"hard_limit": int(limit)}
        )


def check_quota(*, project_id: str, deltas: dict[str, int]) -> None:
    """Raise Nova's 403 when adding ``deltas`` would pass a limit of the project."""
    wanted = {k: v for k, v in deltas.items() if v > 0}
    if not wanted:
        return
    limits = project_limits(project_id)
    usage = project_usage(project_id)
    over = [r for r in ("instances", "cores", "ram") if r in wanted and limits[r] >= 0
            and usage[r] + wanted[r] > limits[r]]  # fmt: skip
    if over:
        resources = ", ".join(over)
        requested = ", ".join(str(wanted[r]) for r in over)
        used = ", ".join(str(usage[r]) for r in over)
        allowed = ", ".join(str(limits[r]) for r in over)
        raise Forbidden(
            f"Quota exceeded for {resources}: Requested {requested}, but already used "
            f"{used} of {allowed} {resources}"
        )


def check_limit(*, project_id: str, resource: str, count: int, message: str) -> None:
    """Raise 403 ``message`` when ``count`` passes the project's limit of ``resource``."""
    limit = project_limits(project_id)[resource]
    if 0 <= limit < count:
        raise Forbidden(message)


def check_create(
    *, project_id: str | None, flavor_ref: str, count: int, metadata_items: int
) -> None:
    """Nova's checks before a create: metadata items, then instances, cores and ram."""
    from compute.models import Flavor

    if project_id is None:
        return
    check_limit(
        project_id=project_id,
        resource="metadata_items",
        count=metadata_items,
        message=f"Maximum number of metadata items exceeds "
        f"{project_limits(project_id)['metadata_items']}",
    )
    flavor = Flavor.objects.filter(flavorid=str(flavor_ref)).first()
    if flavor is None:
        return  # the create itself refuses the flavor, with Nova's words
    check_quota(
        project_id=project_id,
        deltas={"instances": count, "cores": flavor.vcpus * count, "ram": flavor.ram * count},
    )


def check_resize(*, project_id: str, old_flavor_id: int, flavor_ref: str) -> None:
    """Nova's check before a resize: the growth in cores and ram must fit."""
    from compute.models import Flavor

    old = Flavor.objects.filter(pk=old_flavor_id).first()
    new = Flavor.objects.filter(flavorid=str(flavor_ref)).first()
    if old is None or new is None:
        return
    check_quota(
        project_id=project_id,
        deltas={"cores": new.vcpus - old.vcpus, "ram": new.ram - old.ram},
    )


GIB = 1024**3


def check_image_fits(*, flavor_ref: str, image_ref: str) -> None:
    """Nova's 400s when the flavor is smaller than the image's minimums."""
    from django.core.exceptions import ValidationError

    from compute.exceptions import Invalid
    from compute.models import Flavor, Image

    flavor = Flavor.objects.filter(flavorid=str(flavor_ref)).first()
    try:
        image = Image.objects.filter(pk=image_ref).first()
    except (ValueError, ValidationError):  # not a UUID: the create refuses it in its own words
        image = None
    if flavor is None or image is None:
        return
    if image.min_ram and flavor.ram < image.min_ram:
        raise Invalid("Flavor's memory is too small for requested image.")
    if flavor.disk and image.min_disk and flavor.disk < image.min_disk:
        raise Invalid(
            f"Flavor's disk is too small for requested image. Flavor disk is "
            f"{flavor.disk * GIB} bytes, minimum size is {image.min_disk * GIB} bytes."
        )
