"""Botsite settings: every value comes from the environment.

With no environment at all this is the embedded default: SQLite in the data directory, an
in-process Celery broker and channel layer, no outside services. `DATABASE_URL` switches the
database to PostgreSQL; `REDIS_URL` switches Celery's broker, the channel layer and the cache
to Redis. `.env.example` lists every variable.

Past 400 lines on purpose: one place where every setting and the variable it reads can be
found, as Django expects them; each block says why its value is what it is.
"""

import ipaddress
import secrets
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def env_secret(name: str, default: str | None = None) -> str | None:
    """Read a secret from NAME, or from the file named by NAME_FILE (Docker/Kubernetes secrets)."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as error:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {error}") from error
    return env.str(name, default=default)


# ---------------------------------------------------------------------------------------------
# Mode
# ---------------------------------------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="")

# The embedded default is a developer's machine; as soon as real services are configured the
# safe production default (DEBUG off) applies unless DEBUG is set explicitly.
IS_EMBEDDED = not REDIS_URL


def redis_database(url: str) -> int:
    """The database number a Redis URL selects (`redis://host:6379/3` → 3; default 0)."""
    path = urlsplit(url).path.strip("/")
    return int(path) if path.isdigit() else 0


DEBUG = env.bool("DEBUG", default=not (DATABASE_URL or REDIS_URL))

DATA_DIR = Path(env.str("BOTSITE_DATA_DIR", default=str(BASE_DIR / "var")))


def _embedded_secret(name: str, make: Callable[[], str]) -> str:
    """A random secret kept in the data directory, so what it signs or seals survives
    restarts of a dev run."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key_file = DATA_DIR / name
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(make())
    return key_file.read_text().strip()


def _embedded_secret_key() -> str:
    return _embedded_secret("secret_key", lambda: secrets.token_urlsafe(50))


def secret_key_is_weak(key: str) -> bool:
    """Short, Django's placeholder, few distinct characters, or a short pattern repeated
    (`change-me` x 7 is 63 characters of 8 kinds)."""
    if len(key) < 50 or len(set(key)) < 10 or key.startswith("django-insecure"):
        return True
    # A period of at most half the key: key[p:] == key[:-p] means it repeats every p.
    return any(key[period:] == key[:-period] for period in range(1, len(key) // 2 + 1))


SECRET_KEY = env_secret("SECRET_KEY") or ""
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])

if DEBUG:
    SECRET_KEY = SECRET_KEY or _embedded_secret_key()
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["localhost", "127.0.0.1", "[::1]"]
else:
    if secret_key_is_weak(SECRET_KEY):
        raise ImproperlyConfigured(
            "DEBUG is off: set SECRET_KEY (or SECRET_KEY_FILE) to a random value of 50+ "
            "characters, not a short pattern repeated, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'."
        )
    if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "DEBUG is off: set ALLOWED_HOSTS to the host names this site is served under "
            "('*' would let any Host header through, and with it any page's origin)."
        )

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# ---------------------------------------------------------------------------------------------
# Applications
# ---------------------------------------------------------------------------------------------
INSTALLED_APPS = [
    # daphne first: it replaces runserver with an ASGI server that speaks WebSocket.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_celery_beat",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "botsite",
    "conversations",
    "actions",
    "chat",
    "webhooks",
    "publishers",
    "integrations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "botsite.database_outage.DatabaseOutageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "integrations.middleware.AdminAuditMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if not DEBUG:
    # daphne serves no static files; in development `runembedded` does it instead.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "botsite.urls"
ASGI_APPLICATION = "botsite.asgi.application"

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
            ],
        },
    },
]

