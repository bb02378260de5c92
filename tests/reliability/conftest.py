"""Fixtures of the reliability tests: a PostgreSQL database of the test's own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.reliability import scratch_pg


@pytest.fixture
def scratch_database() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards: its backends get terminated. Skips with
    the reason when no PostgreSQL server answers."""
    why = scratch_pg.unreachable()
    if why:
        pytest.skip(why)
    name = f"vmdash_reliability_{uuid.uuid4().hex[:8]}"
    scratch_pg.create(name)
    try:
        yield name
    finally:
        scratch_pg.drop(name)
