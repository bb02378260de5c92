"""The power-state sync: the hypervisor is the authority on power, the database a snapshot.

- ``decisions``: Nova's decision table as data, (vm_state, driver power) → correction.
- ``passes``: one pass over a host (``sync_host``), a chunk of hosts (``sync_hosts``) or one
  instance (``sync_instance``), writing power_state through the state machine and correcting
  vm_state through the action path.
- ``fleet``: the pass over every host that ``sync_power_states`` runs, in chunks where the
  driver lists many hosts' guests in one call.
- ``history``: the pass records the hosts page shows, and their pruning.
- ``lifecycle``: the hypervisor's lifecycle events, each a sync of the one instance it names
  (STOPPED held back for a reboot's STARTED).

``compute.agent.periodic`` wires the periodic pass and the lifecycle events into an agent.

The compute agent runs ``sync_host`` for its own host; the ``sync_power_states`` command runs
``sync_fleet``.
"""

from compute.sync.decisions import RULES, Correction, Verdict, decide
from compute.sync.fleet import CHUNK_HOSTS, sync_fleet
from compute.sync.history import (
    PASSES_KEPT,
    PowerChange,
    SyncPassReport,
    UnknownGuest,
    prune_passes,
    report,
)
from compute.sync.passes import sync_host, sync_hosts, sync_instance

__all__ = [
    "CHUNK_HOSTS",
    "PASSES_KEPT",
    "RULES",
    "Correction",
    "PowerChange",
    "SyncPassReport",
    "UnknownGuest",
    "Verdict",
    "decide",
    "prune_passes",
    "report",
    "sync_fleet",
    "sync_host",
    "sync_hosts",
    "sync_instance",
]
