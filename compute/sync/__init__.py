"""The power-state sync: the hypervisor is the authority on power, the database a snapshot.

- ``decisions``: Nova's decision table as data, (vm_state, driver power) → correction.
- ``passes``: one pass over a host (``sync_host``) or one instance (``sync_instance``), writing
  power_state through the state machine and correcting vm_state through the action path.
- ``periodic``: ``attach`` wires the periodic pass and the lifecycle events into an agent.

The ``sync_power_states`` command and the compute agent both run ``sync_host``.
"""

from compute.sync.decisions import RULES, Correction, Verdict, decide
from compute.sync.passes import (
    PowerChange,
    SyncPassReport,
    UnknownGuest,
    report,
    sync_host,
    sync_instance,
)
from compute.sync.periodic import attach

__all__ = [
    "RULES",
    "Correction",
    "PowerChange",
    "SyncPassReport",
    "UnknownGuest",
    "Verdict",
    "attach",
    "decide",
    "report",
    "sync_host",
    "sync_instance",
]
