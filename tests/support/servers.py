"""The PostgreSQL and Redis servers a test or a benchmark makes a database of its own on.

Each caller names the variable that may point it elsewhere (``SCALE_DATABASE_URL``,
``VMDASH_RELIABILITY_PG`` …); otherwise the server of ``DATABASE_URL`` / ``REDIS_URL`` when
they name one, else the local default CI starts.
"""

from __future__ import annotations

import os
import urllib.parse

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def pg_server_url(explicit: str = "") -> str:
    """The PostgreSQL server's maintenance database: ``$explicit``, else the server of
    ``DATABASE_URL`` when it names PostgreSQL, else the local default."""
    if explicit and os.environ.get(explicit):
        return os.environ[explicit]
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://", "pgsql://")):
        return urllib.parse.urlparse(url)._replace(path="/postgres", query="").geturl()
    return DEFAULT_PG


def redis_server_url(explicit: str) -> str:
    """``$explicit``, else ``REDIS_URL`` when it names Redis, else the local default."""
    if os.environ.get(explicit):
        return os.environ[explicit]
    url = os.environ.get("REDIS_URL", "")
    return url if url.startswith(("redis://", "rediss://")) else DEFAULT_REDIS


def with_database(url: str, name: str) -> str:
    """The same server, another database (a PostgreSQL name or a Redis index)."""
    return urllib.parse.urlparse(url)._replace(path=f"/{name}").geturl()


def create_database(server: str, name: str) -> None:
    """A new, empty PostgreSQL database ``name`` on ``server`` (its maintenance database)."""
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(server: str, name: str) -> None:
    """Drop database ``name`` on ``server``, cutting any session still on it."""
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


#: Redis databases the benchmarks and the scale tests may take (an empty one is picked).
REDIS_DBS = range(15, 7, -1)


def pick_redis_db(server: str) -> str:
    """A Redis database nobody uses, so the relay lease and the groups are the caller's."""
    import redis

    for index in REDIS_DBS:
        url = with_database(server, str(index))
        if redis.Redis.from_url(url).dbsize() == 0:
            return url
    url = with_database(server, str(REDIS_DBS[0]))
    clear_redis(url)
    return url


def clear_redis(url: str) -> None:
    """Remove what vmdash, channels_redis and the bench keep in this database."""
    import redis

    client = redis.Redis.from_url(url)
    for pattern in ("vmdash:*", "asgi*", "bench:*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
