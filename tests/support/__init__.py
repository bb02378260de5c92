"""What the tests and the benchmarks share to run the real thing: child processes (daphne,
agents, a private Redis) with a free port and a log each (``processes``), and PostgreSQL and
Redis servers to make databases of their own on (``servers``)."""
