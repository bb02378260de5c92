"""The dashboard's routes and ``/bench/trivial/``: the floor of the action benchmark."""

from __future__ import annotations

from django.urls import include, path

from bench.floors import trivial_view

urlpatterns = [
    path("bench/trivial/", trivial_view(), name="bench-trivial"),
    path("", include("dashboard.urls")),
]
