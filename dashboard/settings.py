"""Settings, all from the environment so one code base runs embedded or at scale.

| variable | default | meaning |
|---|---|---|
| DATABASE_URL | sqlite:///<repo>/var/db.sqlite3 | ``sqlite:///path`` or ``postgres://user@host:port/db`` |
| REDIS_URL | unset: in-memory channel layer | ``redis://host:port/n``: Redis channel layer |
| SECRET_KEY | a development key (refused when DEBUG is off) | |
| DEBUG | 1 | 0 for production |
| ALLOWED_HOSTS | 127.0.0.1,localhost,[::1] | comma separated |
| CSRF_TRUSTED_ORIGINS | none | comma separated origins behind a proxy |
| SERVICE_DOWN_TIME, REPORT_INTERVAL, SYNC_POWER_STATE_INTERVAL, RECLAIM_INSTANCE_INTERVAL, SHELVED_OFFLOAD_TIME, INSTANCE_DELETE_INTERVAL, DISPATCH_TIMEOUT, WATCHDOG_INTERVAL | Nova's | seconds |
| AGENT_POLL_INTERVAL | 0.5 | seconds between an agent's queue polls when nothing wakes it (with REDIS_URL: raise to 10–30) |
| HOST_STATUS_POLICY | admin | admin, admin_or_owner or unknown_only |
| HANDLE_VIRT_LIFECYCLE_EVENTS | 1 | 0 turns lifecycle event handling off |
| FAKE_DELAYS | none | e.g. ``default=1,spawn=3``: seconds per fake hypervisor operation |
| LIFECYCLE_STOPPED_DELAY | 15 | seconds a STOPPED lifecycle event is held (and dropped if the guest starts again: a reboot) |
| LIBVIRT_VIRT_TYPE | kvm | Nova's ``[libvirt] virt_type``: ``kvm`` with hardware virtualisation, ``qemu`` (TCG) without |
| LIBVIRT_INSTANCES_PATH | /var/lib/libvirt/vmdash | libvirt hosts: instance disks (a storage pool in ``disks/``) and console logs |
| LIBVIRT_PEERS | {} | libvirt hosts: JSON, host → ``{"uri", "instances_path"}`` of the other hosts' libvirtds a live migration goes to (else ``qemu+tcp://<host>/system``) |
| IMAGE_DIR | <repo>/var/images | the image store: one file per image, read by compute hosts at the same path |
| TOKEN_TTL | 3600 | seconds an API token lives |
| DATABASE_URL's ?pool= | 20 | PostgreSQL connections each process pools (0: no pool, ?conn_max_age= applies) |
| DATABASE_URL's ?prepare= | 5 | PostgreSQL: server-side parameters, a statement prepared on a connection after that many runs (0: client-side binding, nothing prepared: for PgBouncer in transaction mode before 1.21) |
| TOKEN_CACHE_TTL | 5 | seconds a process reuses a checked token (a revocation made in another process takes this long) |
| SESSION_COOKIE_AGE | 43200 | seconds a page login lasts |
| ACCESS_RECHECK_INTERVAL | 5 | seconds within which an open live socket loses what its user may no longer see |
| SECURE_COOKIES | 1 when DEBUG is off | session and CSRF cookies only over HTTPS |
| SECURE_SSL_REDIRECT | 0 | 1: redirect plain HTTP to HTTPS (DEBUG off) |
| SECURE_HSTS_SECONDS, SECURE_HSTS_INCLUDE_SUBDOMAINS, SECURE_HSTS_PRELOAD | 0, 0, 0 | HSTS (DEBUG off) |
| SECURE_PROXY_SSL_HEADER | 0 | 1: trust ``X-Forwarded-Proto: https`` from the TLS proxy in front |
| LOGIN_MAX_FAILURES, LOGIN_MAX_FAILURES_PER_IP, LOGIN_LOCKOUT_SECONDS | 5, 50, 900 | ``dashboard.ratelimit`` |
| CACHE_URL | unset: REDIS_URL's Redis, else files in var/cache per database | ``redis://``, ``file:///dir`` or ``locmem://`` (per process): where the login counters live |

A production deployment that passes ``manage.py check --deploy``: ``DEBUG=0``, a long random
``SECRET_KEY``, ``ALLOWED_HOSTS``, ``SECURE_SSL_REDIRECT=1``, ``SECURE_HSTS_SECONDS=31536000``,
``SECURE_HSTS_INCLUDE_SUBDOMAINS=1``, ``SECURE_HSTS_PRELOAD=1`` (and ``SECURE_PROXY_SSL_HEADER=1``
behind a TLS proxy).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    return [p.strip() for p in raw.split(",") if p.strip()] if raw else default


def database_from_url(url: str) -> dict[str, object]:
    parsed = urlparse(url)
    if parsed.scheme in ("sqlite", "sqlite3"):
        path = unquote(parsed.path)
        if parsed.netloc:  # sqlite://relative/path
            path = parsed.netloc + path
        name = path or ":memory:"
        # The default database and the tests' live in var/: make the file's directory (var/ on
        # a fresh clone), so the first ``manage.py migrate`` does not fail with "unable to open
        # database file".
        if path and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        (BASE_DIR / "var").mkdir(exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": name,
            # WAL lets the web process read while an agent writes; a busy timeout instead of
            # "database is locked" under a burst of writes from several processes.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # On disk, like the real thing: concurrency tests need SQLite's file locking with a
            # busy timeout (a shared-cache memory database fails fast with "table is locked"),
            # and Channels' live server needs a database other processes can open.
            "TEST": {
                "NAME": os.environ.get("TEST_SQLITE_NAME")
                or str(BASE_DIR / "var" / f"test-{os.getpid()}.sqlite3")
            },
        }
    if parsed.scheme in ("postgres", "postgresql", "pgsql"):
        query: dict[str, object] = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        pool_size = int(str(query.pop("pool", "20")))
        conn_max_age = int(str(query.pop("conn_max_age", "60")))
        if pool_size > 0:
            # Under ASGI every request runs in a thread of its own, so a persistent connection
            # per thread is a new connection per request (≈ 7 ms here, and a server fork): a
            # pool per process instead. CONN_HEALTH_CHECKS makes the pool check a connection as
            # it hands it out, so after a database restart no request gets a dead one.
            query["pool"] = {"min_size": 2, "max_size": pool_size, "timeout": 10}
            conn_max_age = 0  # the pool keeps the connections
        prepare = int(str(query.pop("prepare", "5")))
        if prepare > 0:
            # Parameters bound by the server, and each statement a connection runs often
            # prepared on it: the server plans it once, not per run (planning the acceptance's
            # four statements cost PostgreSQL more than running them), and psycopg sends the
            # values as they are instead of quoting them into the text. The whole suite runs
            # this way on CI's PostgreSQL pass.
            query["server_side_binding"] = True
            query["prepare_threshold"] = prepare
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")) or "postgres",
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": conn_max_age,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": query,
        }
    raise ValueError(f"Unsupported DATABASE_URL scheme {parsed.scheme!r}")


DEBUG = env_bool("DEBUG", True)
_DEV_KEY = "dev-only-insecure-key-change-me-0123456789abcdefghijklmnopqrstuvwxyz"
SECRET_KEY = os.environ.get("SECRET_KEY", _DEV_KEY)
if not DEBUG and SECRET_KEY == _DEV_KEY:
    raise RuntimeError("Set SECRET_KEY when DEBUG is off.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "compute",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "dashboard.security.SecurityHeadersMiddleware",
    "dashboard.security.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "dashboard.web.language.PreferredLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
ASGI_APPLICATION = "dashboard.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": database_from_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    # The channel layer carries one thing across processes: agent wake-ups, hints that save an
    # agent its poll (the database is the queue; live deltas never pass through Redis). Pub/sub
    # suits a hint: one PUBLISH per wake-up (the list-based layer makes two round trips even for
    # a group nobody is in, four for one), and a wake-up for an agent that is not listening
    # vanishes instead of waiting in a list for the agent's next start.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "instances"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
#: The pages' languages: the browser's Accept-Language picks one until the user chooses in the
#: top bar (kept per user, dashboard.Preference). Nova's state identifiers stay as they are.
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
#: Dates to the second in each language (dashboard/formats/<language>/formats.py).
FORMAT_MODULE_PATH = ["dashboard.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "static"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = int(env_float("SESSION_COOKIE_AGE", 12 * 3600))
#: Seconds between the web process's re-checks of its open sockets' access (dashboard.web.access).
ACCESS_RECHECK_INTERVAL = env_float("ACCESS_RECHECK_INTERVAL", 5.0)
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
    SECURE_HSTS_SECONDS = int(env_float("SECURE_HSTS_SECONDS", 0))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    # Only behind a proxy that sets this header itself and drops a client's own.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# dashboard.ratelimit: failed log-ins (page and identity tokens) before a lockout.
LOGIN_RATE_LIMIT = {
    "failures": int(env_float("LOGIN_MAX_FAILURES", 5)),
    "ip_failures": int(env_float("LOGIN_MAX_FAILURES_PER_IP", 50)),
    "lockout": int(env_float("LOGIN_LOCKOUT_SECONDS", 900)),
}


def caches_from_env(cache_url: str, redis_url: str) -> dict[str, dict[str, object]]:
    """The ``default`` cache, which holds the login counters (``dashboard.ratelimit``): shared by
    every process of the deployment whatever the set-up, never per process unless asked.

    ``CACHE_URL`` if set (``redis://``, ``file:///path``, ``locmem://``); else ``REDIS_URL``'s
    Redis; else files in a directory per database (``var/cache/<database>/``), which every
    process on this machine that opens the same database shares (the embedded default: the web
    process, extra daphne processes, the agents and the commands).
    """
    url = cache_url or redis_url
    if url.startswith(("redis://", "rediss://", "unix://")):
        # The prefix lets ``clear`` spare the channel layer's keys in the same Redis database.
        default = {
            "BACKEND": "dashboard.ratelimit.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "vmdash-cache",
        }
    elif url.startswith("file://"):
        default = {
            "BACKEND": "dashboard.ratelimit.SharedFileCache",
            "LOCATION": unquote(urlparse(url).path),
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    elif url.startswith("locmem:"):
        default = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    elif not url:
        default = {
            "BACKEND": "dashboard.ratelimit.SharedFileCache",
            "LOCATION": str(BASE_DIR / "var" / "cache"),
            # One directory per database; room for many counters before any is culled.
            "OPTIONS": {"PER_DATABASE": True, "MAX_ENTRIES": 100_000},
        }
    else:
        raise ValueError(f"Unsupported CACHE_URL {cache_url!r}: redis://, file:// or locmem://")
    return {"default": default}


CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES = caches_from_env(CACHE_URL, REDIS_URL)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    # Every API error leaves as Nova's fault body (Keystone's for identity and 401s).
    "EXCEPTION_HANDLER": "dashboard.api.faults.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "vmdash compute API",
    "DESCRIPTION": (
        "A Nova-compatible compute API (v2.1 with microversions; see GET /v2.1 for the range), "
        "the sliver of Identity v3 its clients need to log in, the sliver of Image v2 they "
        "read image names from, and the read-only slice of Network v2.0 (Neutron) the address "
        "model backs: networks, subnets, ports, extensions. Authenticate with "
        "POST /identity/v3/auth/tokens and send the "
        "X-Subject-Token you get back as X-Auth-Token."
    ),
    "VERSION": "2.1",
    # 3.1: the request bodies are Nova's JSON schemas (type lists, null), shown as they are.
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the drf-spectacular-sidecar package, served by the API itself: no CDN.
    "SWAGGER_UI_DIST": "/api/docs/assets",
    "SWAGGER_UI_FAVICON_HREF": "/api/docs/assets/favicon-32x32.png",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": True},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "dashboard.api.docs.components.add_components",
        "dashboard.api.docs.components.add_refusals",
    ],
}

TOKEN_TTL = env_float("TOKEN_TTL", 3600.0)
#: Seconds a process reuses a checked token's caller (dashboard.api.auth); 0 checks every time.
TOKEN_CACHE_TTL = env_float("TOKEN_CACHE_TTL", 5.0)


def _fake_delays(raw: str) -> dict[str, float]:
    delays: dict[str, float] = {}
    for part in raw.split(","):
        if "=" in part:
            key, _, value = part.partition("=")
            delays[key.strip()] = float(value)
    return delays


COMPUTE = {
    "service_down_time": env_float("SERVICE_DOWN_TIME", 60.0),
    "report_interval": env_float("REPORT_INTERVAL", 10.0),
    "sync_power_state_interval": env_float("SYNC_POWER_STATE_INTERVAL", 600.0),
    "reclaim_instance_interval": env_float("RECLAIM_INSTANCE_INTERVAL", 0.0),
    "shelved_offload_time": env_float("SHELVED_OFFLOAD_TIME", 0.0),
    "instance_delete_interval": env_float("INSTANCE_DELETE_INTERVAL", 300.0),
    "dispatch_timeout": env_float("DISPATCH_TIMEOUT", 300.0),
    "watchdog_interval": env_float("WATCHDOG_INTERVAL", 2.0),
    "agent_poll_interval": env_float("AGENT_POLL_INTERVAL", 0.5),
    "handle_virt_lifecycle_events": env_bool("HANDLE_VIRT_LIFECYCLE_EVENTS", True),
    "host_status_policy": os.environ.get("HOST_STATUS_POLICY", "admin"),
    "fake_delays": _fake_delays(os.environ.get("FAKE_DELAYS", "")),
    "lifecycle_stopped_delay": env_float("LIFECYCLE_STOPPED_DELAY", 15.0),
    "libvirt_virt_type": os.environ.get("LIBVIRT_VIRT_TYPE", "kvm"),
    "libvirt_instances_path": os.environ.get("LIBVIRT_INSTANCES_PATH", "/var/lib/libvirt/vmdash"),
    "libvirt_peers": json.loads(os.environ.get("LIBVIRT_PEERS") or "{}"),
    "console_token_ttl": env_float("CONSOLE_TOKEN_TTL", 600.0),
    "diagnostics_interval": env_float("DIAGNOSTICS_INTERVAL", 10.0),
    "schedule_min_interval": env_float("SCHEDULE_MIN_INTERVAL", 60.0),
}

#: Notifications (compute.notify.conf): how often the notifier runs, retries and backoff, and
#: whether webhooks may reach private addresses (NOTIFY_ALLOW_PRIVATE_WEBHOOKS=1; tests, labs).
NOTIFICATIONS = {
    "interval": env_float("NOTIFY_INTERVAL", 0.25),
    "retry_base": env_float("NOTIFY_RETRY_BASE", 1.0),
    "retry_max": env_float("NOTIFY_RETRY_MAX", 300.0),
    "max_attempts": int(env_float("NOTIFY_MAX_ATTEMPTS", 12)),
    "webhook_timeout": env_float("NOTIFY_WEBHOOK_TIMEOUT", 5.0),
    "allow_private_webhooks": env_bool("NOTIFY_ALLOW_PRIVATE_WEBHOOKS", False),
}
#: Email through Django's framework: the console by default, SMTP when EMAIL_HOST is set.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = int(env_float("EMAIL_PORT", 25))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "vmdash@localhost")

#: Nova's [quota] defaults, overridden per resource: QUOTA_DEFAULTS="instances=50,cores=-1"
#: (compute.services.quotas; -1 is unlimited). Admins change a project's or the default class's limits
#: through os-quota-sets / os-quota-class-sets.
COMPUTE_QUOTA_DEFAULTS = {
    key.strip(): int(value)
    for key, _, value in (
        part.partition("=")
        for part in os.environ.get("QUOTA_DEFAULTS", "").split(",")
        if "=" in part
    )
}

#: The image store (compute.image_store): one file per image. Compute hosts read it at this path.
IMAGE_DIR = os.environ.get("IMAGE_DIR", str(BASE_DIR / "var" / "images"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"daphne": {"level": "WARNING"}, "django.channels.server": {"level": "WARNING"}},
}
