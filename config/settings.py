"""Settings, read from environment variables, with embedded defaults for a laptop.

Every variable is listed in the README. Without any, the service runs in development mode on a
SQLite file and a file-system Celery broker under ``var/``; production sets ``DJANGO_SECRET_KEY``,
``DJANGO_ALLOWED_HOSTS``, ``DATABASE_URL`` (PostgreSQL) and ``CELERY_BROKER_URL`` (Redis).
"""

import base64
import hashlib
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    """Read a yes/no environment variable."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    """Read a comma-separated environment variable."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG")
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off (see README, Configuration)."
        )
    SECRET_KEY = "development-only-insecure-key-do-not-use-in-production-0123456789"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "config.apps.ScreeningAdminConfig",  # django.contrib.admin, scoped to sites
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "phonenumber_field",
    "csp",
    "questionnaires",
    "screening",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.RejectUnstorableTextMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# --- Database ------------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
# Persistent connections, checked before each request reuses one: a connection PostgreSQL dropped
# (restart, pg_terminate_backend, a failover) is replaced instead of failing the request.
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: wait for a lock instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# The languages of the subject's pages (the page's own words; instruments carry their own
# translations). The translations live in screening/locale/.
LANGUAGES = [("en", "English"), ("af", "Afrikaans")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Phone numbers (django-phonenumber-field): international form in, E.164 stored and shown; no
# default region, so a number without its country code is refused (screening/phones.py).
PHONENUMBER_DEFAULT_REGION = None
PHONENUMBER_DEFAULT_FORMAT = "E164"

# --- Sessions: staff sign in to the clinician desk; subjects' phones keep a long session ---------
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(8 * 3600)))  # staff: 8 h
SESSION_SAVE_EVERY_REQUEST = False
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# A subject's page session lasts as long as a phone token (until revoked), within this bound.
SUBJECT_SESSION_SECONDS = 180 * 24 * 3600
LOGIN_URL = "desk-login"
LOGIN_REDIRECT_URL = "desk-alerts"
LOGOUT_REDIRECT_URL = "desk-login"

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Security (production unless DJANGO_DEBUG) ---------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): scripts and styles from this origin only (no inline script,
# no inline style), never framed. The API docs page (Swagger UI) starts itself with an inline
# script, so it alone is left out.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/api/docs/"],
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]  # probes speak plain HTTP
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
    if env_bool("DJANGO_BEHIND_TLS_PROXY"):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Keys that encrypt contact details at rest (Fernet, comma-separated, the first encrypts, all
# decrypt, so a key can be rotated). Derived from the secret key when not given.
# ``manage.py check --deploy`` warns (screening.W001) when they are derived.
FIELD_ENCRYPTION_KEYS_DERIVED = not env_list("FIELD_ENCRYPTION_KEYS")
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS") or [
    base64.urlsafe_b64encode(
        hashlib.sha256(f"field-encryption:{SECRET_KEY}".encode()).digest()
    ).decode()
]

# --- REST API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["screening.authentication.BearerTokenAuthentication"],
    # Deny by default: only staff tokens; the subject's `/me/` endpoints opt in with IsSubject.
    "DEFAULT_PERMISSION_CLASSES": ["screening.permissions.IsStaffUser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "config.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_RATES": {
        "staff_login": os.environ.get("STAFF_LOGIN_RATE", "10/min"),
        "activation": os.environ.get("ACTIVATION_RATE", "10/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Behind N reverse proxies, rate limits identify clients by X-Forwarded-For's Nth last entry.
    # 0 (no proxy) uses REMOTE_ADDR: DRF's None would trust the whole client-written header, so
    # a forged X-Forwarded-For would give each attempt a fresh rate-limit counter.
    "NUM_PROXIES": int(os.environ.get("DJANGO_NUM_PROXIES") or "0"),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Cycloserine neurotoxicity screening API",
    "DESCRIPTION": (
        "Scheduled PHQ-9, GAD-7 and neuropathy screening of patients on cycloserine, scoring, "
        "Cmax results and clinician alerts. Authenticate with `Authorization: Bearer <token>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The contract is public: anyone may read the schema and the docs.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Several models have a field named "status": name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "AlertStatusEnum": "notifications.models.Alert.Status",
        "DeliveryStatusEnum": "notifications.models.Delivery.Status",
        "AssessmentStatusEnum": "screening.models.Assessment.Status",
        "SubjectStatusEnum": "screening.models.Subject.Status",
        "ChannelKindEnum": "notifications.models.Channel.Kind",
        "InstrumentKindEnum": ["self_report", "clinician"],
    },
}

# A staff bearer token expires this many hours after sign-in (a subject's phone token does not:
# it is revoked by logout, by staff, or by withdrawal).
STAFF_TOKEN_TTL_HOURS = int(os.environ.get("STAFF_TOKEN_TTL_HOURS", "24"))

# Failed staff sign-ins per account (username) within the window before it is locked until the
# window ends (screening.services.staff_login); the user and the admins are emailed.
STAFF_LOGIN_MAX_FAILURES = int(os.environ.get("STAFF_LOGIN_MAX_FAILURES", "10"))
STAFF_LOGIN_LOCKOUT_SECONDS = int(os.environ.get("STAFF_LOGIN_LOCKOUT_SECONDS", "900"))

# --- Subject activation ---------------------------------------------------------------------------
# A one-time activation code expires this many hours after staff issue it.
ACTIVATION_CODE_TTL_HOURS = int(os.environ.get("ACTIVATION_CODE_TTL_HOURS", "72"))
# Failed activations tolerated per client address, and per code (issued or invented; never per
# subject, so a new code works), within the window; beyond them the endpoint answers 429 until
# the window ends.
ACTIVATION_MAX_FAILURES = int(os.environ.get("ACTIVATION_MAX_FAILURES", "5"))
ACTIVATION_FAILURE_WINDOW_SECONDS = int(os.environ.get("ACTIVATION_FAILURE_WINDOW_SECONDS", "900"))
# Shown after a PHQ-9 item 9 answer >= 1 when the subject's site has no crisis message of its own.
DEFAULT_CRISIS_MESSAGE = os.environ.get(
    "DEFAULT_CRISIS_MESSAGE",
    "If you are thinking about hurting yourself, please contact your clinic today, or your local "
    "emergency number now.",
)

# --- Cache (throttling, rate limits) -------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        # Redis, failing over to the database cache table while Redis is unreachable (rate
        # limits stay enforced, sign-in keeps working): see config/cache.py.
        "default": {"BACKEND": "config.cache.FailoverCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "cache_entries",
        }
    }