# ---------------------------------------------------------------------------------------------
# Database
# ---------------------------------------------------------------------------------------------
if DATABASE_URL:
    DATABASES = {"default": env.db_url("DATABASE_URL")}
    # A pool per process, not persistent connections: daphne runs each HTTP request's sync
    # code on a thread of its own, and a persistent connection stays open with its thread
    # gone; under API load that exhausted PostgreSQL's connections ("too many clients").
    # Connections are checked when taken from the pool, so one broken by a database
    # restart is replaced instead of failing a request (Django's health checks, with a pool).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=20),
        # Waiting longer for a connection helps nobody: with the database down every request
        # waited all of it, then failed (botsite/database_outage.py answers 503 instead).
        "timeout": env.float("DATABASE_POOL_TIMEOUT_SECONDS", default=1.0),
        # The pool retries a failed connection attempt with a delay that doubles up to five
        # minutes, and a waiting request gets only a connection those attempts make: after
        # a 30 s outage the next attempt came up to 30 s after the database was back. Given
        # up this soon, the next request that needs a connection starts an attempt at once.
        "reconnect_timeout": 2.0,
    }
    # A host that drops packets would hold a pool's connection attempt for minutes.
    DATABASES["default"]["OPTIONS"]["connect_timeout"] = env.int(
        "DATABASE_CONNECT_TIMEOUT_SECONDS", default=2
    )
    # Planning a query cost more than running it on the message path (a seven-table join:
    # 2 ms to plan, 0.3 ms to run); psycopg prepares a statement run five times on a
    # connection, and the pool keeps connections, so each is planned once per connection.
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"]["OPTIONS"].update(server_side_binding=True, prepare_threshold=5)
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "botsite.sqlite3",
            # The web thread, worker threads and beat write at once in the embedded run:
            # IMMEDIATE transactions and a generous busy timeout avoid "database is locked".
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------------------------------------
# Cache, channel layer, Celery
# ---------------------------------------------------------------------------------------------
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "botsite",
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            # Messages are stored before they are broadcast and clients catch up by last id,
            # so the pub/sub layer's "deliver only to who listens now" is what we want, at
            # about twice the stock layer's throughput.
            "BACKEND": "botsite.channel_layers.OutageAwarePubSubChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # Above any blocking read, so idle servers keep their connection.
                        "socket_timeout": 30,
                        "socket_connect_timeout": 5,
                    }
                ],
                # Redis pub/sub channels are server-wide, not per database: two sites on
                # one Redis server would receive each other's room events under one prefix.
                "prefix": env.str(
                    "CHANNEL_LAYER_PREFIX", default=f"botsite.{redis_database(REDIS_URL)}"
                ),
            },
        }
    }
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "botsite.channel_layers.LoopBoundInMemoryChannelLayer"}
    }
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="memory://localhost/")

