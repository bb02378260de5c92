"""The dashboard's pages and the small endpoints their live script uses.

The root ("/") and the REST API belong to ``dashboard.api``; everything here has its own prefix.
Scripts and styles under /static/ are served by ``dashboard.asgi`` (no internet, no proxy).
"""

from __future__ import annotations

from django.urls import URLPattern, path

from dashboard.web.views import auth, console, hosts, instance, instances, live, states

urlpatterns: list[URLPattern] = [
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("projects/switch/", auth.project_switch_view, name="project-switch"),
    path("instances/", instances.instance_list_view, name="instances"),
    path("instances/new/", instances.instance_create_view, name="instance-create"),
    path("instances/bulk/", instances.instance_bulk_view, name="instance-bulk"),
    path("instances/<uuid:uuid>/", instance.instance_detail_view, name="instance"),
    path("instances/<uuid:uuid>/action/", instance.instance_action_view, name="instance-action"),
    path(
        "instances/<uuid:uuid>/fragments/<slug:part>/",
        instance.instance_fragment_view,
        name="instance-fragment",
    ),
    path(
        "instances/<uuid:uuid>/console/<slug:protocol>/",
        console.console_token_view,
        name="instance-console-token",
    ),
    path("instances/<uuid:uuid>/samples/", console.samples_view, name="instance-samples"),
    path("consoles/vnc/", console.vnc_page_view, name="console-vnc"),
    path("hosts/", hosts.host_list_view, name="hosts"),
    path("hosts/heartbeats/", hosts.host_heartbeats_view, name="host-heartbeats"),
    path("hosts/<str:name>/", hosts.host_detail_view, name="host"),
    path("hosts/<str:name>/update/", hosts.host_update_view, name="host-update"),
    path("hosts/<str:name>/migrate-away/", hosts.host_migrate_away_view, name="host-migrate-away"),
    path("states/", states.states_view, name="states"),
    path("states/state-machine.svg", states.diagram_svg_view, name="states-svg"),
    path("live/poll", live.live_poll_view, name="live-poll"),
]
