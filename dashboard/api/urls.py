"""Routes of the REST API, included at the site root by ``dashboard.urls``.

The pages own everything else at the root (``login/``, ``instances/`` …); the API claims only
``/`` for API clients (see ``views.versions.Root``), ``v2.1/``, ``identity/``, ``image/``,
``network/`` and ``api/`` (the OpenAPI document and its page). Paths with and without a trailing slash both
answer where stock clients use both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import path, re_path
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.views import APIView

from dashboard.api.docs import views as docs
from dashboard.api.identity import admin as identity_admin
from dashboard.api.identity import views as identity
from dashboard.api.neutron import views as neutron
from dashboard.api.views import (
    aggregates,
    consoles,
    diagnostics,
    drain,
    extensions,
    flavors,
    hosts,
    hypervisors,
    images,
    instance_actions,
    keypairs,
    migrations,
    networks,
    notifications,
    quotas,
    schedules,
    security_groups,
    server_actions,
    server_groups,
    server_ips,
    server_metadata,
    servers,
    services,
    tasks,
    usage,
    versions,
)
from dashboard.api.views.image_files import GlanceImageFile

V = r"^v2\.1/"


def unlisted(view: type[APIView]) -> Callable[..., Any]:
    """The same version document under its path without the slash, once in the OpenAPI doc."""
    alias = type(f"{view.__name__}Alias", (view,), {})
    return extend_schema_view(get=extend_schema(exclude=True))(alias).as_view()


urlpatterns = [
    path("", versions.Root.as_view(), name="api-root"),
    # Compute (Nova v2.1; of v2.0 only its version document)
    path("v2/", versions.V20.as_view(), name="compute-v20"),
    re_path(r"^v2$", unlisted(versions.V20)),
    path("v2.1/", versions.V21.as_view(), name="compute-version"),
    re_path(r"^v2\.1$", unlisted(versions.V21)),
    re_path(V + r"servers/?$", servers.ServerList.as_view(), name="servers"),
    re_path(V + r"servers/detail/?$", servers.ServerDetailList.as_view(), name="servers-detail"),
    re_path(V + r"servers/(?P<server_id>[^/]+)/?$", servers.Server.as_view(), name="server"),
    re_path(
        V + r"servers/(?P<server_id>[^/]+)/action/?$",
        server_actions.ServerAction.as_view(),
        name="server-action",
    ),
    re_path(
        V + r"servers/(?P<server_id>[^/]+)/os-instance-actions/?$",
        instance_actions.InstanceActionList.as_view(),
        name="instance-actions",
    ),
    re_path(
        V + r"servers/(?P<server_id>[^/]+)/os-instance-actions/(?P<request_id>[^/]+)/?$",
        instance_actions.InstanceActionShow.as_view(),
        name="instance-action",
    ),
    re_path(
        V + r"servers/(?P<server_id>[^/]+)/migrations/?$",
        migrations.ServerMigrationList.as_view(),
        name="server-migrations",
    ),
    re_path(
        V + r"servers/(?P<server_id>[^/]+)/migrations/(?P<migration_id>[^/]+)/action/?$",
        migrations.ServerMigrationAction.as_view(),
    ),
    re_path(
        V + r"servers/(?P<server_id>[^/]+)/migrations/(?P<migration_id>[^/]+)/?$",
        migrations.ServerMigration.as_view(),
        name="server-migration",
    ),
    re_path(V + r"os-migrations/?$", migrations.MigrationList.as_view(), name="migrations"),
    re_path(
        V + r"servers/(?P<server_id>[^/]+)/metadata/?$", server_metadata.ServerMetadata.as_view()
    ),
    re_path(
        V + r"servers/(?P<server_id>[^/]+)/metadata/(?P<key>[^/]+)/?$",
        server_metadata.ServerMetadataItem.as_view(),
    ),
    re_path(
        V + r"servers/(?P<server_id>[^/]+)/remote-consoles/?$",
        consoles.RemoteConsoles.as_view(),
    ),
    re_path(
        V + r"servers/(?P<server_id>[^/]+)/diagnostics/?$",
        diagnostics.ServerDiagnostics.as_view(),
    ),
    re_path(V + r"servers/(?P<server_id>[^/]+)/ips/?$", server_ips.ServerIPs.as_view()),
    re_path(
        V + r"servers/(?P<server_id>[^/]+)/ips/(?P<network>[^/]+)/?$",
        server_ips.ServerIPsOfNetwork.as_view(),
    ),
    re_path(
        V + r"servers/(?P<server_id>[^/]+)/os-server-password/?$",
        server_ips.ServerPassword.as_view(),
    ),
    re_path(
        V + r"servers/(?P<server_id>[^/]+)/os-security-groups/?$",
        security_groups.ServerSecurityGroups.as_view(),
    ),
    re_path(V + r"servers/(?P<server_id>[^/]+)/tags/?$", server_metadata.ServerTags.as_view()),
    re_path(
        V + r"servers/(?P<server_id>[^/]+)/tags/(?P<tag>[^/]+)/?$",
        server_metadata.ServerTag.as_view(),
    ),
    re_path(V + r"os-services/?$", services.ServiceList.as_view(), name="services"),
    re_path(
        V + r"os-services/(?P<service_id>[^/]+)/?$",
        services.ServiceUpdate.as_view(),
        name="service",
    ),
    re_path(V + r"flavors/?$", flavors.FlavorList.as_view(), name="flavors"),
    re_path(V + r"flavors/detail/?$", flavors.FlavorDetailList.as_view(), name="flavors-detail"),
    re_path(V + r"flavors/(?P<flavor_id>[^/]+)/?$", flavors.FlavorItem.as_view(), name="flavor"),
    re_path(
        V + r"flavors/(?P<flavor_id>[^/]+)/os-extra_specs/?$", flavors.FlavorExtraSpecs.as_view()
    ),
    re_path(
        V + r"flavors/(?P<flavor_id>[^/]+)/os-flavor-access/?$", flavors.FlavorAccessList.as_view()
    ),
    re_path(V + r"flavors/(?P<flavor_id>[^/]+)/action/?$", flavors.FlavorAction.as_view()),
    re_path(
        V + r"flavors/(?P<flavor_id>[^/]+)/os-extra_specs/(?P<key>[^/]+)/?$",
        flavors.FlavorExtraSpec.as_view(),
    ),
    re_path(V + r"images/?$", images.NovaImageCollection.as_view(), name="images"),
    re_path(V + r"images/detail/?$", images.NovaImageDetailList.as_view(), name="images-detail"),
    re_path(V + r"images/(?P<image_id>[^/]+)/?$", images.NovaImage.as_view(), name="image"),
    re_path(V + r"images/(?P<image_id>[^/]+)/metadata/?$", images.NovaImageMetadata.as_view()),
    re_path(
        V + r"images/(?P<image_id>[^/]+)/metadata/(?P<key>[^/]+)/?$",
        images.NovaImageMetadataItem.as_view(),
    ),
    re_path(V + r"os-hypervisors/?$", hypervisors.HypervisorList.as_view()),
    re_path(V + r"os-hypervisors/detail/?$", hypervisors.HypervisorDetailList.as_view()),
    re_path(V + r"os-hypervisors/statistics/?$", hypervisors.HypervisorStatistics.as_view()),
    re_path(
        V + r"os-hypervisors/(?P<hypervisor_id>[^/]+)/uptime/?$",
        hypervisors.HypervisorUptime.as_view(),
    ),
    re_path(
        V + r"os-hypervisors/(?P<pattern>[^/]+)/search/?$", hypervisors.HypervisorSearch.as_view()
    ),
    re_path(
        V + r"os-hypervisors/(?P<pattern>[^/]+)/servers/?$",
        hypervisors.HypervisorServers.as_view(),
    ),
    re_path(
        V + r"os-hypervisors/(?P<hypervisor_id>[^/]+)/?$", hypervisors.HypervisorShow.as_view()
    ),
    re_path(V + r"os-hosts/?$", hosts.HostList.as_view()),
    re_path(
        V + r"os-hosts/(?P<host_name>[^/]+)/(?P<action>startup|shutdown|reboot)/?$",
        hosts.HostPowerAction.as_view(),
    ),
    re_path(V + r"os-hosts/(?P<host_name>[^/]+)/?$", hosts.HostItem.as_view()),
    re_path(V + r"os-availability-zone/?$", hosts.AvailabilityZones.as_view()),
    re_path(V + r"os-availability-zone/detail/?$", hosts.AvailabilityZonesDetail.as_view()),
    re_path(V + r"limits/?$", quotas.Limits.as_view()),
    re_path(V + r"os-quota-sets/(?P<project_id>[^/]+)/detail/?$", quotas.QuotaSetDetail.as_view()),
    re_path(
        V + r"os-quota-sets/(?P<project_id>[^/]+)/defaults/?$", quotas.QuotaSetDefaults.as_view()
    ),
    re_path(V + r"os-quota-sets/(?P<project_id>[^/]+)/?$", quotas.QuotaSet.as_view()),
    re_path(V + r"os-quota-class-sets/(?P<class_name>[^/]+)/?$", quotas.QuotaClassSet.as_view()),
    re_path(V + r"os-simple-tenant-usage$", usage.TenantUsageList.as_view()),
    re_path(
        V + r"os-simple-tenant-usage/(?P<project_id>[^/]+)/?$", usage.TenantUsageShow.as_view()
    ),
    re_path(V + r"os-instance_usage_audit_log/?$", usage.AuditLogList.as_view()),
    re_path(V + r"os-instance_usage_audit_log/(?P<before>[^/]+)/?$", usage.AuditLogShow.as_view()),
    re_path(V + r"os-keypairs/?$", keypairs.KeyPairList.as_view()),
    re_path(V + r"os-keypairs/(?P<name>[^/]+)/?$", keypairs.KeyPairItem.as_view()),
    re_path(V + r"os-server-groups/?$", server_groups.ServerGroupList.as_view()),
    re_path(
        V + r"os-server-groups/(?P<group_id>[^/]+)/?$", server_groups.ServerGroupItem.as_view()
    ),
    re_path(V + r"os-aggregates/?$", aggregates.AggregateList.as_view()),
    re_path(
        V + r"os-aggregates/(?P<aggregate_id>[^/]+)/action/?$",
        aggregates.AggregateAction.as_view(),
    ),
    re_path(V + r"os-aggregates/(?P<aggregate_id>[^/]+)/?$", aggregates.AggregateItem.as_view()),
    re_path(V + r"os-networks/?$", networks.NetworkList.as_view()),
    re_path(V + r"os-networks/(?P<network_id>[^/]+)/?$", networks.NetworkShow.as_view()),
    re_path(V + r"os-security-groups/?$", security_groups.SecurityGroupList.as_view()),
    re_path(
        V + r"os-security-groups/(?P<group_id>[^/]+)/?$",
        security_groups.SecurityGroupItem.as_view(),
    ),
    re_path(V + r"os-security-group-rules/?$", security_groups.SecurityGroupRuleCreate.as_view()),
    re_path(
        V + r"os-security-group-rules/(?P<rule_id>[^/]+)/?$",
        security_groups.SecurityGroupRuleItem.as_view(),
    ),
    re_path(V + r"os-tenant-networks/?$", networks.TenantNetworkList.as_view()),
    re_path(
        V + r"os-tenant-networks/(?P<network_id>[^/]+)/?$", networks.TenantNetworkShow.as_view()
    ),
    re_path(V + r"vmdash/hosts/(?P<host_name>[^/]+)/drain-plan/?$", drain.HostDrainPlan.as_view()),
    re_path(V + r"vmdash/hosts/(?P<host_name>[^/]+)/drains/?$", drain.HostDrains.as_view()),
    re_path(V + r"vmdash/drains/(?P<drain_id>[^/]+)/cancel/?$", drain.DrainCancel.as_view()),
    re_path(V + r"vmdash/drains/(?P<drain_id>[^/]+)/?$", drain.Drain.as_view()),
    re_path(V + r"extensions/?$", extensions.ExtensionList.as_view()),
    re_path(V + r"extensions/(?P<alias>[^/]+)/?$", extensions.ExtensionShow.as_view()),
    # [\s\S]: a path with a newline in it is still the API's, never the pages' HTML 404.
    re_path(V + r"[\s\S]*$", versions.not_found),
    # Identity v3 (Keystone)
    path("identity/", identity.IdentityVersions.as_view(), name="identity-versions"),
    path("identity", unlisted(identity.IdentityVersions)),
    path("identity/v3/", identity.IdentityV3.as_view(), name="identity-v3"),
    path("identity/v3", unlisted(identity.IdentityV3)),
    re_path(r"^identity/v3/auth/tokens/?$", identity.Tokens.as_view(), name="tokens"),
    re_path(r"^identity/v3/domains/?$", identity_admin.Domains.as_view()),
    re_path(r"^identity/v3/domains/(?P<domain_id>[^/]+)/?$", identity_admin.DomainItem.as_view()),
    re_path(r"^identity/v3/projects/?$", identity_admin.Projects.as_view()),
    re_path(
        r"^identity/v3/projects/(?P<project_id>[^/]+)/users/(?P<user_id>[^/]+)/roles/"
        r"(?P<role_id>[^/]+)/?$",
        identity_admin.RoleAssignment.as_view(),
    ),
    re_path(
        r"^identity/v3/projects/(?P<project_id>[^/]+)/?$", identity_admin.ProjectItem.as_view()
    ),
    re_path(r"^identity/v3/users/?$", identity_admin.Users.as_view()),
    re_path(r"^identity/v3/users/(?P<user_id>[^/]+)/?$", identity_admin.UserItem.as_view()),
    re_path(r"^identity/v3/roles/?$", identity_admin.Roles.as_view()),
    re_path(r"^identity/[\s\S]*$", versions.identity_not_found),
    # Image v2 (Glance)
    path("image/", images.GlanceVersions.as_view(), name="image-versions"),
    path("image", unlisted(images.GlanceVersions)),
    path("image/v2/", unlisted(images.GlanceVersions)),
    re_path(r"^image/v2/images/?$", images.GlanceImageCreate.as_view(), name="glance-images"),
    re_path(
        r"^image/v2/images/(?P<image_id>[^/]+)/?$",
        images.GlanceImage.as_view(),
        name="glance-image",
    ),
    re_path(r"^image/v2/images/(?P<image_id>[^/]+)/file/?$", GlanceImageFile.as_view()),
    re_path(r"^image/v2/images/(?P<image_id>[^/]+)/tasks/?$", images.GlanceImageTasks.as_view()),
    # Keep these catch-alls last of their prefix: any other path there is a JSON 404.
    re_path(r"^image/[\s\S]*$", versions.image_not_found),
    # Network v2.0 (the Neutron slice the address model backs)
    path("network/", neutron.NetworkVersions.as_view(), name="network-versions"),
    path("network", unlisted(neutron.NetworkVersions)),
    path("network/v2.0/", neutron.NetworkV20.as_view(), name="network-v20"),
    re_path(r"^network/v2\.0$", unlisted(neutron.NetworkV20)),
    re_path(r"^network/v2\.0/networks/?$", neutron.NetworkList.as_view()),
    re_path(r"^network/v2\.0/networks/(?P<network_id>[^/]+)/?$", neutron.NetworkItem.as_view()),
    re_path(r"^network/v2\.0/subnets/?$", neutron.SubnetList.as_view()),
    re_path(r"^network/v2\.0/subnets/(?P<subnet_id>[^/]+)/?$", neutron.SubnetItem.as_view()),
    re_path(r"^network/v2\.0/ports/?$", neutron.PortList.as_view()),
    re_path(r"^network/v2\.0/ports/(?P<port_id>[^/]+)/?$", neutron.PortItem.as_view()),
    re_path(r"^network/v2\.0/security-groups/?$", neutron.SecurityGroupList.as_view()),
    re_path(
        r"^network/v2\.0/security-groups/(?P<group_id>[^/]+)/?$",
        neutron.SecurityGroupItem.as_view(),
    ),
    re_path(r"^network/v2\.0/security-group-rules/?$", neutron.SecurityGroupRuleList.as_view()),
    re_path(
        r"^network/v2\.0/security-group-rules/(?P<rule_id>[^/]+)/?$",
        neutron.SecurityGroupRuleItem.as_view(),
    ),
    re_path(r"^network/v2\.0/quotas/(?P<project_id>[^/]+)/?$", neutron.QuotaItem.as_view()),
    re_path(r"^network/v2\.0/extensions/?$", neutron.ExtensionList.as_view()),
    re_path(r"^network/v2\.0/extensions/(?P<alias>[^/]+)/?$", neutron.ExtensionShow.as_view()),
    re_path(r"^network/[\s\S]*$", neutron.network_not_found),
    # The OpenAPI document and its page
    # Scheduled actions (issue 15): the caller's own, not a Nova API.
    re_path(r"^api/schedules/?$", schedules.ScheduleList.as_view()),
    re_path(r"^api/schedules/(?P<pk>[0-9]{1,18})/?$", schedules.ScheduleDetail.as_view()),
    re_path(r"^api/schedules/(?P<pk>[0-9]{1,18})/runs/?$", schedules.ScheduleRuns.as_view()),
    re_path(r"^api/schedules/(?P<pk>[0-9]{1,18})/pause/?$", schedules.SchedulePause.as_view()),
    re_path(r"^api/schedules/(?P<pk>[0-9]{1,18})/resume/?$", schedules.ScheduleResume.as_view()),
    # The task centre (issue 15): every action the caller may see, not a Nova API.
    re_path(r"^api/tasks/?$", tasks.TaskList.as_view()),
    re_path(r"^api/tasks/(?P<pk>[0-9]{1,18})/cancel/?$", tasks.TaskCancel.as_view()),
    re_path(r"^api/tasks/(?P<pk>[0-9]{1,18})/abort/?$", tasks.TaskAbort.as_view()),
    # Notifications (issue 15): the caller's own, not a Nova API.
    re_path(r"^api/notifications/?$", notifications.NotificationList.as_view()),
    re_path(r"^api/notifications/read/?$", notifications.NotificationRead.as_view()),
    re_path(r"^api/notifications/subscriptions/?$", notifications.SubscriptionList.as_view()),
    re_path(
        r"^api/notifications/subscriptions/(?P<pk>[0-9]{1,18})/?$",
        notifications.SubscriptionDetail.as_view(),
    ),
    re_path(
        r"^api/notifications/subscriptions/(?P<pk>[0-9]{1,18})/log/?$",
        notifications.SubscriptionLog.as_view(),
    ),
    path("api/schema/", docs.SchemaView.as_view(), name="api-schema"),
    path("api/docs/", docs.DocsView.as_view(), name="api-docs"),
    path("api/docs/assets/<path:path>", docs.assets, name="api-docs-assets"),
]
