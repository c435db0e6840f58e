"""One env-driven settings module.

With no environment at all it runs embedded: SQLite next to the code, Celery eager, local-memory
cache. With ``DATABASE_URL`` and ``REDIS_URL`` it runs on PostgreSQL with Redis as broker and cache.
Outside debug mode it refuses to start without a secret key and allowed hosts.
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DJANGO_DEBUG", default=True)

_DEV_SECRET = "insecure-dev-only-secret-key-do-not-use-in-production"
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
if not DEBUG:
    # Production must be configured explicitly: never fall back to a known key or to any host.
    missing = [
        name
        for name, value in (("DJANGO_SECRET_KEY", SECRET_KEY), ("DJANGO_ALLOWED_HOSTS", ALLOWED_HOSTS))
        if not value
    ]
    if missing:
        raise ImproperlyConfigured(
            f"DJANGO_DEBUG is off, so these must be set: {', '.join(missing)} (see .env.example)"
        )
else:
    SECRET_KEY = SECRET_KEY or _DEV_SECRET
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["127.0.0.1", "localhost", "[::1]", "testserver"]

CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_countries",
    "django_celery_beat",
    "django_prometheus",
    "axes",
    "csp",
    "revops",
    "accounts",
    "scoring",
    "campaigns",
    "plans",
    "playbooks",
    "desk",
    "imports",
    "demo",
]

MIDDLEWARE = [
    # Counts and times every request (django-prometheus), with its pair just before axes.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # /healthz, /readyz and /metrics, before the host check, the HTTPS redirect and sign-in (config/ops.py).
    "config.ops.OpsEndpointsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "revops.middleware.RequestIdMiddleware",
    # A log line per request, with the request id above and the user authentication sets (revops/logs.py).
    "revops.logs.RequestLogMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page (revops.loginlock).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "revops.context_processors.navigation",
                "scoring.context_processors.notifications",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
SQLITE_PATH = env.str("SQLITE_PATH", default=str(BASE_DIR / "db.sqlite3"))
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{SQLITE_PATH}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets the web UI read while an import or the seeder writes; IMMEDIATE avoids
            # "database is locked" on lock upgrades inside transactions.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # No JIT compilation: this app's queries are scans and joins of a second or less, for which
    # PostgreSQL's JIT spent 50–130 ms a query compiling; a learned rescore's feature reads at 100,000
    # accounts, on and off interleaved, took 4 % less database CPU without it (docs/benchmarks.md).
    # DATABASE_URL's own ``?options=-c jit=on`` comes after this one and wins.
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = f"-c jit=off {_options.get('options', '')}".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker and cache ---------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# Test processes side by side (pytest -n N: pytest-xdist names them gw0, gw1, … in PYTEST_XDIST_WORKER)
# each take their own Redis database, REDIS_URL's number plus theirs: cache, broker queues and results
# apart, as their test databases are. The Celery workers a test starts inherit the variable, so they
# share their test process's database.
_TEST_PROCESS = env.str("PYTEST_XDIST_WORKER", default="")
if REDIS_URL and _TEST_PROCESS.startswith("gw"):
    _redis = urlsplit(REDIS_URL)
    _redis_db = int(_redis.path.strip("/") or 0) + int(_TEST_PROCESS.removeprefix("gw"))
    REDIS_URL = urlunsplit(_redis._replace(path=f"/{_redis_db}"))
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or "cache+memory://")
# Without a broker everything runs in-process: the embedded mode needs no worker.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
# Eager tasks started from a page run in a background thread of the web process (revops.background);
# true runs them in the request itself (tests).
JOBS_RUN_INLINE = env.bool("JOBS_RUN_INLINE", default=False)
# A pending or running job untouched this long is abandoned when the same work is asked for again.
JOBS_ABANDONED_MINUTES = env.int("JOBS_ABANDONED_MINUTES", default=120)
# A full-rescore chunk beats every N seconds while it runs; one silent for M seconds lost its worker and
# is sent again by the resume sweep (beat, every minute). See docs/architecture.md, "Long jobs".
SCORING_CHUNK_HEARTBEAT_SECONDS = env.float("SCORING_CHUNK_HEARTBEAT_SECONDS", default=15)
SCORING_CHUNK_STALE_SECONDS = env.float("SCORING_CHUNK_STALE_SECONDS", default=60)
# Figures over millions of rows (persona engagement …) are kept this long for the pages that show them,
# "as of" when computed, and forgotten after every full rescore (scoring.metrics.figure_kept); 0: never.
METRICS_KEEP_SECONDS = env.int("METRICS_KEEP_SECONDS", default=600)
# A failing outbox row is retried after 30 s, 1, 2, 4 minutes, then parked (scoring.rescore.outbox_drain).
SCORING_OUTBOX_ATTEMPTS = env.int("SCORING_OUTBOX_ATTEMPTS", default=5)
SCORING_OUTBOX_BACKOFF_SECONDS = env.int("SCORING_OUTBOX_BACKOFF_SECONDS", default=30)
CELERY_TASK_ACKS_LATE = True
# The worker logs through LOGGING below (JSON in production), not through a format of its own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# A message a worker has taken but not acknowledged (tasks ack late: when they finish) goes back to the
# Redis queue after this many seconds, so the chunk a killed worker was running runs again. It must
# exceed the longest task, or a task still running is delivered a second time.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
# `celery beat` reads its schedule from the database, editable in Django admin ("Periodic tasks").
# The default entries are rows created once by the migration scoring/0008_beat_schedule. Nothing goes
# here: DatabaseScheduler writes every entry of this setting over its row each time beat starts,
# which would undo edits made in admin.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE: dict = {}
# Scores of contacts touched by events or edits are refreshed by a task within about a second.
SCORING_INCREMENTAL = env.bool("SCORING_INCREMENTAL", default=True)
# Without a broker that task runs in a thread of the web process, this long after the first request
# that asks for it (the requests of that moment share one run); true runs it in the request (tests).
SCORING_DRAIN_DEBOUNCE_SECONDS = env.float("SCORING_DRAIN_DEBOUNCE_SECONDS", default=0.3)
SCORING_DRAIN_INLINE = env.bool("SCORING_DRAIN_INLINE", default=False)
# Every backtest refits the champion without each group of features (what each earns: a few more fits).
SCORING_FEATURE_ABLATION = env.bool("SCORING_FEATURE_ABLATION", default=True)
# Below this many accounts the in-market model learns from snapshots twice a month instead of once.
SCORING_SEMI_MONTHLY_BELOW = env.int("SCORING_SEMI_MONTHLY_BELOW", default=25_000)
# Webhooks go to public addresses only: a URL on loopback, a private or link-local network (cloud
# metadata services live there) is refused, so that an endpoint cannot probe the server's own network.
# A deployment whose receivers are internal turns this on.
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env.bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", default=False)

# Campaign measurement: an opportunity is "influenced" by a campaign that touched its account in the N
# days before it opened (campaigns/measurement.py).
CAMPAIGN_INFLUENCE_DAYS = env.int("CAMPAIGN_INFLUENCE_DAYS", default=90)
# Playbooks: stage entries older than this (a backfill of history) start no plays; an account that comes
# back to a stage within this many days of a play's run has that run resumed rather than a second one.
PLAYBOOK_MAX_AGE_DAYS = env.int("PLAYBOOK_MAX_AGE_DAYS", default=14)
PLAYBOOK_REENTRY_DAYS = env.int("PLAYBOOK_REENTRY_DAYS", default=30)

# --- Auth -----------------------------------------------------------------------------------
LOGIN_URL = "/login/"  # not /accounts/login/: /accounts/ belongs to the accounts app
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"
# Sign-in lockouts (revops/loginlock.py): axes checks every sign-in before the password is tried.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_FAILURES_PER_ACCOUNT = env.int("LOGIN_FAILURES_PER_ACCOUNT", default=10)
LOGIN_FAILURES_PER_ADDRESS = env.int("LOGIN_FAILURES_PER_ADDRESS", default=30)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=15)
AXES_HANDLER = "revops.loginlock.LoginLockHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own: per account and per address
AXES_FAILURE_LIMIT = LOGIN_FAILURES_PER_ACCOUNT  # the address's limit is scaled to it by the handler
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "revops.loginlock.lockout_response"
AXES_CLIENT_IP_CALLABLE = "revops.clientip.client_ip"
AXES_DISABLE_ACCESS_LOG = True  # failures are kept; a row per successful sign-in would grow forever
# The client address: the socket's peer, unless a trusted reverse proxy's header is named (see
# revops/clientip.py). Never set the header without a proxy that overwrites it: clients could forge it.
CLIENT_IP_HEADER = env.str("DJANGO_CLIENT_IP_HEADER", default="")
TRUSTED_PROXY_COUNT = env.int("DJANGO_TRUSTED_PROXY_COUNT", default=1)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# --- I18n / time ----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# One date format everywhere (issue 17): "6 Dec 2026 04:42", in config/formats/en/formats.py, which
# Django's own en formats ("Dec. 6, 2026, 4:42 a.m.") would otherwise override.
FORMAT_MODULE_PATH = ["config.formats"]

# --- Static and uploaded files ---------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = DEBUG  # serve straight from static/ in the embedded mode
STATIC_ROOT = env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
MEDIA_ROOT = env.str("DJANGO_MEDIA_ROOT", default=str(BASE_DIR / "media"))
MEDIA_URL = "media/"
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024  # a batch of 1,000 rich events fits easily

if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_CONTENT_TYPE_NOSNIFF = True

# --- HTTPS and security headers ------------------------------------------------------------------
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients' requests):
# DJANGO_SECURE_SSL=true redirects plain HTTP to HTTPS and sends HSTS. `manage.py check --deploy` is
# clean in that mode (tests/revops/test_security_headers.py).
if env.bool("DJANGO_SECURE_SSL", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31_536_000)  # one year
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
    # Preloading binds the whole registered domain in browsers for good: the domain owner's decision,
    # so off unless asked for (and the check that asks about it silenced while off).
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Content-Security-Policy (django-csp): the pages run only this site's own files — scripts are vendored
# under static/ and there are no inline scripts or handlers (static/js/revops.js). Inline style
# *attributes* are allowed (progress bars set their width, the charts size themselves), inline <style>
# elements are not. The API docs pages widen it for themselves (config/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "revops.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["revops.permissions.RolePermission"],
    # Unknown query parameters, orderings and out-of-range numbers are 400s (revops/api/filters.py).
    "DEFAULT_FILTER_BACKENDS": [
        "revops.api.filters.ApiFilterBackend",
        "revops.api.filters.StrictOrderingFilter",
    ],
    # JSON bounded in size and depth, without NaN or NUL characters (revops/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "revops.api.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "revops.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "revops.api.exceptions.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_THROTTLE_CLASSES": ["revops.api.throttles.ScopedRateThrottle"],
}

# API rates (revops/api/throttles.py), "N/second|minute|hour|day"; empty turns one off. Counted per
# token (or signed-in user; per address when anonymous) and scope: reads, writes, event ingestion,
# job starts. A bad token counts against its address. Over the rate: 429 with Retry-After.
API_THROTTLE_RATES = {
    scope: env.str(f"API_THROTTLE_{scope.upper()}", default=default) or None
    for scope, default in {
        "read": "1200/min",
        "write": "300/min",
        "ingest": "600/min",
        "jobs": "20/hour",
        "anon": "120/min",
        "bad_token": "20/min",
    }.items()
}
# Throttle counters live in the cache under this prefix (tests give each test its own).
API_THROTTLE_CACHE_PREFIX = "throttle"

SPECTACULAR_SETTINGS = {
    "TITLE": "RevOps API",
    "DESCRIPTION": "Accounts, contacts, personas, opportunities, campaigns and bulk event ingestion. "
    "Authenticate with `Authorization: Token <key>` (scoped API tokens) or a browser session.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "revops.api.schema.add_error_responses",
    ],
    # Several models have a field called "stage"/"status"/"event_type": name their enums once.
    "ENUM_NAME_OVERRIDES": {
        "LifecycleStageEnum": "accounts.choices.LifecycleStage",
        "EventTypeEnum": "accounts.choices.EventType",
        "VersionStatusEnum": "revops.choices.VersionStatus",
        "OpportunityStageEnum": "accounts.choices.OpportunityStage",
        "DeliveryStatusEnum": "scoring.choices.DeliveryStatus",
        "JobStatusEnum": "revops.choices.JobStatus",
        "BuyingStageEnum": "scoring.choices.BuyingStage",
        "BandEnum": "scoring.choices.Band",
        "QualifyingBandEnum": [("high", "High"), ("medium", "Medium or high")],
        "ScoringModelKindEnum": "scoring.choices.ScoringModelKind",
        "ScoringModelStatusEnum": "scoring.choices.ScoringModelStatus",
        "LifecycleDecisionEnum": "scoring.choices.LifecycleDecision",
        "LifecycleReasonEnum": "scoring.choices.LifecycleReason",
        "RejectReasonEnum": "scoring.choices.REJECT_REASON_CHOICES",
        "RecycleReasonEnum": "scoring.choices.RECYCLE_REASON_CHOICES",
        "TeamKindEnum": "revops.choices.TeamKind",
        "PlayKindEnum": "playbooks.choices.PlayKind",
        "PeriodKindEnum": "plans.choices.PeriodKind",
        "StopConditionEnum": "playbooks.choices.StopCondition",
        "PlayRunStatusEnum": "playbooks.choices.RunStatus",
        "PlayTaskStatusEnum": "playbooks.choices.TaskStatus",
    },
}

# --- The operator's view: logs, /healthz, /readyz, /metrics (README "Operating it") ----------------------
# One line per request (revops.request) and per Celery task (revops.task): JSON objects in production,
# words in development. LOG_FORMAT=json|text chooses either way.
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "revops.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="WARNING")},
    "loggers": {
        name: {"level": env.str("DJANGO_REQUEST_LOG_LEVEL", default="INFO")}
        for name in ("revops.request", "revops.task")
    },
}
# /readyz fails past this many outbox rows waiting, or an oldest row older than this (0: never).
HEALTH_OUTBOX_MAX_PENDING = env.int("HEALTH_OUTBOX_MAX_PENDING", default=100_000)
HEALTH_OUTBOX_MAX_AGE_SECONDS = env.int("HEALTH_OUTBOX_MAX_AGE_SECONDS", default=1800)
# With a broker, each worker writes a heartbeat this often; /readyz fails when none is this old.
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=15)
HEALTH_WORKER_STALE_SECONDS = env.float("HEALTH_WORKER_STALE_SECONDS", default=60)
# /metrics answers a bearer token equal to METRICS_TOKEN, or these addresses or networks (CIDR); with
# neither, nobody in production. Development: this machine.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"] if DEBUG else [])

# --- Product settings -----------------------------------------------------------------------
EVENTS_BATCH_MAX = 1000
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=2_000_000)