CELERY_BROKER_TRANSPORT_OPTIONS = (
    # The in-memory transport polls; its default 1 s poll would delay every reply by a second.
    {"polling_interval": 0.05}
    if CELERY_BROKER_URL.startswith("memory://")
    else {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
)
# kombu's Redis transport with the fix for workers that died when Redis went away while
# they held tasks (botsite/broker.py).
if CELERY_BROKER_URL.startswith("redis://"):
    CELERY_BROKER_TRANSPORT = "botsite.broker:Transport"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# Celery's Django fixup closes the whole connection pool of a prefork process at every task
# boundary (celery#10554), so every task opened a new PostgreSQL connection. With this it
# never does between tasks; botsite/celery.py hands the connection back to the pool after
# each task instead, and the fixup still closes a pool inherited from the parent at fork.
CELERY_DB_REUSE_MAX = 2**62
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
ACTION_RUN_SWEEP_SECONDS = env.int("ACTION_RUN_SWEEP_SECONDS", default=30)
# A pending run not picked up for this long, or a running one older than the run timeout,
# is re-enqueued by the sweeper: a lost broker message or a killed worker loses nothing.
ACTION_RUN_STUCK_SECONDS = env.int("ACTION_RUN_STUCK_SECONDS", default=60)
ACTION_RUN_TIMEOUT_SECONDS = env.int("ACTION_RUN_TIMEOUT_SECONDS", default=300)
# Each worker pool process writes a heartbeat this often; the sweeper takes back the runs
# of a process silent for three beats, long before the run timeout.
WORKER_HEARTBEAT_SECONDS = env.int("WORKER_HEARTBEAT_SECONDS", default=10)
# Runs one worker task may take at once: the runs due now that one transaction wrote go to
# the broker in tasks of this many, and a task with room to spare takes due ones queued
# behind it; their replies are stored in one transaction. 1: a task per run, alone.
ACTION_RUN_CLAIM_MAX = env.int("ACTION_RUN_CLAIM_MAX", default=8)
# Publishing: how often the sweeper hands on deliveries left behind; how old a pending
# delivery or a failed one past due must be before it does; how long one attempt may take
# before its worker counts as lost; how long a publisher run holds its lease.
DELIVERY_SWEEP_SECONDS = env.int("DELIVERY_SWEEP_SECONDS", default=30)
DELIVERY_STUCK_SECONDS = env.int("DELIVERY_STUCK_SECONDS", default=60)
DELIVERY_TIMEOUT_SECONDS = env.int("DELIVERY_TIMEOUT_SECONDS", default=120)
PUBLISHER_RUN_TIMEOUT_SECONDS = env.int("PUBLISHER_RUN_TIMEOUT_SECONDS", default=300)
# Integrators' events: how often new rows become webhooks, and how old a row must be first.
EVENT_SCAN_SECONDS = env.float("EVENT_SCAN_SECONDS", default=2.0)
EVENT_SETTLE_SECONDS = env.float("EVENT_SETTLE_SECONDS", default=1.0)
# How long an Idempotency-Key of the conversation endpoint is remembered.
IDEMPOTENCY_KEY_SECONDS = env.int("IDEMPOTENCY_KEY_SECONDS", default=24 * 3600)
CELERY_BEAT_SCHEDULE = {
    "integrator-events-scan": {
        "task": "integrations.tasks.events_scan",
        "schedule": EVENT_SCAN_SECONDS,
    },
    "integrations-purge": {
        "task": "integrations.tasks.integrations_purge",
        "schedule": 3600.0,
    },
    "deliveries-sweep": {
        "task": "publishers.tasks.deliveries_sweep",
        "schedule": float(DELIVERY_SWEEP_SECONDS),
    },
    "action-runs-sweep": {
        "task": "actions.tasks.action_runs_sweep",
        "schedule": float(ACTION_RUN_SWEEP_SECONDS),
    },
    "memory-entries-purge": {
        "task": "conversations.tasks.memory_entries_purge",
        "schedule": 3600.0,
    },
    "messages-expired-purge": {
        "task": "conversations.tasks.messages_expired_purge",
        "schedule": 3600.0,
    },
}

# ---------------------------------------------------------------------------------------------
# Auth, i18n, static files
# ---------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# ---------------------------------------------------------------------------------------------
# Email
# ---------------------------------------------------------------------------------------------
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default=(
        "django.core.mail.backends.filebased.EmailBackend"
        if IS_EMBEDDED
        else "django.core.mail.backends.smtp.EmailBackend"
    ),
)
EMAIL_FILE_PATH = DATA_DIR / "outbox"
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="botsite@localhost")

# ---------------------------------------------------------------------------------------------
# Security (production)
# ---------------------------------------------------------------------------------------------
if not DEBUG:
    # TLS is terminated by the proxy in front of daphne, which sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# Proxies in front of daphne (addresses or networks, e.g. "10.0.0.5,10.1.0.0/16") whose
# X-Forwarded-For and X-Forwarded-Proto are believed (botsite/client_address.py). Empty:
# the connecting address is the client. Run daphne without --proxy-headers.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as _error:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES: {_proxy!r} is no address or network."
        ) from _error

REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "botsite.api.exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so an unauthenticated call is told to send a bearer token (401).
        "integrations.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["integrations.permissions.ApiAccess"],
    "DEFAULT_THROTTLE_CLASSES": ["integrations.throttling.TokenBucketThrottle"],
    "DEFAULT_PARSER_CLASSES": [
        "integrations.parsers.LimitedJSONParser",
        # The browsable API's forms, for staff; under the same limit.
        "integrations.parsers.LimitedFormParser",
        "integrations.parsers.LimitedMultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "integrations.filters.TenantFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "integrations.pagination.PagePagination",
    "DEFAULT_SCHEMA_CLASS": "integrations.schema.ErrorDocumentingAutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Botsite REST API",
    "DESCRIPTION": "Bots, their configuration, conversations and publishing, scoped to the "
    "bots of the caller's API token. Errors: {code, detail, fields}.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from our own static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name per choice set that several fields share (plugin kinds are read at run time).
    "ENUM_NAME_OVERRIDES": {
        "SenderKindEnum": "conversations.models.Message.SenderKind",
        "TrustLevelEnum": "conversations.models.TRUST_LEVEL_CHOICES",
        "ActionKindEnum": "actions.registry.action_type_choices",
        "MiddlewareKindEnum": "conversations.middleware.registry.middleware_type_choices",
        "PublisherKindEnum": "publishers.registry.publisher_type_choices",
        "ConnectorEnum": "conversations.connectors.registry.connector_type_choices",
    },
}
# Per API token (or staff user): a burst, then this many requests a minute (token bucket).
API_THROTTLE_PER_MINUTE = env.int("API_THROTTLE_PER_MINUTE", default=600)
API_THROTTLE_BURST = env.int("API_THROTTLE_BURST", default=100)
# Larger request bodies answer 413: any request (botsite/request_limits.py, before anything
# reads the body), and the API's, whatever their content type.
REQUEST_BODY_MAX_BYTES = env.int("REQUEST_BODY_MAX_BYTES", default=1024 * 1024)
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=256 * 1024)
if API_MAX_BODY_BYTES > REQUEST_BODY_MAX_BYTES:
    raise ImproperlyConfigured("API_MAX_BODY_BYTES must not exceed REQUEST_BODY_MAX_BYTES.")
