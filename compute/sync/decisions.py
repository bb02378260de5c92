"""Nova's power-state sync decision table, as data (``nova/compute/manager.py`` ``_sync_instance_power_state``).

Given an instance with no task in progress, its vm_state and the power state the driver reports
now, ``decide`` says which correction the sync makes through the normal action path. The
power_state column is always copied from the driver first, whatever the verdict; this table
only decides what happens to vm_state, and it never sets or clears ERROR (invariant 3).

One ``Rule`` per row of Nova's table; a (vm_state, power) pair no rule lists gets
``POWER_STATE_ONLY``. That covers building, rescued, resized, suspended, error, shelved and
shelved_offloaded with any power, and the combinations Nova leaves alone (active + running,
stopped + shutdown, paused + running …).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from compute.states import PowerState, VmState

P = PowerState
V = VmState


class Correction(enum.Enum):
    """What the sync asks for, by action-table key (``compute.actions``)."""

    #: Write power_state only.
    NONE = ""
    #: ``compute_api.stop``: the guest went off (or was suspended) while the instance is active.
    STOP = "stop"
    #: ``compute_api.force_stop``: like stop, but from any vm_state (stopped, paused).
    FORCE_STOP = "forceStop"
    #: ``compute_api.delete``: an active instance with ``shutdown_terminate`` whose guest went
    #: off. Always a hard delete, whatever reclaim_instance_interval says.
    DELETE = "terminate"

    @property
    def action(self) -> str | None:
        """The ``instance_action`` key, or None for no correction."""
        return self.value or None


@dataclass(frozen=True)
class Rule:
    """One row of the table: for these vm_states and these driver power states, do this."""

    vm_states: frozenset[str]
    powers: frozenset[int]
    correction: Correction
    #: Why, in an operator's words: logged (as a warning when nothing is corrected) and kept in
    #: the pass record.
    note: str
    #: Nova reads ``shutdown_terminate`` in this row only: delete instead of stop.
    delete_if_shutdown_terminate: bool = False
    #: Only logged: something unexpected the sync deliberately leaves alone.
    warn: bool = False
    #: Nova re-reads the driver, uncached, before this row's correction
    #: (``_stop_unexpected_shutdown_instance``) and acts only if the guest is still in one of
    #: ``powers``. The other rows correct on the power state the pass read.
    recheck: bool = False


@dataclass(frozen=True)
class Verdict:
    correction: Correction
    note: str = ""
    warn: bool = False
    #: The powers a fresh read of the driver must still show for the correction to go ahead;
    #: None: no fresh read.
    recheck: frozenset[int] | None = None


#: The guest is off, cleanly or not.
OFF: frozenset[int] = frozenset({P.SHUTDOWN, P.CRASHED})
ALL_POWERS: frozenset[int] = frozenset(int(p) for p in P)

RULES: tuple[Rule, ...] = (
    Rule(
        frozenset({V.ACTIVE}),
        OFF,
        Correction.STOP,
        "the guest shut down or crashed behind the dashboard's back",
        delete_if_shutdown_terminate=True,
        recheck=True,
    ),
    Rule(
        frozenset({V.ACTIVE}),
        frozenset({P.SUSPENDED}),
        Correction.STOP,
        "the guest was suspended behind the dashboard's back",
    ),
    Rule(
        frozenset({V.ACTIVE}),
        frozenset({P.PAUSED}),
        Correction.NONE,
        "the guest is paused by something else; ignored, as external tools pause briefly",
        warn=True,
    ),
    Rule(
        frozenset({V.ACTIVE}),
        frozenset({P.NOSTATE}),
        Correction.NONE,
        "the guest was unexpectedly not found on the hypervisor",
        warn=True,
    ),
    Rule(
        frozenset({V.STOPPED}),
        frozenset({P.RUNNING, P.PAUSED, P.SUSPENDED}),
        Correction.FORCE_STOP,
        "the guest of a stopped instance is not off",
    ),
    Rule(
        frozenset({V.PAUSED}),
        OFF,
        Correction.FORCE_STOP,
        "the guest of a paused instance shut down or crashed",
    ),
    Rule(
        frozenset({V.SOFT_DELETED, V.DELETED}),
        ALL_POWERS - {P.NOSTATE, P.SHUTDOWN},
        Correction.NONE,
        "the instance is deleted but its guest is still on the hypervisor",
        warn=True,
    ),
)

POWER_STATE_ONLY = Verdict(Correction.NONE)

#: The table, indexed: (vm_state, driver power) → the rule that applies.
TABLE: dict[tuple[str, int], Rule] = {}
for _rule in RULES:
    for _vm in _rule.vm_states:
        for _power in _rule.powers:
            if (_vm, _power) in TABLE:  # pragma: no cover - a table edit gone wrong
                raise AssertionError(f"two sync rules for ({_vm}, {_power})")
            TABLE[(str(_vm), int(_power))] = _rule


def decide(vm_state: str, power: int, *, shutdown_terminate: bool = False) -> Verdict:
    """The sync's verdict for an instance with no task in progress.

    ``power`` is the driver's power state now (NOSTATE for a guest the driver does not have).
    """
    rule = TABLE.get((vm_state, int(power)))
    if rule is None:
        return POWER_STATE_ONLY
    correction = rule.correction
    if rule.delete_if_shutdown_terminate and shutdown_terminate:
        correction = Correction.DELETE
    return Verdict(correction, rule.note, rule.warn, rule.powers if rule.recheck else None)
