"""URL routes. The pages live in ``dashboard.web``, the REST API in ``dashboard.api``."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("", include("dashboard.api.urls")),
    path("", include("dashboard.web.urls")),
]
