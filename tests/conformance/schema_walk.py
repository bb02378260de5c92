"""Walk every served compute endpoint at every microversion step, with servers in every
reachable state, and validate each answer with tempest.lib's response schemas.

Runs with Tempest's own virtualenv (``run_tempest.py --walk`` starts the project and calls it):
tempest.lib's service clients pick the schema for the negotiated microversion exactly as Tempest
does, and raise on a body the schema refuses, so every call below is one check. Prints one line
per refused answer and the totals; exits 1 if any answer was refused.

Arguments: the identity URI, then admin and member credentials as user:password:project.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from tempest.lib import auth, exceptions
from tempest.lib.services.compute import (
    aggregates_client,
    availability_zone_client,
    base_compute_client,
    extensions_client,
    flavors_client,
    hosts_client,
    hypervisor_client,
    images_client,
    instance_usage_audit_log_client,
    keypairs_client,
    limits_client,
    networks_client,
    quota_classes_client,
    quotas_client,
    security_group_rules_client,
    security_groups_client,
    server_groups_client,
    servers_client,
    services_client,
    tenant_networks_client,
    tenant_usages_client,
    versions_client,
)

STEPS = ["2.1", "2.3", "2.6", "2.9", "2.16", "2.19", "2.26", "2.47", "2.48", "2.53", "2.63",
         "2.69", "2.71", "2.73", "2.75", "2.79", "2.89"]  # fmt: skip
IMAGE = "3a4c5a2e-0c5e-4c1e-9a55-6d7d6f8f0001"
IMAGE_ALT = "3a4c5a2e-0c5e-4c1e-9a55-6d7d6f8f0002"


#: Answers Tempest 47's schemas refuse where the answer is Nova's own for the microversion:
#: (label prefix, first microversion, why). Reported, not counted as failures.
TEMPEST_LAGS = (
    ("hypervisors ", (2, 88), "Tempest has no 2.88 hypervisor schema: its 2.53 one requires the "
     "vcpus/memory/disk figures Nova 2.88 removed and forbids the uptime it added"),
)  # fmt: skip


class Walk:
    def __init__(self) -> None:
        self.ok = 0
        self.refused: list[str] = []
        self.lags: list[str] = []

    def check(self, label: str, call: Callable[[], Any]) -> Any:
        try:
            result = call()
        except Exception as exc:  # a refused schema raises jsonschema's ValidationError
            text = str(exc).splitlines()
            first = next((t for t in text if t.strip()), type(exc).__name__)
            if not isinstance(
                exc, exceptions.InvalidHTTPResponseBody | exceptions.RestClientException
            ):
                first = f"{type(exc).__name__}: {first}"
            version = (
                tuple(int(p) for p in label.rsplit("@", 1)[-1].split(".")) if "@" in label else ()
            )
            for prefix, since, why in TEMPEST_LAGS:
                if label.startswith(prefix) and version >= since:
                    self.lags.append(f"{label}: {why}")
                    return None
            self.refused.append(f"{label}: {first[:300]}")
            return None
        self.ok += 1
        return result


def provider(uri: str, spec: str) -> auth.KeystoneV3AuthProvider:
    user, password, project = spec.split(":")
    creds = auth.KeystoneV3Credentials(
        username=user,
        password=password,
        project_name=project,
        user_domain_name="Default",
        project_domain_name="Default",
    )
    return auth.KeystoneV3AuthProvider(creds, uri)


def clients(ap: auth.KeystoneV3AuthProvider) -> dict[str, Any]:
    args = (ap, "compute", "RegionOne")
    kw = {"endpoint_type": "publicURL", "build_interval": 1, "build_timeout": 60}
    return {
        "servers": servers_client.ServersClient(*args, **kw),
        "flavors": flavors_client.FlavorsClient(*args, **kw),
        "images": images_client.ImagesClient(*args, **kw),
        "keypairs": keypairs_client.KeyPairsClient(*args, **kw),
        "limits": limits_client.LimitsClient(*args, **kw),
        "quotas": quotas_client.QuotasClient(*args, **kw),
        "quota_classes": quota_classes_client.QuotaClassesClient(*args, **kw),
        "hypervisors": hypervisor_client.HypervisorClient(*args, **kw),
        "zones": availability_zone_client.AvailabilityZoneClient(*args, **kw),
        "aggregates": aggregates_client.AggregatesClient(*args, **kw),
        "groups": server_groups_client.ServerGroupsClient(*args, **kw),
        "services": services_client.ServicesClient(*args, **kw),
        "usage": tenant_usages_client.TenantUsagesClient(*args, **kw),
        "audit": instance_usage_audit_log_client.InstanceUsagesAuditLogClient(*args, **kw),
        "hosts": hosts_client.HostsClient(*args, **kw),
        "networks": networks_client.NetworksClient(*args, **kw),
        "tenant_networks": tenant_networks_client.TenantNetworksClient(*args, **kw),
        "security_groups": security_groups_client.SecurityGroupsClient(*args, **kw),
        "security_group_rules": security_group_rules_client.SecurityGroupRulesClient(*args, **kw),
        "extensions": extensions_client.ExtensionsClient(*args, **kw),
        "versions": versions_client.VersionsClient(*args, **kw),
    }


def wait(servers: Any, server_id: str, statuses: set[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        body = servers.show_server(server_id)["server"]
        status = body["status"]
        if status in statuses and body.get("OS-EXT-STS:task_state") is None:
            return status
        time.sleep(0.3)
    raise RuntimeError(f"server {server_id} stuck in {status}, wanted {statuses}")


def make_servers(walk: Walk, admin: dict[str, Any]) -> dict[str, str]:
    """One server per reachable state, named after it."""
    s = admin["servers"]
    base_compute_client.COMPUTE_MICROVERSION = None
    made: dict[str, str] = {}
    for state in ("active", "stopped", "paused", "suspended", "rescued", "resized",
                  "shelved", "locked", "error"):  # fmt: skip
        server = s.create_server(name=f"walk-{state}", imageRef=IMAGE, flavorRef="1")["server"]
        made[state] = server["id"]
    for state, ident in made.items():
        wait(s, ident, {"ACTIVE"})
        step = {
            "stopped": lambda i: s.stop_server(i),
            "paused": lambda i: s.pause_server(i),
            "suspended": lambda i: s.suspend_server(i),
            "rescued": lambda i: s.rescue_server(i),
            "resized": lambda i: s.resize_server(i, "2"),
            "shelved": lambda i: s.shelve_server(i),
            "locked": lambda i: s.lock_server(i),
            "error": lambda i: s.reset_state(i, state="error"),
        }.get(state)
        if step is not None:
            walk.check(f"action {state}", lambda step=step, ident=ident: step(ident))
    targets = {"stopped": {"SHUTOFF"}, "paused": {"PAUSED"}, "suspended": {"SUSPENDED"},
               "rescued": {"RESCUE"}, "resized": {"VERIFY_RESIZE"},
               "shelved": {"SHELVED_OFFLOADED", "SHELVED"}, "error": {"ERROR"}}  # fmt: skip
    for state, wanted in targets.items():
        wait(s, made[state], wanted)
    return made


def walk_step(walk: Walk, version: str, admin: dict[str, Any], member: dict[str, Any],
              made: dict[str, str], project_id: str) -> None:  # fmt: skip
    base_compute_client.COMPUTE_MICROVERSION = version
    v = tuple(int(p) for p in version.split("."))
    a, m = admin, member
    at = f"@{version}"
    c = walk.check
    c(f"servers list {at}", lambda: a["servers"].list_servers())
    c(f"servers detail {at}", lambda: a["servers"].list_servers(detail=True))
    for state, ident in made.items():
        c(f"server show {state} {at}", lambda ident=ident: a["servers"].show_server(ident))
        c(f"instance actions {state} {at}",
          lambda ident=ident: a["servers"].list_instance_actions(ident))  # fmt: skip
    active = made["active"]
    c(f"server update {at}", lambda: a["servers"].update_server(active, name="walk-active"))
    c(f"server metadata {at}", lambda: a["servers"].list_server_metadata(active))
    c(f"server metadata set {at}",
      lambda: a["servers"].set_server_metadata(active, {"walk": "1"}))  # fmt: skip
    c(f"server metadata item {at}",
      lambda: a["servers"].show_server_metadata_item(active, "walk"))  # fmt: skip
    c(f"diagnostics {at}", lambda: a["servers"].show_server_diagnostics(active))
    c(f"addresses {at}", lambda: a["servers"].list_addresses(active))
    c(f"addresses of private {at}",
      lambda: a["servers"].list_addresses_by_network(active, "private"))  # fmt: skip
    c(f"password {at}", lambda: a["servers"].show_password(active))
    c(f"password clear {at}", lambda: a["servers"].delete_password(active))
    c(f"server security groups {at}", lambda: a["servers"].list_security_groups_by_server(active))
    c(f"lock {at}", lambda: a["servers"].lock_server(active))
    c(f"unlock {at}", lambda: a["servers"].unlock_server(active))
    c(f"rebuild {at}", lambda: a["servers"].rebuild_server(active, IMAGE_ALT))
    wait(a["servers"], active, {"ACTIVE"})
    c(f"flavors {at}", lambda: a["flavors"].list_flavors(detail=True))
    c(f"flavor show {at}", lambda: a["flavors"].show_flavor("1"))
    c(f"flavor extra specs {at}", lambda: a["flavors"].list_flavor_extra_specs("1"))
    if v < (2, 36):
        c(f"images {at}", lambda: a["images"].list_images(detail=True))
        c(f"image show {at}", lambda: a["images"].show_image(IMAGE))
        c(f"networks {at}", lambda: a["networks"].list_networks())
        c(f"tenant networks {at}", lambda: m["tenant_networks"].list_tenant_networks())
        walk_security_groups(walk, m, at)
    c(f"keypairs {at}", lambda: m["keypairs"].list_keypairs())
    c(f"limits {at}", lambda: m["limits"].show_limits())
    c(f"quotas {at}", lambda: m["quotas"].show_quota_set(project_id))
    c(f"quota defaults {at}", lambda: m["quotas"].show_default_quota_set(project_id))
    c(f"quota detail {at}", lambda: a["quotas"].show_quota_set(project_id, detail=True))
    c(f"quota class {at}", lambda: a["quota_classes"].show_quota_class_set("default"))
    c(f"hypervisors {at}", lambda: a["hypervisors"].list_hypervisors(detail=True))
    if v < (2, 88):
        c(f"hypervisor statistics {at}", lambda: a["hypervisors"].show_hypervisor_statistics())
    c(f"zones {at}", lambda: m["zones"].list_availability_zones())
    c(f"zones detail {at}", lambda: a["zones"].list_availability_zones(detail=True))
    c(f"aggregates {at}", lambda: a["aggregates"].list_aggregates())
    c(f"server groups {at}", lambda: m["groups"].list_server_groups())
    c(f"services {at}", lambda: a["services"].list_services())
    c(f"usage {at}", lambda: a["usage"].list_tenant_usages())
    c(f"audit log {at}", lambda: a["audit"].list_instance_usage_audit_logs())
    if v < (2, 43):
        c(f"hosts {at}", lambda: a["hosts"].list_hosts())
    c(f"extensions {at}", lambda: m["extensions"].list_extensions())


def walk_security_groups(walk: Walk, m: dict[str, Any], at: str) -> None:
    """Nova's security group proxy (before 2.36): a group made, shown, changed, given a rule
    and deleted, each answer checked."""
    c, groups, rules = walk.check, m["security_groups"], m["security_group_rules"]
    c(f"security groups {at}", lambda: groups.list_security_groups())
    made = c(f"security group create {at}",
             lambda: groups.create_security_group(name="walk", description="walk"))  # fmt: skip
    if made is None:
        return
    ident = made["security_group"]["id"]
    c(f"security group show {at}", lambda: groups.show_security_group(ident))
    c(f"security group update {at}",
      lambda: groups.update_security_group(ident, name="walk", description="d"))  # fmt: skip
    rule = c(f"security group rule create {at}",
             lambda: rules.create_security_group_rule(parent_group_id=ident, ip_protocol="tcp",
                                                      from_port=22, to_port=22))  # fmt: skip
    if rule is not None:
        rule_id = rule["security_group_rule"]["id"]
        c(f"security group rule delete {at}", lambda: rules.delete_security_group_rule(rule_id))
    c(f"security group delete {at}", lambda: groups.delete_security_group(ident))


def main() -> int:
    uri, admin_spec, member_spec = sys.argv[1:4]
    walk = Walk()
    admin_ap, member_ap = provider(uri, admin_spec), provider(uri, member_spec)
    admin, member = clients(admin_ap), clients(member_ap)
    project_id = member_ap.credentials.project_id or member_ap.auth_data[1]["project"]["id"]
    walk.check("versions", lambda: admin["versions"].list_versions())
    try:
        made = make_servers(walk, admin)
    except Exception:
        traceback.print_exc()
        return 1
    for version in STEPS:
        walk_step(walk, version, admin, member, made, project_id)
    for line in walk.refused:
        print(f"[schema-walk] REFUSED {line}")
    for line in walk.lags:
        print(f"[schema-walk] TEMPEST-LAG {line}")
    total = walk.ok + len(walk.refused)
    print(f"[schema-walk] {walk.ok} of {total} answers valid over {len(STEPS)} microversion "
          f"steps and {len(made)} server states; {len(walk.lags)} answers where Tempest's "
          "schema lags Nova")  # fmt: skip
    return 1 if walk.refused else 0


if __name__ == "__main__":
    sys.exit(main())
