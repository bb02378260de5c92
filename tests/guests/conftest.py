"""Real-guest tests: a dashboard whose agents drive QEMU guests through libvirtd.

Every test here is marked ``guest``; they are skipped, with the reason, where QEMU or libvirtd
is missing (``bash .ci/test`` installs and starts both). Guests are TCG (``LIBVIRT_VIRT_TYPE``
defaults to ``qemu`` here: see docs/REAL-GUESTS.md) and use 128–256 MiB.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.guests.site import GuestSite, libvirt_available


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.guest)


@pytest.fixture(scope="session")
def real_guests() -> None:
    reason = libvirt_available()
    if reason is not None:
        pytest.skip(reason)


def start_site(
    tmp_path_factory: pytest.TempPathFactory,
    hosts: dict[str, dict[str, str]],
    *,
    uris: dict[str, str] | None = None,
    **env: str,
) -> Iterator[GuestSite]:
    site = GuestSite(
        Path(tmp_path_factory.mktemp("guests")), hosts=hosts, env_extra=env, uris=uris or {}
    )
    try:
        site.start()
        yield site
    finally:
        site.stop()


@pytest.fixture(scope="module")
def second_libvirtd(real_guests: None) -> Iterator[str]:
    """A second libvirtd on this machine, as a second host (``tests.guests.two_hosts``); its
    URI. Stopped, with its guests, at the end of the module."""
    from tests.guests.two_hosts import run_second_libvirtd

    yield from run_second_libvirtd()
