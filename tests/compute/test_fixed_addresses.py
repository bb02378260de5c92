"""Fixed addresses: every server on the private network gets its own, from the subnet's pool."""

from __future__ import annotations

import ipaddress

from compute.agent.finish import fixed_address
from compute.networks import PRIVATE


def test_consecutive_instances_never_share_an_address_within_the_pool():
    (subnet,) = PRIVATE.subnets
    first, last = ipaddress.ip_address(subnet.pool_start), ipaddress.ip_address(subnet.pool_end)
    pool_size = int(last) - int(first) + 1
    given = [ipaddress.ip_address(fixed_address(pk)) for pk in range(1, pool_size + 1)]
    assert len(set(given)) == pool_size
    assert min(given) == first and max(given) == last
    assert fixed_address(pool_size + 1) == subnet.pool_start


def test_two_servers_built_one_after_the_other_have_different_addresses(make_instance):
    one, two = make_instance(name="one"), make_instance(name="two")
    assert one.addresses["private"][0]["addr"] != two.addresses["private"][0]["addr"]
