"""Bench 4: ``GET /v2.1/servers/detail?limit=1000`` on the whole bench database.

The caller is a project member holding a Keystone token, asking for the newest microversion
and the project's extras (``X-Vmdash-Extras: 1``, so ``vmdash:actions`` too: the most fields). The request runs through Django's full stack in this process (middleware,
URL routing, DRF, authentication, the selector, the presenter, the renderer), so the figure is
server time without the network; the same request over HTTP to a daphne process is in the note.
The floor is one raw SQL query for the same page (same filter, order and limit, the stored
fields the view shows, flavor and host joined) plus ``json.dumps`` of it.
"""

from __future__ import annotations

import json
import statistics
import time
import urllib.request

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench.context import Bench
from bench.floors import api_list_floor
from bench.report import Result
from bench.seed import PASSWORD, member

LIMIT = 1000
VERSION = "compute 2.89"


def token_body(username: str, project: str) -> dict[str, object]:
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": username, "domain": {"id": "default"}, "password": PASSWORD}
                },
            },
            "scope": {"project": {"name": project, "domain": {"id": "default"}}},
        }
    }


def issue_token(client: Client, username: str, project: str) -> str:
    response = client.post(
        "/identity/v3/auth/tokens?nocatalog",
        data=json.dumps(token_body(username, project)),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content[:300]
    return str(response["X-Subject-Token"])


def run(bench: Bench) -> list[Result]:
    client = Client()
    token = issue_token(client, member(0), "bench-000")
    path = f"/v2.1/servers/detail?limit={LIMIT}"
    headers = {
        "HTTP_X_AUTH_TOKEN": token,
        "HTTP_OPENSTACK_API_VERSION": VERSION,
        "HTTP_X_VMDASH_EXTRAS": "1",
    }

    def once() -> float:
        started = time.perf_counter()
        response = client.get(path, **headers)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.content[:300]
        return elapsed

    for _ in range(2):
        once()
    figure = statistics.median(once() for _ in range(bench.scale.repeats))
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, **headers)
    queries = len(captured.captured_queries)
    served = len(json.loads(response.content)["servers"])

    project = bench.seeded.projects[0]
    for _ in range(2):
        api_list_floor(project, LIMIT)
    floor = statistics.median(api_list_floor(project, LIMIT)[0] for _ in range(bench.scale.repeats))
    over_http = _over_http(bench, path, token)
    return [
        Result(
            "API list",
            f"GET /servers/detail?limit={LIMIT} ({served} servers)",
            figure * 1000,
            floor * 1000,
            "ms",
            "≤ 3× floor",
            figure <= 3 * floor,
            note=(
                f"API list: median of {bench.scale.repeats}, in-process; over HTTP to one "
                f"daphne process {over_http * 1000:.0f} ms; body {len(response.content):,} "
                f"bytes; microversion {VERSION.split()[1]}."
            ),
        ),
        Result(
            "API list",
            "queries per request",
            float(queries),
            1.0,
            "",
            "≤ 5",
            queries <= 5,
            note="API list queries: " + "; ".join(_short(q["sql"]) for q in captured),
        ),
    ]


def _short(sql: str) -> str:
    head = sql.split(" FROM ", 1)
    table = head[1].split()[0].strip('"') if len(head) > 1 else ""
    return f"{sql.split()[0]} {table}".strip()


def _over_http(bench: Bench, path: str, token: str) -> float:
    server = bench.web_processes()[0]
    request = urllib.request.Request(
        server.http + path,
        headers={"X-Auth-Token": token, "OpenStack-API-Version": VERSION, "X-Vmdash-Extras": "1"},
    )
    times = []
    for _ in range(max(3, bench.scale.repeats // 3)):
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])
