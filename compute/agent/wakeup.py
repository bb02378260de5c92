"""Waking an agent early. The database is the queue and agents poll it; a wake-up only saves
the poll interval. Agents in this process (the embedded default) wait on a threading.Event;
agents elsewhere notice within their poll interval.
"""

from __future__ import annotations

import threading
from collections import defaultdict

_events: defaultdict[str, threading.Event] = defaultdict(threading.Event)
_lock = threading.Lock()


def wakeup_event(host: str) -> threading.Event:
    with _lock:
        return _events[host]


def wake_agent(host: str) -> None:
    wakeup_event(host).set()
