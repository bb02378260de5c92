"""The compute agent: one per host. It heartbeats, claims the actions dispatched to its host and
runs them against the driver, and keeps the database in step with the hypervisor."""
