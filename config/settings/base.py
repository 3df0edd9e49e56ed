"""Settings shared by every run mode. Configuration comes from environment variables only;
an unset variable means the embedded default (SQLite, filesystem broker, console providers)."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

from config.storage import file_storage

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("REGUA_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value in (None, "") else value


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (env(name, default) or "").split(",") if item.strip()]


# The embedded default; the production settings refuse to start with it.
DEVELOPMENT_SECRET_KEY = "insecure-development-key-change-me"
SECRET_KEY = env("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
PUBLIC_BASE_URL = (env("PUBLIC_BASE_URL", "http://127.0.0.1:8000") or "").rstrip("/")
# The team's shared folder beside the checkout: the demo seed's sample portfolio
# (data/accounts_receivable_ibm.csv) and the public specifications the tests read in place.
SHARED_DIR = Path(env("REGUA_SHARED_DIR", str(BASE_DIR.parent / "shared")))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "csp",
    "axes",
    "tenants",
    "messaging",
    "collections_app",
    "bench",
]

MIDDLEWARE = [
    "collections_app.body_limits.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tenants.middleware.TenantMiddleware",
    "tenants.idempotency.IdempotencyMiddleware",
    # With DEBUG on, the product's 404 page instead of Django's list of URL patterns.
    "config.error_pages.DebugNotFoundPageMiddleware",
    # Last, so that it sees the login's outcome and turns a lockout into the 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
# The bearer token that opens `/metrics` (Prometheus text format). Unset: the route is a 404.
METRICS_TOKEN = env("METRICS_TOKEN", "")
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
                "tenants.context_processors.current_tenant",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
# Embedded default: SQLite in WAL mode with IMMEDIATE transactions, so the web process and the
# Celery worker queue for the write lock (busy_timeout) instead of failing with
# "database is locked".
SQLITE_PATH = VAR_DIR / "regua.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{SQLITE_PATH}"), conn_max_age=60, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": (
            "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;"
            "PRAGMA busy_timeout=30000;PRAGMA foreign_keys=ON;"
        ),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "tenants.User"
# Run by every path that sets a password: tenants.services (create_tenant, the team page), the
# admin's password forms and manage.py createsuperuser / changepassword.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "tenants.login_throttle.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"

# --- Login throttling (django-axes, tenants/login_throttle.py) ----------------------------------
# LOGIN_FAILURE_LIMIT failed logins for one account from one address, or
# LOGIN_ADDRESS_FAILURE_LIMIT from one address over every account, lock that pair (that
# address) for LOGIN_LOCKOUT_MINUTES after the last failure; failures older than that are
# forgotten. Attempts are rows in the database (the axes tables), so every web process shares
# them, in the embedded mode too.
LOGIN_FAILURE_LIMIT = int(env("LOGIN_FAILURE_LIMIT", "5"))
LOGIN_ADDRESS_FAILURE_LIMIT = int(env("LOGIN_ADDRESS_FAILURE_LIMIT", "20"))
LOGIN_LOCKOUT_MINUTES = int(env("LOGIN_LOCKOUT_MINUTES", "15"))
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_HANDLER = "tenants.login_throttle.LoginThrottleHandler"
AXES_LOCKOUT_CALLABLE = "tenants.login_throttle.lockout_response"
AXES_CLIENT_IP_CALLABLE = "tenants.request_address.client_address"
AXES_USERNAME_FORM_FIELD = "username"
# A successful login does not clear the counts: it would let someone clear their address's
# count by logging in to an account of their own between guesses at others.
AXES_RESET_ON_SUCCESS = False
# Successful logins are not recorded (no table of everyone's addresses to keep and erase).
AXES_DISABLE_ACCESS_LOG = True
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# --- Content-Security-Policy (django-csp) ------------------------------------------------------
# Every page may run only the product's own script files and load only its own style sheets
# (static/, served from this origin): no inline <script>, no inline event handler, no
# <style> block, no eval. Style *attributes* are allowed (style-src-attr): a few pages position
# or size an element from data (a ladder's timeline markers, the dashboard's meters, the brand
# colour of the payment page), and an attribute can set CSS but never run code. Images may
# also come from https: (a tenant's logo) and data: URIs. No page may be framed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:", "https:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "pt-br"
LANGUAGES = [("pt-br", "Português (Brasil)"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "America/Sao_Paulo"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tenants.api_auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tenants.api_auth.HasTenantApiKey"],
    "DEFAULT_PAGINATION_CLASS": "collections_app.api.pagination.Pagination",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "collections_app.api.errors.ApiAutoSchema",
    "EXCEPTION_HANDLER": "collections_app.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # Requests per API key (tenants.api_auth.ApiKeyRateThrottle); over it, 429 with Retry-After.
    "DEFAULT_THROTTLE_CLASSES": ["tenants.api_auth.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env("API_RATE", "600/min")},
}
# An Idempotency-Key whose request is still running answers 409 to a retry; one left running
# for longer than this (its process died mid-request) is taken over by the next retry. Longer
# than the longest API request (the bulk endpoints stay well under a minute).
IDEMPOTENCY_RUNNING_LEASE_SECONDS = int(env("IDEMPOTENCY_RUNNING_LEASE_SECONDS", "120"))
SPECTACULAR_SETTINGS = {
    "TITLE": "Régua API",
    "DESCRIPTION": "Invoices in, reminders out, payments back. Authenticate with "
    "`Authorization: Api-Key <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {
        "ChannelEnum": "messaging.models.Channel",
        "WebhookEventEnum": "collections_app.models.WebhookEvent",
        "WebhookDeliveryEventEnum": "collections_app.api.webhooks.DELIVERY_EVENTS",
    },
    # Requests and answers as separate components: read-only fields are not asked for, and a
    # field written one way and shown another (an invoice's customer) can say so.
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Enums as components (drf-spectacular's default), then Idempotency-Key on every POST.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "collections_app.api.errors.idempotency_hook",
    ],
}

# --- Celery -----------------------------------------------------------------------------------
# Embedded default: kombu's filesystem transport, which needs no server. Set REDIS_URL (or
# CELERY_BROKER_URL) for the production shape.
BROKER_DIR = VAR_DIR / "broker"
REDIS_URL = env("REDIS_URL", "")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL or "filesystem://localhost//")
# The cache holds only short-lived counters (the payment page's rate limits): shared through
# Redis when there is one, else in the process (the embedded mode's single web process).
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    ),
    # Import jobs' live progress, written by the worker while its transaction is open (so not
    # in the database) and read by the web process: Redis, else files the two processes share.
    "progress": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "progress"),
        }
    ),
}
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # How a dead worker's tasks come back (Redis; RabbitMQ redelivers when the connection
    # drops). A task acknowledged late stays in Redis's "unacked" set while a worker holds it;
    # if that worker dies, a live worker's sweep (every `unacked_restore_interval` seconds)
    # puts it back on the queue once it has been held for `visibility_timeout`. So the timeout
    # must exceed the longest a live worker holds a late-acknowledged task, else a task still
    # running is delivered again. The send tasks (messaging.tasks) are the ones that matter:
    # a send batch is held at most SEND_HOLD_MAX_SECONDS (a short rate-limit wait: longer waits
    # stay in the database, never in a worker) plus its hard limit, SEND_TIME_LIMIT =
    # ceil(SEND_BATCH / MESSAGING_SEND_CONCURRENCY) rounds × (connect + read of
    # PROVIDER_TIMEOUT_SECONDS) + 2 × SEND_BATCH_OVERHEAD_SECONDS = 4 × 30 + 60 = 180 s by
    # default: 60 + 180 = 240 s < 300 s (tests/config/test_task_time_limits.py checks it).
    # With a sweep every 10 s, a killed worker's send tasks are back within about 5 minutes;
    # the messages themselves are queued again sooner, within 2 minutes, by the due tick
    # (messaging/upkeep.py, SEND_STALE_AFTER_SECONDS). Longer tasks that are acknowledged late
    # (an import) are delivered again while they run and find their job taken (the claim).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": int(env("CELERY_VISIBILITY_TIMEOUT", "300")),
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
    }
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", "celery")
CELERY_TASK_IGNORE_RESULT = True
# Late acknowledgement only where a task says so (the sends, the webhook deliveries, the
# imports: each claims its work, so a second delivery does nothing). The others (beat's ticks,
# the daily evaluation, the fan-out, the upkeeps) are acknowledged on receipt: one lost with
# its worker is queued again by the next tick, and none is held past the visibility timeout.
CELERY_TASK_ACKS_LATE = False
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One task reserved per pool slot: a worker holds no batch it is not running, so a killed
# worker strands no backlog of prefetched sends (with late acks, each waits for the
# visibility timeout) and a slow batch does not keep others from the idle workers.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "ladders-tick": {
        "task": "collections_app.tasks.ladders_tick",
        "schedule": float(env("LADDER_TICK_SECONDS", "300")),
    },
    # Queues the sends now due (a send window that opened, a retry's backoff over) and the
    # ones whose task was lost: no send waits in a worker for longer than a short hold.
    "messages-due": {
        "task": "messaging.tasks.messages_send_due",
        "schedule": float(env("MESSAGES_DUE_TICK_SECONDS", "60")),
    },
    # Settles the sends a dead worker left in `sending` (and queues lost ones too) as soon as
    # they count as stuck, not at the next ladders tick only.
    "messages-upkeep": {
        "task": "messaging.tasks.messages_upkeep",
        "schedule": float(env("MESSAGES_DUE_TICK_SECONDS", "60")),
    },
}
# The send path's timing (messaging.tasks, messaging.upkeep): what a batch may spend besides
# waiting on the provider (rendering, queries), and how long a queued message may wait for its
# task before the due tick takes that task for lost and queues it again.
SEND_BATCH_OVERHEAD_SECONDS = int(env("SEND_BATCH_OVERHEAD_SECONDS", "30"))
SEND_STALE_AFTER_SECONDS = int(env("SEND_STALE_AFTER_SECONDS", "60"))
# A transient provider error's first retry comes after about this many seconds, each next one
# after twice as long (at most an hour), six retries in all.
SEND_RETRY_BASE_SECONDS = float(env("SEND_RETRY_BASE_SECONDS", "30"))

# --- Messaging --------------------------------------------------------------------------------
# Provider defaults for tenants without their own accounts. "console" writes every message to
# the log and to the outbox file, so nothing leaves the machine.
MESSAGING_DEFAULT_PROVIDERS = {
    "email": env("EMAIL_PROVIDER", "console"),
    "sms": env("SMS_PROVIDER", "console"),
    "whatsapp": env("WHATSAPP_PROVIDER", "console"),
}
# Uploaded files (debtors' payment proofs, import files). Private: served only to the tenant's
# users, through the app. STORAGE_BACKEND=filesystem (the default) keeps them under MEDIA_ROOT;
# s3 in a bucket of S3-compatible object storage that several machines share (config/storage.py).
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGE_BACKEND = env("STORAGE_BACKEND", "filesystem")
STORAGES = {
    "default": file_storage(
        backend=STORAGE_BACKEND,
        bucket=env("S3_BUCKET", ""),
        endpoint_url=env("S3_ENDPOINT_URL", ""),
        access_key_id=env("S3_ACCESS_KEY_ID", ""),
        secret_access_key=env("S3_SECRET_ACCESS_KEY", ""),
        region=env("S3_REGION", ""),
    ),
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PAYMENT_PROOF_MAX_BYTES = 5 * 1024 * 1024
# How many reverse proxies (load balancer, nginx…) stand in front of the web process: the
# payment page's per-address limits then read the visitor's address from X-Forwarded-For.
TRUSTED_PROXY_COUNT = int(env("TRUSTED_PROXY_COUNT", "0"))
MESSAGING_OUTBOX_PATH = Path(env("MESSAGING_OUTBOX_PATH", str(VAR_DIR / "outbox.jsonl")))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "cobranca@regua.local")
# Platform accounts (used when a tenant has none of its own for the channel).
SENDGRID_API_KEY = env("SENDGRID_API_KEY", "")
SENDGRID_WEBHOOK_PUBLIC_KEY = env("SENDGRID_WEBHOOK_PUBLIC_KEY", "")
# How old (seconds) a signed SendGrid event batch may be: older ones are refused as replays.
SENDGRID_WEBHOOK_MAX_AGE = int(env("SENDGRID_WEBHOOK_MAX_AGE", "300"))
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", "")
TWILIO_SMS_FROM = env("TWILIO_SMS_FROM", "")
TWILIO_WHATSAPP_FROM = env("TWILIO_WHATSAPP_FROM", "")
EMAIL_HOST = env("EMAIL_HOST", "")
EMAIL_PORT = int(env("EMAIL_PORT", "587"))
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_SECURITY = env("EMAIL_SECURITY", "starttls")
# Régua's own e-mails to its users (team invitations, password resets) go through Django's
# e-mail backend: the SMTP server above when EMAIL_HOST is set, else the console (the web
# process's output), so nothing leaves the machine in embedded mode.
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_USE_TLS = EMAIL_SECURITY == "starttls"
EMAIL_USE_SSL = EMAIL_SECURITY == "ssl"
EMAIL_TIMEOUT = 15
# Provider API endpoints: the real ones unless set (tests point them at loopback fakes).
TWILIO_API_BASE = env("TWILIO_API_BASE", "")
SENDGRID_API_HOST = env("SENDGRID_API_HOST", "https://api.sendgrid.com")
PROVIDER_TIMEOUT_SECONDS = float(env("PROVIDER_TIMEOUT_SECONDS", "15"))
# Reconciling a send whose outcome is unknown (messaging/upkeep.py): how long after the claim
# Twilio's message list is complete enough for "not there" to mean "never received". (SendGrid's
# events have no such delay: their silence never means "never received".)
TWILIO_LISTING_DELAY_SECONDS = int(env("TWILIO_LISTING_DELAY_SECONDS", "120"))
# Provider calls in flight at once per worker process: a send batch waits on the provider's
# answers together, not one after the other.
MESSAGING_SEND_CONCURRENCY = int(env("MESSAGING_SEND_CONCURRENCY", "32"))
# Send rate limits (messaging/ratelimit.py): sends per second per tenant, and per provider
# account by provider kind. Shared through Redis when REDIS_URL is set.
MESSAGING_RATE_LIMITS = env("MESSAGING_RATE_LIMITS", "true").lower() in ("1", "true", "yes")
MESSAGING_TENANT_RATE = float(env("MESSAGING_TENANT_RATE", "20"))
MESSAGING_PROVIDER_RATES = {
    "sendgrid": float(env("SENDGRID_RATE", "100")),
    "smtp": float(env("SMTP_RATE", "10")),
    "twilio_sms": float(env("TWILIO_SMS_RATE", "30")),
    "twilio_whatsapp": float(env("TWILIO_WHATSAPP_RATE", "30")),
}
FIELD_ENCRYPTION_KEY = env("FIELD_ENCRYPTION_KEY", "")
# Outbound webhooks to URLs on private, loopback or link-local addresses are refused unless
# this is true (development against a local receiver).
WEBHOOKS_ALLOW_PRIVATE = env_bool("WEBHOOKS_ALLOW_PRIVATE", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        # The twilio SDK logs every request and response, headers included, at INFO.
        "twilio.http_client": {"level": "WARNING"},
        # axes logs every login at INFO; its warnings (failures, lockouts) stay.
        "axes": {"level": "WARNING"},
    },
}
