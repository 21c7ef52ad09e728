"""Django settings for crmhub, read from the environment (see README "Configuration").

Every ``CRMHUB_*`` variable is read here and only here. Reading these settings writes
nothing but the generated secrets of embedded mode; the folders that processes write into
are made at start-up (``crmhub.core.apps``). The tests' changes are in ``settings_test``.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

from crmhub.core import env as envmod
from crmhub.core import queues

ENV = os.environ
BASE_DIR = Path(__file__).resolve().parent.parent
# The data folder (CRMHUB_VAR_DIR): databases, the embedded broker, beat's schedule, secrets.
VAR_DIR = Path(ENV.get("CRMHUB_VAR_DIR", BASE_DIR / "var")).resolve()

CRMHUB_MODE = envmod.read_mode(ENV)
PRODUCTION = CRMHUB_MODE == "production"

SECRET_KEY = envmod.read_secret_key(ENV, mode=CRMHUB_MODE, var_dir=VAR_DIR)
CRMHUB_FIELD_KEYS = envmod.read_field_keys(ENV, mode=CRMHUB_MODE, var_dir=VAR_DIR)
DEBUG = envmod.read_bool(ENV, "DEBUG", default=False)
ALLOWED_HOSTS = envmod.read_list(
    ENV, "ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"]
)
CSRF_TRUSTED_ORIGINS = envmod.read_list(ENV, "CSRF_TRUSTED_ORIGINS", default=[])
# The built-in sandbox CRMs: on by default in embedded mode, off in production.
CRMHUB_SANDBOX = envmod.read_bool(ENV, "CRMHUB_SANDBOX", default=not PRODUCTION)
# The processes of ``scripts/run``: the Procfile reads CRMHUB_HOST, CRMHUB_PORT and the pool
# sizes itself (with these defaults); the web process takes its threads from here. One pool
# per queue (``crmhub.core.queues``): acts, plans that may prompt, syncs; housekeeping has
# one process of its own.
CRMHUB_HOST = ENV.get("CRMHUB_HOST", "127.0.0.1")
CRMHUB_PORT = int(ENV.get("CRMHUB_PORT", "8000"))
CRMHUB_WORKERS = int(ENV.get("CRMHUB_WORKERS", "2"))
CRMHUB_PROMPT_WORKERS = int(ENV.get("CRMHUB_PROMPT_WORKERS", "2"))
CRMHUB_SYNC_WORKERS = int(ENV.get("CRMHUB_SYNC_WORKERS", "1"))
CRMHUB_WEB_PROCESSES = int(ENV.get("CRMHUB_WEB_PROCESSES", "2"))
CRMHUB_SANDBOX_PORT = int(ENV.get("CRMHUB_SANDBOX_PORT", "8001"))
# What this web process serves: ``all`` (the console and, with CRMHUB_SANDBOX, the sandbox
# CRMs: one process, as the tests' live servers run), ``console`` (the console only:
# scripts/run's ``web`` processes) or ``sandbox`` (the sandbox CRMs only, HTTP and the Collect!
# Web Socket: scripts/run's one ``sandbox`` process, which keeps the sockets in its memory).
CRMHUB_WEB_ROLE = envmod.read_web_role(ENV, sandbox=CRMHUB_SANDBOX)
# Threads serving requests in a web process: 4 in a console process, whose requests are CPU
# work (more only contend for the interpreter lock, and each keeps a SQLite connection, see
# below), 16 elsewhere (the sandbox's injected latency waits in its threads).
CRMHUB_WEB_THREADS = int(
    ENV.get("CRMHUB_WEB_THREADS", "4" if CRMHUB_WEB_ROLE == "console" else "16")
)
# Whether a web process keeps a client's connection open after a response. A console
# process closes it (0): its processes share one listening socket, and a kept connection
# ties a browser to the process that accepted it, whatever that process's load (20 users
# on two processes ended 15 and 5); a new connection goes to the process free to accept it.
CRMHUB_WEB_KEEP_ALIVE = envmod.read_bool(
    ENV, "CRMHUB_WEB_KEEP_ALIVE", default=CRMHUB_WEB_ROLE != "console"
)
# Where the console is reached (by default where scripts/run's web server listens).
CRMHUB_PUBLIC_URL = ENV.get(
    "CRMHUB_PUBLIC_URL", envmod.local_url(host=CRMHUB_HOST, port=CRMHUB_PORT)
).rstrip("/")
# Where the sandbox CRMs are reached (by default where scripts/run's sandbox process
# listens); demo connections point there.
CRMHUB_SANDBOX_URL = ENV.get(
    "CRMHUB_SANDBOX_URL", envmod.local_url(host=CRMHUB_HOST, port=CRMHUB_SANDBOX_PORT)
).rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "csp",
    "axes",
    "crmhub.core",
    "crmhub.connections",
    "crmhub.contacts",
    "crmhub.actions",
    "crmhub.console",
    "crmhub.sandbox",
    "crmhub.bench",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "crmhub.core.middleware.UserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "crmhub.urls_sandbox" if CRMHUB_WEB_ROLE == "sandbox" else "crmhub.urls"
WSGI_APPLICATION = "crmhub.wsgi.application"
ASGI_APPLICATION = "crmhub.asgi.application"

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
                "crmhub.core.context_processors.roles",
                "crmhub.core.context_processors.time_zone",
            ],
        },
    },
]

# --- Databases -----------------------------------------------------------------------------
# SQLite by default (WAL, busy timeout, IMMEDIATE transactions so a reader that later writes
# waits for the lock instead of failing at once; a page cache of up to 64 MB a connection,
# taken as used, so a sync's transaction of thousands of contacts stays in memory until it
# commits; reads through a memory map of up to 256 MB, which takes search's slow queries
# ~12% faster at a million contacts); any DATABASE_URL otherwise.
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": (
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
        "PRAGMA cache_size=-65536; PRAGMA mmap_size=268435456;"
    ),
}


# A PostgreSQL connection is kept for DATABASE_CONN_MAX_AGE seconds (60) and reused by the
# requests and tasks of its thread, checked before each reuse: opening one costs ~3 ms of
# CPU in the process and a new server process. A SQLite connection is kept (60) by the few
# threads of a console web process (CRMHUB_WEB_ROLE=console): a new one costs ~6 ms of CPU a
# request at a million contacts (the schema read, its memory map faulted in again, an empty
# page cache). Elsewhere it is opened per request or task (0): each holds a page cache of up
# to 64 MB that would stay with every worker process and every thread of the other roles.
_CONN_MAX_AGE = ENV.get("DATABASE_CONN_MAX_AGE", "")


def _database(url: str) -> dj_database_url.DBConfig:
    config = dj_database_url.parse(url)
    sqlite = config["ENGINE"] == "django.db.backends.sqlite3"
    kept = not sqlite or CRMHUB_WEB_ROLE == "console"
    config["CONN_MAX_AGE"] = int(_CONN_MAX_AGE or (60 if kept else 0))
    config["CONN_HEALTH_CHECKS"] = True
    if sqlite:
        config["OPTIONS"] = dict(SQLITE_OPTIONS)
    return config


DATABASES = {
    "default": _database(ENV.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'crmhub.sqlite3'}")),
    # The sandbox CRMs stand in for remote systems: they keep their data apart.
    "sandbox": _database(
        ENV.get("SANDBOX_DATABASE_URL", f"sqlite:///{VAR_DIR / 'sandbox.sqlite3'}")
    ),
}
DATABASE_ROUTERS = ["crmhub.sandbox.routers.SandboxRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "crmhub",
    }
}

# --- Auth ------------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "crmhub.core.permissions.PermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "console:dashboard"
LOGOUT_REDIRECT_URL = "login"

# Lock out a username from one address after repeated failures. The address is the client's
# as the web server sees it, or as a trusted reverse proxy forwarded it: X-Forwarded-For is
# believed only from CRMHUB_TRUSTED_PROXIES (addresses or networks; see core/proxies.py).
CRMHUB_TRUSTED_PROXIES = envmod.read_networks(ENV, "CRMHUB_TRUSTED_PROXIES")
AXES_FAILURE_LIMIT = int(ENV.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(ENV.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "crmhub.core.proxies.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# --- Internationalisation ------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = ENV.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
#: One way to write a moment, in the console and the admin alike (see crmhub.core.times).
FORMAT_MODULE_PATH = ["crmhub.formats"]

# --- Static files ----------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Security headers ------------------------------------------------------------------------
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CSRF_FAILURE_VIEW = "crmhub.core.views.csrf_failure"
if PRODUCTION:
    SECURE_SSL_REDIRECT = envmod.read_bool(ENV, "SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(ENV.get("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# --- Celery ----------------------------------------------------------------------------------
# Ids only in messages, JSON only, late ack with redelivery of a killed worker's task (capped
# by the delivery counter on each Action), one message prefetched per process, time limits.
# See README "Reliability" and tests/core/test_celery_settings.py.
# The embedded broker's folder (when CELERY_BROKER_URL is not set); it makes its folders
# when it connects.
CRMHUB_BROKER_DIR = Path(ENV.get("CRMHUB_BROKER_DIR", VAR_DIR / "broker")).resolve()
_broker_url = ENV.get("CELERY_BROKER_URL", "").strip()
if _broker_url:
    CELERY_BROKER_URL = _broker_url
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 1800}
else:
    CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS = envmod.embedded_broker(CRMHUB_BROKER_DIR)
    # kombu's filesystem channel with whole-file writes and atomic takes (see the module).
    CELERY_BROKER_TRANSPORT = "crmhub.core.broker:Transport"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_VISIBILITY_TIMEOUT = 1800
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 270
CELERY_RETRY_BACKOFF_MAX = 300
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = 60.0
# One queue per kind of wait, each with its own pool (``crmhub.core.queues``; Procfile):
# housekeeping never queues behind work; an act is published to ``actions``, or to
# ``prompts`` when its plan may wait for a person (``Action.queue``); syncs run apart.
CELERY_TASK_DEFAULT_QUEUE = queues.ACTIONS
CELERY_TASK_ROUTES = {
    # Exact names are looked up before the patterns below.
    "crmhub.actions.tasks.actions_sweep": {"queue": queues.HOUSEKEEPING},
    "crmhub.actions.tasks.housekeeping": {"queue": queues.HOUSEKEEPING},
    "crmhub.contacts.tasks.syncs_dispatch": {"queue": queues.HOUSEKEEPING},
    "crmhub.connections.tasks.*": {"queue": queues.ACTIONS},
    "crmhub.contacts.tasks.*": {"queue": queues.SYNC},
    "crmhub.actions.tasks.*": {"queue": queues.ACTIONS},
}
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_ALWAYS_EAGER = False
# Workers keep their database connections across tasks (closed every ~100 tasks) instead of
# opening one per task: measured, a new SQLite connection per action cost 5 ms of CPU and
# 30 ms of wall time (bench fanout). Not in the tests (settings_test).
CELERY_DB_REUSE_MAX = 100
# Beat keeps its schedule in the data folder, wherever CRMHUB_VAR_DIR puts it.
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# How often the sweeper looks for actions the broker lost, and the sync dispatcher runs.
CRMHUB_SWEEP_SECONDS = float(ENV.get("CRMHUB_SWEEP_SECONDS", "5"))
CRMHUB_DISPATCH_SECONDS = float(ENV.get("CRMHUB_DISPATCH_SECONDS", "30"))
# A message is delivered at most this many times before the action is failed (poison).
CRMHUB_MAX_DELIVERIES = 3
# Actions: past its lease a claimed action's worker is presumed lost; a published action
# nobody claimed within the republish delay is published again; a Collect! prompt waits
# this long for an answer; a worker sleeps at most this long for a rate-limit slot.
CRMHUB_ACTION_LEASE_SECONDS = float(
    ENV.get("CRMHUB_ACTION_LEASE_SECONDS", str(CELERY_TASK_TIME_LIMIT + 30))
)
CRMHUB_ACTION_REPUBLISH_SECONDS = float(ENV.get("CRMHUB_ACTION_REPUBLISH_SECONDS", "30"))
CRMHUB_PROMPT_TIMEOUT_SECONDS = float(ENV.get("CRMHUB_PROMPT_TIMEOUT_SECONDS", "120"))
# How long a Collect! plan may run without a word from the server before its outcome is
# taken as unknown: no shorter than the longest a plan runs. Prompt waits and this fit in the
# task's soft time limit (the start-up check ``crmhub.actions.timings`` holds it).
CRMHUB_PLAN_IDLE_SECONDS = float(ENV.get("CRMHUB_PLAN_IDLE_SECONDS", "120"))
CRMHUB_RATE_MAX_WAIT_SECONDS = float(ENV.get("CRMHUB_RATE_MAX_WAIT_SECONDS", "5"))
# Rate limits: where the buckets live (empty: Redis when the broker is Redis, else the
# database; "database", or a redis:// URL); how long a "too many requests" answer without
# Retry-After pauses the connection; and the longest an action or a sync keeps being
# throttled before it gives up (rate-limit answers do not count as attempts).
CRMHUB_RATE_LIMIT_STORE = ENV.get("CRMHUB_RATE_LIMIT_STORE", "").strip()
CRMHUB_RATE_PAUSE_SECONDS = float(ENV.get("CRMHUB_RATE_PAUSE_SECONDS", "5"))
CRMHUB_THROTTLE_MAX_SECONDS = float(ENV.get("CRMHUB_THROTTLE_MAX_SECONDS", "3600"))
# Syncs: a running sync renews its lease with every transaction of pages; past it, the
# sync's worker is presumed dead and the run is failed (the next one starts over).
CRMHUB_SYNC_LEASE_SECONDS = float(ENV.get("CRMHUB_SYNC_LEASE_SECONDS", "600"))
# A full pass over a listing without a remote total applies its deletions only when they
# are at most this share of the live contacts (else the run is flagged for staff).
CRMHUB_SYNC_NO_TOTAL_ANOMALY_SHARE = float(ENV.get("CRMHUB_SYNC_NO_TOTAL_ANOMALY_SHARE", "0.1"))
# Retries of retryable failures: first delay (doubling, with jitter, capped by
# CELERY_RETRY_BACKOFF_MAX) and the most attempts before the action is failed.
CRMHUB_RETRY_BASE_SECONDS = float(ENV.get("CRMHUB_RETRY_BASE_SECONDS", "1"))
CRMHUB_MAX_ATTEMPTS = int(ENV.get("CRMHUB_MAX_ATTEMPTS", "5"))
# Crash hooks of the reliability tests (crmhub/actions/faults.py): off unless set.
CRMHUB_FAULT = ENV.get("CRMHUB_FAULT", "")
CRMHUB_FAULT_MODE = ENV.get("CRMHUB_FAULT_MODE", "always")

# --- Person matching: keys that identify nobody -------------------------------------------
# The one deny list of placeholder keys: regular expressions searched in the normalised key
# (a lower-cased email, an E.164 phone). A key matching one never links two records, however
# few hold it. Replace the list with CRMHUB_MATCH_PLACEHOLDERS (JSON, the same shape), then
# run a full matching (``persons_match(full=True)``) so existing people follow it.
CRMHUB_MATCH_PLACEHOLDERS: dict[str, list[str]] = (
    json.loads(ENV["CRMHUB_MATCH_PLACEHOLDERS"])
    if ENV.get("CRMHUB_MATCH_PLACEHOLDERS")
    else {
        "email": [
            # none@…, noemail@…, na@…, n/a@…, unknown@… and their kin, at any domain
            r"^(none|noemail|no[._-]email|nomail|noone|nobody|na|n/a|n\.a|unknown|null"
            r"|email|noreply|no-reply|donotreply|do-not-reply)@",
            # any address at a placeholder domain (test@test.com, x@none.com)
            r"@(none|noemail|nomail|unknown|test)\.(com|net|org)$",
            r"^no@email\.com$",
        ],
        "phone": [
            # one digit repeated after the country code (+10000000000, +18888888888)
            r"^\+\d{1,3}?(\d)\1{6,}$",
            # 123456… after the country code (+441234567890)
            r"^\+\d{1,3}?123456",
        ],
    }
)

# --- Logging: secrets are redacted at the root, whatever logs them ---------------------------
LOG_LEVEL = ENV.get("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "crmhub.core.redaction.RedactingFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "urllib3": {"level": "WARNING"},
    },
}
DEFAULT_EXCEPTION_REPORTER_FILTER = "crmhub.core.redaction.ExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "crmhub.core.redaction.ExceptionReporter"
