"""The dashboard's settings plus the bench's own URL: the trivial DRF endpoint (bench 5's floor)
is served by the same daphne process as the API it is compared with.

``BENCH_CHANNEL_LAYER=pubsub`` swaps the Redis channel layer (which carries the agents' wake-ups,
not the live deltas) for channels_redis's pub/sub layer; by default the bench runs exactly the
product's settings.
"""

import os

from dashboard.settings import *  # noqa: F403
from dashboard.settings import REDIS_URL

ROOT_URLCONF = "bench.urls"

if REDIS_URL and os.environ.get("BENCH_CHANNEL_LAYER") == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