# --- Celery --------------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://"
CELERY_TASK_TIME_LIMIT = 300  # seconds; no task may run longer
CELERY_TASK_SOFT_TIME_LIMIT = 240
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(VAR_DIR / "broker-control"),
        "store_processed": False,
    }
    for _folder in (_broker_dir, VAR_DIR / "broker-control"):
        _folder.mkdir(parents=True, exist_ok=True)
else:
    # An unacknowledged message returns to the queue after this long: it must exceed the time
    # limit of any task, or a slow task would run twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        # A request that sends a task after commit must not hang on an unreachable broker: the
        # outbox row is already committed and the sweep sends it later.
        "socket_connect_timeout": 3,
        "socket_timeout": 5,
    }
# Give up publishing quickly (the rows are the truth; sweeps re-send what was not sent):
# config.tasks publishes with retry=False, so a send is bounded by the connect and socket
# timeouts above (a hung broker: socket_timeout; an unreachable one: the connect timeout).
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True  # results live in database rows, not in a result backend
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Email ---------------------------------------------------------------------------------------
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_TIMEOUT = 20
# Without an SMTP server (development), every email is written as a readable message file under
# var/mail/ (Django's file backend), never into the worker's JSON log.
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.filebased.EmailBackend"
)
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "screening@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Alert deliveries (notifications.delivery) ---------------------------------------------------
# SMS: "console" logs that a message would be sent (development); "http" POSTs {"to", "text"} with
# a bearer token to SMS_GATEWAY_URL.
SMS_BACKEND = os.environ.get("SMS_BACKEND", "console")
if SMS_BACKEND not in {"console", "http"}:
    raise ImproperlyConfigured('SMS_BACKEND must be "console" or "http".')
SMS_GATEWAY_URL = os.environ.get("SMS_GATEWAY_URL", "")
SMS_GATEWAY_TOKEN = os.environ.get("SMS_GATEWAY_TOKEN", "")
if SMS_BACKEND == "http" and not SMS_GATEWAY_URL:
    raise ImproperlyConfigured("SMS_BACKEND=http needs SMS_GATEWAY_URL.")
WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10"))
# Attempts per delivery before it is marked failed (the channel is not marked broken for that).
DELIVERY_MAX_ATTEMPTS = int(os.environ.get("DELIVERY_MAX_ATTEMPTS", "8"))
# A delivery still failing after this many attempts or this many seconds, whichever comes first,
# is also planned on the recipient's other channels (it keeps retrying). With the defaults (30 s
# backoff: attempts at 0, 30 s, 90 s) failover happens within about 2-3 minutes, well before the
# 30-minute urgent escalation.
DELIVERY_FAILOVER_ATTEMPTS = int(os.environ.get("DELIVERY_FAILOVER_ATTEMPTS", "3"))
DELIVERY_FAILOVER_SECONDS = int(os.environ.get("DELIVERY_FAILOVER_SECONDS", "300"))
# A delivery in "sending" for longer than this is presumed lost with its worker and is sent again.
# It must exceed the task time limit, or a slow but live send could be doubled.
DELIVERY_LEASE_SECONDS = int(os.environ.get("DELIVERY_LEASE_SECONDS", "600"))
if DELIVERY_LEASE_SECONDS <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured("DELIVERY_LEASE_SECONDS must exceed the task time limit (300 s).")
# First retry delay of a delivery; it doubles on each attempt, up to 10 minutes.
DELIVERY_RETRY_BACKOFF_SECONDS = int(os.environ.get("DELIVERY_RETRY_BACKOFF_SECONDS", "30"))
# Where staff open the service; alert messages link to the alert when set.
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "").rstrip("/")

# --- Logging: one JSON object a line on stdout; study ids only, never names or contacts ----------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": LOG_LEVEL},
    },
}
