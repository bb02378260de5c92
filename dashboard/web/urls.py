"""The dashboard's pages and the small endpoints their live script uses.

The root ("/") and the REST API belong to ``dashboard.api``; everything here has its own prefix.
Scripts and styles under /static/ are served by ``dashboard.asgi`` (no internet, no proxy).
"""

from __future__ import annotations

from django.urls import URLPattern, path
from django.views.i18n import JavaScriptCatalog

from dashboard.web.views import (
    auth,
    console,
    export,
    hosts,
    instance,
    instances,
    live,
    notifications,
    preferences,
    saved_views,
    schedules,
    states,
    tasks,
)

urlpatterns: list[URLPattern] = [
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("projects/switch/", auth.project_switch_view, name="project-switch"),
    path("instances/", instances.instance_list_view, name="instances"),
    path("instances/export.csv", export.instance_export_view, name="instance-export"),
    path("instances/views/", saved_views.saved_view_create, name="saved-view-create"),
    path(
        "instances/views/<int:view_id>/delete/",
        saved_views.saved_view_delete,
        name="saved-view-delete",
    ),
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
    path("hosts/<str:name>/drain/", hosts.host_drain_view, name="host-drain"),
    path(
        "hosts/<str:name>/drain/<int:job_id>/cancel/",
        hosts.host_drain_cancel_view,
        name="host-drain-cancel",
    ),
    path("states/", states.states_view, name="states"),
    path("states/state-machine.svg", states.diagram_svg_view, name="states-svg"),
    path("live/poll", live.live_poll_view, name="live-poll"),
    path("preferences/theme/", preferences.theme_view, name="preference-theme"),
    path("preferences/language/", preferences.language_view, name="preference-language"),
    path("jsi18n/", JavaScriptCatalog.as_view(domain="djangojs"), name="javascript-catalog"),
    path("schedules/", schedules.schedules_view, name="schedules"),
    path("schedules/new/", schedules.schedule_create_view, name="schedule-create"),
    path("schedules/<int:pk>/<str:verb>/", schedules.schedule_change_view, name="schedule-change"),
    path("tasks/", tasks.tasks_view, name="tasks"),
    path("tasks/<int:pk>/cancel/", tasks.task_cancel_view, name="task-cancel"),
    path("tasks/<int:pk>/abort/", tasks.task_abort_view, name="task-abort"),
    path("tasks/<int:pk>/reset/", tasks.task_reset_view, name="task-reset"),
    path("notifications/", notifications.notifications_view, name="notifications"),
    path("notifications/read/", notifications.notifications_read_view, name="notifications-read"),
    path(
        "notifications/subscriptions/",
        notifications.subscription_create_view,
        name="subscription-create",
    ),
    path(
        "notifications/subscriptions/<int:pk>/delete/",
        notifications.subscription_delete_view,
        name="subscription-delete",
    ),
    path(
        "notifications/subscriptions/<int:pk>/",
        notifications.subscription_log_view,
        name="subscription-log",
    ),
]
