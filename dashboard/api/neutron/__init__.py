"""The slice of Neutron's v2.0 API (``/network/v2.0/…``) that the address model backs: the one
network, its subnet, the ports of the caller's servers and the extensions their bodies carry.
Read-only: nothing here creates a network or a port (``compute.networks``), so writes answer as
a Neutron whose policy forbids them."""
