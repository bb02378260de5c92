"""Scale-out tests: several processes on PostgreSQL and Redis."""