# No larger body gets in, so form fields and uploads are held in memory up to the same cap.
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_BODY_MAX_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = REQUEST_BODY_MAX_BYTES

# ---------------------------------------------------------------------------------------------
# Outbound HTTP (botsite/http.py)
# ---------------------------------------------------------------------------------------------
HTTP_TIMEOUT_SECONDS = env.float("HTTP_TIMEOUT_SECONDS", default=5.0)
HTTP_MAX_RESPONSE_BYTES = env.int("HTTP_MAX_RESPONSE_BYTES", default=1_000_000)
# Hosts that may resolve to private or loopback addresses (an intranet API, a local feed):
# `host` allows ports 80 and 443, `host:port` that port only.
HTTP_ALLOWED_HOSTS = env.list("HTTP_ALLOWED_HOSTS", default=[])

# ---------------------------------------------------------------------------------------------
# Outgoing webhooks (webhooks/)
# ---------------------------------------------------------------------------------------------
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=15.0)
WEBHOOK_MAX_ANSWER_BYTES = env.int("WEBHOOK_MAX_ANSWER_BYTES", default=64 * 1024)
# Backoff between attempts: doubling from the base, up to the cap, with jitter. With the
# defaults, 15 attempts span about 10 hours.
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=10.0)
WEBHOOK_RETRY_MAX_SECONDS = env.float("WEBHOOK_RETRY_MAX_SECONDS", default=3600.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=15)
# An endpoint failing this many times in a row, for at least this long, is disabled and
# its owner is told.
WEBHOOK_DISABLE_AFTER_FAILURES = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", default=20)
WEBHOOK_DISABLE_AFTER_SECONDS = env.int("WEBHOOK_DISABLE_AFTER_SECONDS", default=24 * 3600)

# ---------------------------------------------------------------------------------------------
# Publishing
# ---------------------------------------------------------------------------------------------
# Where links in emails (one-click unsubscribe) point: the site as its users reach it.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# Deliveries per second for each destination kind, shared by every worker (token buckets in
# the cache); 0 or missing: no limit. E.g. "room=0,email=10,webhook=50".
PUBLISHING_RATE_LIMITS = env.dict(
    "PUBLISHING_RATE_LIMITS", cast={"value": float}, default={"email": 10.0, "webhook": 50.0}
)
# Web chat deliveries written and pushed per transaction.
PUBLISHING_ROOM_BATCH = env.int("PUBLISHING_ROOM_BATCH", default=2000)
# Attempts at an email or web chat delivery before it is dead (webhooks: WEBHOOK_MAX_ATTEMPTS).
DELIVERY_MAX_ATTEMPTS = env.int("DELIVERY_MAX_ATTEMPTS", default=8)

# ---------------------------------------------------------------------------------------------
# Connectors and the bridge (bridge/, docs/bridge-protocol.md)
# ---------------------------------------------------------------------------------------------
# Keys that seal connector passwords at rest (Fernet keys, comma-separated, newest first;
# an older key still opens what it sealed, so keys can be rotated). Make one with
# python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'
CONNECTOR_SECRET_KEYS = env.list("CONNECTOR_SECRET_KEYS", default=[])
# What a bridge process presents to /ws/bridge/; empty: no bridge may connect.
BRIDGE_TOKEN = env_secret("BRIDGE_TOKEN") or ""
if DEBUG:
    CONNECTOR_SECRET_KEYS = CONNECTOR_SECRET_KEYS or [
        _embedded_secret("connector_key", lambda: Fernet.generate_key().decode())
    ]
    BRIDGE_TOKEN = BRIDGE_TOKEN or _embedded_secret("bridge_token", secrets.token_urlsafe)
