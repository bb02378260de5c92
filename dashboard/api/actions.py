"""``POST /servers/{id}/action``: Nova's request bodies, mapped to the action table's keys.

One row per body key: the microversion it appears in, the schema of its value (per version),
how it becomes an action key with parameters for ``compute.services.instance_action``, and how
Nova answers it (202 with no body for most; 204 for confirmResize; 200 with the password for
rescue; the image for createImage/createBackup; the server for rebuild). State rules are not
here: they are the action table's (``compute/actions.py``), checked by the service.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from compute.actions import ACTIONS, ActionSpec, get
from dashboard.api.faults import APIFault
from dashboard.api.microversions import APIVersion
from dashboard.api.schemas import servers as server_schemas
from dashboard.api.schemas import types as t
from dashboard.api.validation import validate


class Answer(enum.Enum):
    ACCEPTED = 202
    NO_CONTENT = 204
    PASSWORD = 200
    IMAGE = "image"
    SERVER = "server"
    #: 200: Nova's ``adminPass`` before 2.14, no body from 2.14.
    EVACUATE = "evacuate"


@dataclass(frozen=True)
class BodyAction:
    body_key: str
    schema: Callable[[APIVersion], t.Schema]
    action: Callable[[Any], tuple[str, dict[str, Any]]]
    min_version: str = "2.1"
    answer: Answer = Answer.ACCEPTED


def unsupported(name: str) -> APIFault:
    """A request for something this dashboard cannot keep: refused, never silently dropped."""
    return APIFault(400, f"'{name}' is not supported by this cloud.")


def id_from_href(value: object) -> str:
    """Nova accepts a flavor or image reference as an id or as a URL ending in it."""
    return str(value).rstrip("/").rsplit("/", 1)[-1]


#: An argument-less action's value, and an action's before the microversion that gave it
#: arguments: anything, ignored, as Nova's ``{'os-stop': {}}`` schemas (and its unvalidated
#: versions) take it. Clients send ``null`` or ``{}`` (Tempest does).
NO_ARGUMENTS: t.Schema = {}


def _null(_: APIVersion) -> t.Schema:
    return NO_ARGUMENTS


def _same(key: str) -> Callable[[Any], tuple[str, dict[str, Any]]]:
    return lambda _value: (key, {})


def _variants(body_key: str) -> dict[str, ActionSpec]:
    """The action-table rows Nova serves as ``body_key`` with a type, by each accepted value."""
    return {
        accepted: spec
        for spec in ACTIONS
        if spec.variant is not None and spec.variant.action == body_key
        for accepted in spec.variant.accepted_values
    }


def _typed(
    body_key: str,
) -> tuple[Callable[[APIVersion], t.Schema], Callable[[Any], tuple[str, dict[str, Any]]]]:
    """The schema and the row picker of an action with a type (``{"reboot": {"type": …}}``)."""
    rows = _variants(body_key)
    field = next(iter(rows.values())).variant.field  # type: ignore[union-attr]

    def schema(_: APIVersion) -> t.Schema:
        return t.obj({field: {"type": "string", "enum": list(rows)}}, required=(field,))

    def pick(value: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return rows[value[field]].key, {}

    return schema, pick


def _resize(value: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    # The disk config the resize sets is the view's to keep once it is accepted
    # (``views.server_actions``), as Nova saves it with the resize's task.
    return "resize", {"flavorRef": id_from_href(value["flavorRef"])}


def _optional_object(properties: t.Schema, *, required: tuple[str, ...] = ()) -> t.Schema:
    return {"oneOf": [t.NULL, t.obj(properties, required=required)]}


def _host_of(value: Any) -> dict[str, Any]:
    return {"host": value.get("host")} if isinstance(value, dict) else {}


def _live_migrate_schema(version: APIVersion) -> t.Schema:
    host = {"type": ["string", "null"], "minLength": 1, "maxLength": 255}
    if not version.at_least("2.25"):
        return t.obj(
            {"host": host, "block_migration": t.BOOLEAN, "disk_over_commit": t.BOOLEAN},
            required=("host", "block_migration", "disk_over_commit"),
        )
    block: t.Schema = {"oneOf": [t.BOOLEAN, {"enum": ["auto"]}]}
    properties: t.Schema = {"host": host, "block_migration": block}
    if version.at_least("2.30") and not version.at_least("2.68"):
        properties["force"] = t.BOOLEAN
    return t.obj(properties, required=("host", "block_migration"))


def _evacuate_schema(version: APIVersion) -> t.Schema:
    """Nova's ``schemas/evacuate``: ``onSharedStorage`` required until 2.14, ``force`` from
    2.29 to 2.67."""
    properties: t.Schema = {"host": t.FQDN, "adminPass": t.ADMIN_PASSWORD}
    if not version.at_least("2.14"):
        properties["onSharedStorage"] = t.BOOLEAN
        return t.obj(properties, required=("onSharedStorage",))
    if version.at_least("2.29") and not version.at_least("2.68"):
        properties["force"] = t.BOOLEAN
    return t.obj(properties)


def _evacuate(value: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if "force" in value and t.truthy(value["force"]) and not value.get("host"):
        raise APIFault(400, "Can't force to a non-provided destination")
    if t.truthy(value.get("onSharedStorage")) and "adminPass" in value:
        raise APIFault(400, "admin password can't be changed on existing disk")
    return "evacuate", _host_of(value)


def _rebuild(value: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    for name in ("personality", "trusted_image_certificates"):
        if value.get(name):
            raise unsupported(name)
    # user_data, metadata, access IPs, the disk config and key_name are the view's to keep
    # (``views.server_actions``) once the rebuild is accepted.
    params = {"imageRef": id_from_href(value["imageRef"])}
    if "name" in value:
        params["name"] = value["name"]
    return "rebuild", params


def _image(key: str) -> Callable[[Any], tuple[str, dict[str, Any]]]:
    def action(value: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return key, dict(value)

    return action


def _create_image_schema(_: APIVersion) -> t.Schema:
    return t.obj({"name": t.NAME, "metadata": t.METADATA}, required=("name",))


def _create_backup_schema(_: APIVersion) -> t.Schema:
    return t.obj(
        {
            "name": t.NAME,
            "backup_type": {"type": "string"},
            "rotation": t.NON_NEGATIVE_INTEGER,
            "metadata": t.METADATA,
        },
        required=("name", "backup_type", "rotation"),
    )


def _unshelve_schema(version: APIVersion) -> t.Schema:
    if not version.at_least("2.77"):
        return NO_ARGUMENTS
    return _optional_object({"availability_zone": t.NAME}, required=("availability_zone",))


def _lock_schema(version: APIVersion) -> t.Schema:
    if not version.at_least("2.73"):
        return NO_ARGUMENTS
    reason = {"type": "string", "minLength": 1, "maxLength": 255}
    return _optional_object({"locked_reason": reason})


def _fields(*names: str) -> Callable[[Any], dict[str, Any]]:
    return lambda value: {n: value[n] for n in names if isinstance(value, dict) and n in value}


def _with(key: str, pick: Callable[[Any], dict[str, Any]]) -> Callable[[Any], tuple[str, dict]]:
    return lambda value: (key, pick(value))


_B = BodyAction
BODY_ACTIONS: dict[str, BodyAction] = {
    a.body_key: a
    for a in (
        _B("os-start", _null, _same("start")),
        _B("os-stop", _null, _same("stop")),
        _B("reboot", *_typed("reboot")),
        _B("pause", _null, _same("pause")),
        _B("unpause", _null, _same("unpause")),
        _B("suspend", _null, _same("suspend")),
        _B("resume", _null, _same("resume")),
        _B(
            "rescue",
            lambda v: _optional_object(
                {"adminPass": t.ADMIN_PASSWORD, "rescue_image_ref": t.IMAGE_ID}
            ),
            _with("rescue", _fields("rescue_image_ref")),
            answer=Answer.PASSWORD,
        ),
        _B("unrescue", _null, _same("unrescue")),
        _B(
            "resize",
            lambda v: t.obj(
                {"flavorRef": t.FLAVOR_REF, "OS-DCF:diskConfig": t.DISK_CONFIG},
                required=("flavorRef",),
            ),
            _resize,
        ),
        _B("confirmResize", _null, _same("confirmResize"), answer=Answer.NO_CONTENT),
        _B("revertResize", _null, _same("revertResize")),
        _B(
            "migrate",
            lambda v: (
                _optional_object({"host": {"type": ["string", "null"], "minLength": 1}})
                if v.at_least("2.56")
                else NO_ARGUMENTS
            ),
            _with("migrate", _host_of),
        ),
        _B("os-migrateLive", _live_migrate_schema, _with("os-migrateLive", _host_of)),
        _B("evacuate", _evacuate_schema, _evacuate, answer=Answer.EVACUATE),
        _B("rebuild", server_schemas.rebuild, _rebuild, answer=Answer.SERVER),
        _B("createImage", _create_image_schema, _image("createImage"), answer=Answer.IMAGE),
        _B("createBackup", _create_backup_schema, _image("createBackup"), answer=Answer.IMAGE),
        _B(
            "changePassword",
            lambda v: t.obj({"adminPass": t.ADMIN_PASSWORD}, required=("adminPass",)),
            _with("changePassword", _fields("adminPass")),
        ),
        _B("shelve", _null, _same("shelve")),
        _B("shelveOffload", _null, _same("shelveOffload")),
        _B("unshelve", _unshelve_schema, _with("unshelve", _fields("availability_zone"))),
        _B("forceDelete", _null, _same("forceDelete")),
        _B("restore", _null, _same("restore")),
        _B("lock", _lock_schema, _with("lock", _fields("locked_reason"))),
        _B("unlock", _null, _same("unlock")),
        _B(
            "trigger_crash_dump",
            lambda v: t.NULL,
            _same("trigger_crash_dump"),
            min_version="2.17",
        ),
        _B(
            "os-resetState",
            lambda v: t.obj(
                {"state": {"type": "string", "enum": list(get("os-resetState").chosen_results)}},
                required=("state",),
            ),
            _with("os-resetState", _fields("state")),
        ),
    )
}


def parse(body: Any, version: APIVersion) -> tuple[BodyAction, Any]:
    """The row a body names and the body's value, validated for ``version``."""
    if not isinstance(body, dict) or len(body) != 1:
        raise APIFault(400, "Malformed request body")
    key, value = next(iter(body.items()))
    row = BODY_ACTIONS.get(key)
    if row is None:
        raise APIFault(400, f"There is no such action: {key}")
    if not version.at_least(row.min_version):
        raise APIFault(404, f"API version {version} is not supported on this method.")
    schema = row.schema(version)
    validate(body, t.wrapped(key, schema))
    if schema is NO_ARGUMENTS:
        value = None  # Nova ignores what it does not read
    return row, value
