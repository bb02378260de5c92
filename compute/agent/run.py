"""One execution of a dispatched action: the instance, the dispatch and the driver, with what
the driver's operations and the action's ending read of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compute.drivers.base import ComputeDriver, GuestSpec
from compute.image_store import image_path
from compute.models import ActionDispatch, Flavor, Image, Instance
from compute.states import VmState


@dataclass
class Run:
    """One execution of a dispatch: what the op adapters below need."""

    driver: ComputeDriver
    dispatch: ActionDispatch
    instance: Instance

    @property
    def uuid(self) -> str:
        return str(self.instance.uuid)

    @property
    def params(self) -> dict[str, Any]:
        return self.dispatch.params

    @property
    def migration_id(self) -> int | None:
        """The migration record the action walks (``compute.migration_records``), if any."""
        found = self.dispatch.params.get("migration_id")
        return int(found) if found else None

    @property
    def meta(self) -> dict[str, Any]:
        return self.instance.system_metadata

    def guest(self, *, flavor_id: int | None = None, image_id: str | None = None) -> GuestSpec:
        flavor = Flavor.objects.get(pk=flavor_id) if flavor_id else self.instance.flavor
        image = Image.objects.filter(pk=image_id).first() if image_id else self.instance.image
        path = image_path(image) if image else None
        return GuestSpec(
            uuid=self.uuid,
            name=self.instance.name,
            vcpus=flavor.vcpus,
            memory_mb=flavor.ram,
            disk_gb=flavor.disk,
            image=image.name if image else "",
            image_file=str(path) if path else "",
            image_format=(image.disk_format if image else None) or "qcow2",
        )

    @property
    def was_stopped(self) -> bool:
        return self.meta.get("old_vm_state") == VmState.STOPPED
