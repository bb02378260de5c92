"""Reads: what a caller may see, filtered, sorted and paged — the instances (``instances``), a
list's pages (``paging``) and the compute hosts (``hosts``). The pages and the API read through
here alike, so both show the same thing for the same question (invariant 6)."""

from compute.selectors.hosts import host_get, host_list, hosts_last_sync, hosts_vm_state_counts
from compute.selectors.instances import (
    ADMIN_SORT_KEYS,
    JOINED,
    REGEX_FILTERS,
    SORT_KEYS,
    InstanceFilters,
    instance_actions,
    instance_get,
    instance_list,
    parse_uuid,
    uuid_or_none,
    visible_instances,
)
from compute.selectors.paging import paginate, rows_before

__all__ = [
    "ADMIN_SORT_KEYS",
    "JOINED",
    "REGEX_FILTERS",
    "SORT_KEYS",
    "InstanceFilters",
    "host_get",
    "host_list",
    "hosts_last_sync",
    "hosts_vm_state_counts",
    "instance_actions",
    "instance_get",
    "instance_list",
    "paginate",
    "parse_uuid",
    "rows_before",
    "uuid_or_none",
    "visible_instances",
]