# A bridge holds a connector while it beats; silent this long, another bridge takes it.
BRIDGE_LEASE_SECONDS = env.int("BRIDGE_LEASE_SECONDS", default=30)
# A bot's message not relayed to its network within this long is not sent any more (a
# bridge back after a day does not flood a channel with yesterday's answers).
BRIDGE_RELAY_HORIZON_SECONDS = env.int("BRIDGE_RELAY_HORIZON_SECONDS", default=3600)

# ---------------------------------------------------------------------------------------------
# Product limits
# ---------------------------------------------------------------------------------------------
CHAT_MESSAGE_MAX_CHARS = env.int("CHAT_MESSAGE_MAX_CHARS", default=4000)
CHAT_HISTORY_LIMIT = env.int("CHAT_HISTORY_LIMIT", default=50)
CHAT_CATCHUP_LIMIT = env.int("CHAT_CATCHUP_LIMIT", default=500)
# Larger WebSocket frames close the socket with 1009. daphne enforces it while reading
# (runembedded passes this setting; run production daphne with --websocket-max-message-size).
CHAT_FRAME_MAX_BYTES = env.int("CHAT_FRAME_MAX_BYTES", default=64 * 1024)
DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE = CHAT_FRAME_MAX_BYTES
DAPHNE_WEBSOCKET_MAX_FRAME_SIZE = CHAT_FRAME_MAX_BYTES
# Per socket: frames allowed at once, and refilled per second, before "rate_limited".
CHAT_FLOOD_BURST = env.int("CHAT_FLOOD_BURST", default=10)
CHAT_FLOOD_PER_SECOND = env.float("CHAT_FLOOD_PER_SECOND", default=1.0)
# Per client address, across every socket and server process (chat/address_limits.py):
# open sockets, then frames allowed at once and refilled per second; 0: no limit. A socket's
# count outlives a server that died by at most CHAT_ADDRESS_SOCKET_TTL_SECONDS.
CHAT_ADDRESS_MAX_SOCKETS = env.int("CHAT_ADDRESS_MAX_SOCKETS", default=100)
CHAT_ADDRESS_FLOOD_BURST = env.int("CHAT_ADDRESS_FLOOD_BURST", default=200)
CHAT_ADDRESS_FLOOD_PER_SECOND = env.float("CHAT_ADDRESS_FLOOD_PER_SECOND", default=50.0)
CHAT_ADDRESS_SOCKET_TTL_SECONDS = env.float("CHAT_ADDRESS_SOCKET_TTL_SECONDS", default=60.0)
# Most chat messages one process stores in one transaction (group commit, chat.intake).
CHAT_RECEIVE_BATCH_MAX = env.int("CHAT_RECEIVE_BATCH_MAX", default=64)
CHAT_VISITOR_MAX_AGE_SECONDS = env.int("CHAT_VISITOR_MAX_AGE_SECONDS", default=180 * 86_400)
# Deepest nesting of arrays and objects in JSON from outside (chat frames, API bodies).
JSON_MAX_DEPTH = env.int("JSON_MAX_DEPTH", default=64)

# ---------------------------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------------------------
# Each run of a periodic sweep or scan at INFO, as Celery logs it: for watching a schedule.
LOG_HOUSEKEEPING_TASKS = env.bool("LOG_HOUSEKEEPING_TASKS", default=False)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "filters": {"housekeeping": {"()": "botsite.logging_filters.HousekeepingTaskFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # The development server already prints each request and reload on its own.
        "django.channels.server": {"level": "WARNING"},
        "django.utils.autoreload": {"level": "WARNING"},
        # Beat's "sending", the worker's "received" and "succeeded" for periodic sweeps and
        # scans: at DEBUG (an idle worker and beat logged about 86,000 lines a day each).
        **{
            name: {"filters": [] if LOG_HOUSEKEEPING_TASKS else ["housekeeping"]}
            for name in ("celery.beat", "celery.worker.strategy", "celery.app.trace")
        },
    },
}
