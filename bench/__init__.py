"""Benchmarks of the hot paths against their physical floor (issue 6).

``python -m bench`` runs them all on PostgreSQL and Redis and prints one table; ``--quick`` is
the CI-sized run. Every benchmark measures its floor in the same run on the same machine and
prints the ratio, so the figures mean something on any machine:

| module | figure | floor |
|---|---|---|
| ``latency`` | commit → WebSocket arrival, p50 / p99, 2 daphne on Redis | the same commits and clients through bare ``websockets`` servers fed by Redis |
| ``fanout`` | deltas delivered per second to every client | a bare ``websockets.broadcast`` in one process |
| ``sync`` | one power-state pass over every host | one raw read of the rows plus one bulk write |
| ``api_list`` | ``GET /v2.1/servers/detail?limit=1000`` | one raw SQL query plus ``json.dumps`` |
| ``actions`` | accepted ``POST /servers/{id}/action`` per second | a trivial DRF endpoint on the same server |
| ``memory`` | RSS of one daphne holding idle sockets | a bare ``websockets`` server holding as many |
| ``drain`` | the host page with the drain plan of 1,000 (quick: 200) instances; the drain's queries per step, late vs early | two raw reads of the rows plus each as HTML; the early passes' queries per step |

The floors live in ``bench.floors``; the bench database is created and dropped by
``bench.stack``; data is seeded by ``bench.seed`` straight into the tables (seeding is not a
product write path; the state machine stays the only writer of state columns in the product).
``bench.swarm`` is the WebSocket client harness, ``bench.sizes`` the full and quick sizes.
"""
