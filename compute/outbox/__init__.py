"""The transactional outbox: every change of an instance or a host, written in the changing
transaction, read by sequence by whoever reacts to changes (docs/ARCHITECTURE.md).

- ``write``: the change's delta, appended to the outbox in the caller's transaction (and, on
  PostgreSQL, a ``pg_notify`` delivered at commit).
- ``relay``: each web process tails the outbox and hands every delta to its sockets' groups.
- ``listener``: the relay's own PostgreSQL connection, LISTENing and reading on the event loop.
- ``audience``: which groups receive a change, and as what.
- ``fanout``: this process's sockets by group; one encoding per delta and group.
- ``replay``: a reconnecting page caught up from the last sequence it saw.

Anything new that reacts to changes reads the outbox by sequence, as the relay does.
"""
