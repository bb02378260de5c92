"""Notifications derived from the outbox (issue 15, point 2).

The notifier reads the outbox by sequence, as the relay does, so it sees every change: the
API's, an agent's, the power-state sync's, the watchdog's, a guest crashing behind the
dashboard's back. It never polls the models for changes; it reads a change's fault or its
previous state only to describe a change the outbox named.

- ``conf``: the knobs (``settings.NOTIFICATIONS``).
- ``events``: which event kinds one outbox row is, and its Nova-style versioned payload.
- ``derive``: the durable cursor; one ``Notification`` per (user, change), its deliveries and
  the bell's outbox row, committed with the cursor's advance.
- ``deliver``: due deliveries sent (webhook, email), logged, retried with backoff.
- ``signing``: the webhook's HMAC-SHA256 signature and its check.
- ``targets``: a webhook URL is http(s) and never a private, loopback or link-local address.
- ``subscriptions``: the writes users make (subscribe, unsubscribe, mark read).
- ``queries``: the reads users make, their own rows only.
- ``runner``: one pass of both, and the loop a web process or ``manage.py notify`` runs.
"""
