"""What ``DATABASE_URL`` turns into: the connection pool and prepared statements on PostgreSQL,
and that a statement a connection runs often really is prepared on it."""

from __future__ import annotations

import pytest
from django.db import connection

from compute.models import Instance
from dashboard.settings import database_from_url

PG = "postgres://vmdash@db.example:5432/vmdash"


def test_postgresql_pools_connections_and_prepares_frequent_statements_by_default() -> None:
    db = database_from_url(PG)
    assert db["OPTIONS"] == {
        "pool": {"min_size": 2, "max_size": 20, "timeout": 10},
        "server_side_binding": True,
        "prepare_threshold": 5,
    }
    assert db["CONN_MAX_AGE"] == 0  # the pool keeps the connections
    assert db["CONN_HEALTH_CHECKS"] is True
    assert (db["NAME"], db["USER"], db["HOST"], db["PORT"]) == (
        "vmdash",
        "vmdash",
        "db.example",
        "5432",
    )


def test_prepare_0_binds_on_the_client_and_prepares_nothing() -> None:
    """For a pooler that cannot keep a session's prepared statements (PgBouncer in transaction
    mode before 1.21)."""
    options = database_from_url(PG + "?prepare=0")["OPTIONS"]
    assert "server_side_binding" not in options and "prepare_threshold" not in options
    assert database_from_url(PG + "?prepare=2")["OPTIONS"]["prepare_threshold"] == 2


def test_pool_0_keeps_one_persistent_connection_per_thread_instead() -> None:
    db = database_from_url(PG + "?pool=0&conn_max_age=30")
    assert "pool" not in db["OPTIONS"]
    assert db["CONN_MAX_AGE"] == 30


def test_sqlite_is_untouched_by_either() -> None:
    options = database_from_url("sqlite:///tmp/x.sqlite3")["OPTIONS"]
    assert "pool" not in options and "server_side_binding" not in options


@pytest.mark.django_db
def test_a_statement_run_often_is_prepared_on_its_connection() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    threshold = connection.settings_dict["OPTIONS"].get("prepare_threshold")
    if not threshold:
        pytest.skip("this run's DATABASE_URL turned preparing off")
    for _ in range(threshold + 1):
        list(Instance.objects.filter(name="nobody").values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any('"compute_instance"."name"' in statement for statement in prepared), prepared
