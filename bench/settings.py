"""The dashboard's settings plus the bench's own URL: the trivial DRF endpoint (bench 5's floor)
is served by the same daphne process as the API it is compared with.

``BENCH_CHANNEL_LAYER=list`` swaps the product's pub/sub Redis channel layer (which carries the
agents' wake-ups, not the live deltas) for channels_redis's list-based ``RedisChannelLayer``, to
compare; by default the bench runs exactly the product's settings.
"""

import os

from dashboard.settings import *  # noqa: F403
from dashboard.settings import REDIS_URL

ROOT_URLCONF = "bench.urls"

if REDIS_URL and os.environ.get("BENCH_CHANNEL_LAYER") == "list":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 1500, "expiry": 10},
        }
    }
