"""The invariants the random load is checked against after every step (DESIGN's 1–7, and the
issue's list), as a mixin of the state machine in ``test_state_machine_property``.

Each check reads the database as it is and compares it with an independent account: the
reference's status map and state pairs (``reference``), the accepted actions and armed
failures the machine recorded, the outbox, and what the browser tabs received through the real
relay. The machine provides the attributes named in ``InvariantChecks``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from asgiref.sync import async_to_sync
from rest_framework.test import APIClient

from compute.context import RequestContext
from compute.models import (
    ActionDispatch,
    ChangeEvent,
    FakeFailure,
    Instance,
    InstanceAction,
    InstanceActionEvent,
    InstanceFault,
)
from compute.outbox.audience import for_viewer, project_group
from compute.outbox.relay import OutboxRelay
from tests.reliability.reference import (
    ALLOWED_PAIRS,
    POWER_STATES,
    TASK_STATES,
    VM_STATES,
    Client,
    live_walk,
    reference_delta,
    reference_status,
)

#: Task states the sync may set when it corrects an instance (stop, force-stop, delete).
SYNC_TASKS = frozenset({"powering-off", "deleting", "soft-deleting"})
#: Fields of a delta that change with every write, whatever was written.
BOOKKEEPING = frozenset({"version", "updated_at"})


class RecordingLayer:
    """A channel layer that keeps what the relay sends, group by group, in order."""

    def __init__(self) -> None:
        self.sent: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.sent[group].append(message)


class InvariantChecks:
    """The checks; the machine holds the state they compare against."""

    #: Outbox sequence when the example began: everything after it is this example's.
    marker: int
    alice: RequestContext
    api: APIClient
    relay: OutboxRelay
    layer: RecordingLayer
    admin_tab: Client
    member_tab: Client
    flaky_tab: Client
    flaky_online: bool
    #: How far each tab has read its group's stream.
    read: dict[str, int]
    #: The highest version seen of each instance.
    versions: dict[str, int]
    #: Every InstanceAction the services returned as accepted.
    accepted: list[int]
    #: The messages of the driver failures armed (and not used up by guest clean-up).
    armed: list[str]

    def _check_sync_writes(self, start: int, theirs: list[tuple[int, int]]) -> None:
        """Each outbox row of the pass against the version just before it (invariant 3)."""
        rows = ChangeEvent.objects.filter(id__gt=start, kind="instance").order_by("id")
        for row in rows:
            if any(low < row.id <= high for low, high in theirs):
                continue  # the request that slipped in, not the sync
            before = (
                ChangeEvent.objects.filter(object_id=row.object_id, version=row.version - 1)
                .values_list("payload", flat=True)
                .get()
            )
            after = row.payload
            where = f"sync wrote {row.object_id} v{row.version}: {before} → {after}"
            assert before["task_state"] is None, f"task in progress at write time; {where}"
            if "error" in (before["vm_state"], after["vm_state"]):
                assert before["vm_state"] == after["vm_state"] == "error", (
                    f"ERROR set or cleared; {where}"
                )
                assert after["task_state"] is None, f"task started on ERROR; {where}"
            changed = {k for k in after if after[k] != before.get(k)} - BOOKKEEPING
            if after["task_state"] is None:
                assert changed <= {"power_state", "power_state_name"}, f"not power only; {where}"
            else:
                assert after["task_state"] in SYNC_TASKS, f"unexpected correction; {where}"
                assert after["vm_state"] == before["vm_state"], f"vm_state written; {where}"

    def _pump(self) -> None:
        async def relay_all() -> None:
            while await self.relay.relay_once():
                pass

        async_to_sync(relay_all)()

    def _feed(self, tab: Client, name: str, group: str) -> None:
        stream = self.layer.sent[group]
        tab.receive_all(stream[self.read[name] :])
        self.read[name] = len(stream)

    def _check_states(self, rows: dict[str, Instance]) -> None:
        for uuid, row in rows.items():
            state = (row.vm_state, row.task_state, row.power_state)
            assert row.vm_state in VM_STATES, state
            assert row.task_state is None or row.task_state in TASK_STATES, state
            assert row.power_state in POWER_STATES, state
            assert (row.vm_state, row.task_state) in ALLOWED_PAIRS, f"{uuid} in {state}"
            # A deleted row is deleted, or soft-deleted locally while its host was down: Nova
            # destroys that row too, with vm_state soft-delete (``_do_soft_delete(local=True)``).
            if row.vm_state == "deleted":
                assert row.deleted_at is not None, state
            if row.deleted_at is not None:
                assert row.vm_state in ("deleted", "soft-delete"), state
            if row.deleted_at is not None:
                assert row.task_state is None, f"deleted {uuid} keeps task {row.task_state}"
            expected = reference_status(row.vm_state, row.task_state, deleted=row.deleted)
            assert str(row.status) == expected, f"{uuid} {state}: {row.status} ≠ {expected}"

    def _check_api(self, rows: dict[str, Instance]) -> None:
        response = self.api.get("/v2.1/servers/detail", {"all_tenants": "1"})
        assert response.status_code == 200, response.content[:300]
        live = {u for u, r in rows.items() if r.deleted_at is None}
        servers = response.json()["servers"]
        assert {s["id"] for s in servers} == live
        for server in servers:
            row = rows[server["id"]]
            expected = reference_status(row.vm_state, row.task_state)
            assert server["status"] == expected, f"API shows {server['status']} for {expected}"
            assert server["OS-EXT-STS:task_state"] == row.task_state
            assert server["OS-EXT-STS:vm_state"] == row.vm_state

    def _check_tasks_have_owners(self, rows: dict[str, Instance]) -> None:
        """task_state NULL ⇔ no action in progress: no open dispatch that would carry on from
        the instance's task (one of a task-setting action whose walk contains it)."""
        open_by_instance: defaultdict[int, list[str]] = defaultdict(list)
        for instance_id, kind in ActionDispatch.objects.filter(
            state__in=["pending", "running"]
        ).values_list("instance_id", "kind"):
            open_by_instance[instance_id].append(kind)
        for uuid, row in rows.items():
            owners = [k for k in open_by_instance[row.pk] if row.task_state in live_walk(k)]
            if row.task_state is None:
                assert not owners, f"{uuid} has no task but {owners} would still run"
            else:
                assert owners, (
                    f"{uuid} is in task {row.task_state} that nobody will end "
                    f"(open dispatches: {open_by_instance[row.pk]})"
                )

    def _check_versions_and_outbox(self, rows: dict[str, Instance]) -> None:
        published: defaultdict[str, list[int]] = defaultdict(list)
        last: dict[str, dict[str, Any]] = {}
        for object_id, version, payload in (
            ChangeEvent.objects.filter(kind="instance", id__gt=self.marker)
            .order_by("id")
            .values_list("object_id", "version", "payload")
        ):
            published[object_id].append(version)
            # ``cause`` says who made the change and why (compute.outbox.write.change_cause):
            # not a column of the row, so not compared with it.
            last[object_id] = {k: v for k, v in payload.items() if k != "cause"}
        for uuid, row in rows.items():
            assert row.version >= self.versions.get(uuid, 0), f"{uuid}'s version went back"
            self.versions[uuid] = row.version
            assert published[uuid] == list(range(1, row.version + 1)), (
                f"{uuid} at version {row.version} was published as {published[uuid]}"
            )
            assert last[uuid] == reference_delta(row), f"{uuid}: the last event is not the row"
        assert set(published) == set(rows), "an event for an instance that does not exist"

    def _check_records(self) -> None:
        known = set(
            InstanceAction.objects.filter(pk__in=self.accepted).values_list("pk", flat=True)
        )
        assert known == set(self.accepted), "an accepted action has no record"
        evented = set(
            InstanceActionEvent.objects.filter(action_id__in=self.accepted).values_list(
                "action_id", flat=True
            )
        )
        assert evented == set(self.accepted), "an accepted action has no event"
        running = dict(ActionDispatch.objects.values_list("action_id", "state"))
        explained = set(
            InstanceActionEvent.objects.filter(result="Error", details__gt="").values_list(
                "action_id", flat=True
            )
        )
        for pk, finished, message in InstanceAction.objects.values_list(
            "pk", "finish_time", "message"
        ):
            in_progress = running.get(pk) in ("pending", "running")
            assert (finished is None) == in_progress, (
                f"action {pk} finished={finished is not None} with its dispatch "
                f"{running.get(pk, 'absent')}"
            )
            if message == "Error":
                assert pk in explained, f"action {pk} failed without a readable reason"
        waiting = set(FakeFailure.objects.values_list("message", flat=True))
        faults = set(InstanceFault.objects.values_list("message", flat=True))
        for message in self.armed:
            if message not in waiting:
                assert message in faults, f"{message!r} happened but left no fault"

    def _check_browsers(self, rows: dict[str, Instance]) -> None:
        self._pump()
        self._feed(self.admin_tab, "admin", "admins")
        self._feed(self.member_tab, "member", project_group(self.alice.project_id or ""))
        truth = {uuid: reference_delta(row) for uuid, row in rows.items()}
        assert self.admin_tab.objects == truth, "the admin tab shows something else"
        mine = {
            uuid: for_viewer(dict(delta), admin=False)
            for uuid, delta in truth.items()
            if delta["project_id"] == self.alice.project_id
        }
        assert self.member_tab.objects == mine, "the member tab shows something else"
        if self.flaky_online:
            self._feed(self.flaky_tab, "flaky", "admins")
            assert self.flaky_tab.objects == truth, "the resumed tab shows something else"
