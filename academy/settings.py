"""Settings for the academy.

Everything comes from environment variables. With none set, the site runs locally on embedded
defaults: SQLite, a file-system Celery broker and console e-mail. ``ACADEMY_ENV=production``
switches to production mode, where ``SECRET_KEY`` and ``DATABASE_URL`` are required and the
secure defaults of ``manage.py check --deploy`` apply. ``DEBUG`` is off unless
``DJANGO_DEBUG=1`` (``make run`` sets it for local development).
"""

import os
from pathlib import Path
from typing import overload
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ACADEMY_VAR_DIR", BASE_DIR / "var"))


@overload
def env(name: str) -> str | None: ...
@overload
def env(name: str, default: str) -> str: ...
def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


PRODUCTION = env("ACADEMY_ENV", "local") == "production"

if PRODUCTION:
    SECRET_KEY = env("SECRET_KEY")
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when ACADEMY_ENV=production.")
    if not env("DATABASE_URL"):
        raise ImproperlyConfigured("DATABASE_URL must be set when ACADEMY_ENV=production.")
    if not env("SITE_URL"):
        raise ImproperlyConfigured("SITE_URL must be set when ACADEMY_ENV=production.")
    DEBUG = False
else:
    # A fixed key is fine for a local, single-machine run; production refuses to start without one.
    SECRET_KEY = env("SECRET_KEY", "local-development-key-not-for-production-use-0123456789")
    DEBUG = env_bool("DJANGO_DEBUG", False)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# A parent domain (".academy.example") when lab hosts' terminal gateways live on sub-domains
# (wss://lab-b.academy.example): their websockets then receive the learner's session cookie.
SESSION_COOKIE_DOMAIN = env("SESSION_COOKIE_DOMAIN", "") or None
# The site's public address: links in e-mails are built from it, never from the Host header.
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
if not SITE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured("SITE_URL must start with http:// or https://.")
# Addresses or networks of the reverse proxies whose X-Forwarded-For / X-Real-IP are believed
# (academy/net.py); from anyone else those headers are ignored.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")

INSTALLED_APPS = [
    "channels",  # websockets (the lab terminal) over the ASGI server
    "modeltranslation",  # must come before django.contrib.admin
    # Our apps come before django.contrib.admin so that our registration/ templates win.
    "academy.accounts",
    "academy.courses",
    "labs",
    "academy.certifications",
    "academy.workshops",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "labs.middleware.TerminalOriginsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "academy.accounts.middleware.PreferredLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "academy.urls"
WSGI_APPLICATION = "academy.wsgi.application"
ASGI_APPLICATION = "academy.asgi.application"

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
                "django.template.context_processors.i18n",
                "academy.context_processors.languages",
                "academy.workshops.context_processors.instructor",
            ],
        },
    },
]

# No persistent connections (CONN_MAX_AGE): under ASGI each request has its own connection
# context, so a kept connection is never used again, only left open. PostgreSQL connections come
# from a pool in each process instead (psycopg_pool): taking one costs microseconds, opening one
# a few milliseconds. ACADEMY_DB_POOL_SIZE: the most connections a process holds; 0: no pool.
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'academy.sqlite3'}"), conn_max_age=0
    )
}
DB_POOL_SIZE = int(env("ACADEMY_DB_POOL_SIZE", "10" if PRODUCTION else "0"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DB_POOL_SIZE:
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DB_POOL_SIZE,
        "timeout": 10,  # seconds a request waits for a free connection before an error
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the worker read while the other writes.
    DATABASES["default"].setdefault("OPTIONS", {})
    # A file, not memory, so that the tests' Celery worker (another process) shares it.
    # One per test run, so that two runs side by side do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
    DATABASES["default"]["OPTIONS"].update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL")
_xdist_worker = env("PYTEST_XDIST_WORKER")
if REDIS_URL and _xdist_worker:
    # The test suite's processes (gw0, gw1, ...) and the workers they start each take their own
    # Redis database (1, 2, ...), as each has its own test database: a cache.clear() or a rate
    # limit in one never reaches another.
    _worker = int(_xdist_worker.removeprefix("gw") or 0)
    REDIS_URL = urlsplit(REDIS_URL)._replace(path=f"/{_worker + 1}").geturl()
CACHES: dict[str, dict[str, object]]
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    # Websocket groups shared by every web process (the lab terminal, live session state).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # A consumer waits for its next message in a blocking pop of up to 5 s; redis-py's
            # own 5 s read timeout would end that wait with an error, and the websocket with it.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}]},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# The learning pages' cached parts ({% cache %}, academy/courses/caching.py): in each web
# process's own memory, even with Redis, since their keys carry the content version read from
# the database (no process can serve another's stale part) and a hit costs no network trip.
CACHES["template_fragments"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "template-fragments",
    "TIMEOUT": 24 * 3600,
    "OPTIONS": {"MAX_ENTRIES": 5000},
}

AUTH_USER_MODEL = "accounts.User"
# Django's validators, with messages in the site's voice (academy/accounts/password_validation.py).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "academy.accounts.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "academy.accounts.password_validation.MinimumLengthValidator"},
    {"NAME": "academy.accounts.password_validation.CommonPasswordValidator"},
    {"NAME": "academy.accounts.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "courses:dashboard"
LOGOUT_REDIRECT_URL = "home"

# Sign-in and password-reset throttling (academy/accounts/throttle.py): past the free failures,
# each attempt waits twice as long as the one before, up to THROTTLE_MAX_DELAY_SECONDS. Failed
# sign-ins count per (account, client address), per client address, and per account (that one
# never for the account's known browsers); reset requests per e-mail address and per client
# address. Counts are forgotten THROTTLE_MEMORY_SECONDS after the last one.
LOGIN_FREE_FAILURES = int(env("LOGIN_FREE_FAILURES", "5"))
LOGIN_ADDRESS_FREE_FAILURES = int(env("LOGIN_ADDRESS_FREE_FAILURES", "100"))
# Per account, from any address; only browsers the account never signed in from wait for it.
LOGIN_ACCOUNT_FREE_FAILURES = int(env("LOGIN_ACCOUNT_FREE_FAILURES", "20"))
LOGIN_BASE_DELAY_SECONDS = float(env("LOGIN_BASE_DELAY_SECONDS", "2"))
PASSWORD_RESET_FREE_REQUESTS = int(env("PASSWORD_RESET_FREE_REQUESTS", "3"))
PASSWORD_RESET_ADDRESS_FREE_REQUESTS = int(env("PASSWORD_RESET_ADDRESS_FREE_REQUESTS", "20"))
PASSWORD_RESET_BASE_DELAY_SECONDS = float(env("PASSWORD_RESET_BASE_DELAY_SECONDS", "60"))
THROTTLE_MAX_DELAY_SECONDS = float(env("THROTTLE_MAX_DELAY_SECONDS", "900"))
THROTTLE_MEMORY_SECONDS = int(env("THROTTLE_MEMORY_SECONDS", str(24 * 3600)))

# Languages: English is the source language; Spanish is first-class.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Spanish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_COOKIE_NAME = "academy_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
MODELTRANSLATION_DEFAULT_LANGUAGE = "en"
MODELTRANSLATION_LANGUAGES = ("en", "es")
MODELTRANSLATION_FALLBACK_LANGUAGES = ("en",)

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
_NODE_MODULES = BASE_DIR / "node_modules"  # package.json; `npm ci` in scripts/bootstrap.sh
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # Only the built files of the browser packages, at the npm layout, under vendor/.
    ("vendor/@xterm/xterm/lib", _NODE_MODULES / "@xterm/xterm/lib"),
    ("vendor/@xterm/xterm/css", _NODE_MODULES / "@xterm/xterm/css"),
    ("vendor/@xterm/addon-fit/lib", _NODE_MODULES / "@xterm/addon-fit/lib"),
    ("vendor/jquery-ui/dist", _NODE_MODULES / "jquery-ui/dist"),
]
# modeltranslation's tabbed admin: jQuery UI from our own static files, not from a CDN.
JQUERY_UI_URL = "vendor/jquery-ui/dist/jquery-ui.min.js"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

CONTENT_DIR = Path(env("ACADEMY_CONTENT_DIR", str(BASE_DIR / "content")))

EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("EMAIL_PORT", "25"))
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Chaos & GitOps Academy <academy@localhost>")

# Celery: a broker that needs no server locally (files under var/), Redis in production.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        # A worker looks for new messages this often (kombu's default: every second, which a
        # learner waited half of on average before each check and start). 50 ms costs an idle
        # worker about 0.5 % of a CPU (bench/bench_ready.py measures it); Redis pushes instead.
        "polling_interval": float(env("CELERY_BROKER_POLLING_INTERVAL", "0.05")),
    }
    # The broker needs its folders before the first message, in the web and worker alike.
    for _folder in ("out", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TIMEZONE = TIME_ZONE

# Content-Security-Policy (django-csp): scripts only from our own static files, no inline
# script or event handler anywhere. Styles allow inline because xterm.js (the lab terminal)
# inserts <style> elements and the Results timeline places its marks with style attributes;
# images and fonts from our own origin only, so injected CSS could not send anything out.
# The lab terminal's websocket is same-origin ('self' covers ws:/wss: to the page's own host).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# HTTPS: on when SITE_URL is https:// (production behind a TLS reverse proxy). HSTS and secure
# cookies follow; SECURE_HSTS_SECONDS=0 turns HSTS off while trying a new deployment.
HTTPS = env_bool("ACADEMY_HTTPS", SITE_URL.startswith("https://"))
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if HTTPS:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
}

# Labs: capacity, timing and the warm pool (see labs/services/). "auto" sizes the running
# sessions a lab host holds from its own machine: LAB_SESSION_BUDGET_MIB of memory each (an idle
# session uses about 23 MiB; the budget leaves room for what learners run) within three
# quarters of the memory, and at most LAB_SESSIONS_PER_CPU per CPU, since starts and checks are
# CPU-bound. The host announces what it sized as its capacity (labs.services.hosts).
LAB_SESSION_BUDGET_MIB = int(env("LAB_SESSION_BUDGET_MIB", "128"))
LAB_SESSIONS_PER_CPU = int(env("LAB_SESSIONS_PER_CPU", "16"))


def _sessions_this_machine_holds() -> int:
    memory_mib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    by_memory = memory_mib * 3 // 4 // LAB_SESSION_BUDGET_MIB
    by_cpu = len(os.sched_getaffinity(0)) * LAB_SESSIONS_PER_CPU
    return max(2, min(by_memory, by_cpu))


_max_running = env("LAB_MAX_RUNNING_SESSIONS", "auto")
LAB_MAX_RUNNING_SESSIONS = (
    _sessions_this_machine_holds() if _max_running == "auto" else int(_max_running)
)
# Ready sandboxes per lab; 0: none. "auto" (what `make run` asks for): one per lab when the
# host holds four times as many sessions as there are labs, two when eight times
# (labs.services.provisioning.warm_pool_size). A lab's own warm_pool_size wins over both.
_warm_pool = env("LAB_WARM_POOL_SIZE", "0")
LAB_WARM_POOL_SIZE = None if _warm_pool == "auto" else int(_warm_pool)
LAB_WARM_POOL_TTL_MINUTES = int(env("LAB_WARM_POOL_TTL_MINUTES", "120"))
LAB_EXTENSION_MINUTES = int(env("LAB_EXTENSION_MINUTES", "15"))
LAB_CHECK_TIMEOUT_SECONDS = float(env("LAB_CHECK_TIMEOUT_SECONDS", "30"))
LAB_SETUP_TIMEOUT_SECONDS = float(env("LAB_SETUP_TIMEOUT_SECONDS", "120"))
LAB_PROVISION_TIMEOUT_SECONDS = int(env("LAB_PROVISION_TIMEOUT_SECONDS", "600"))
LAB_REAP_INTERVAL_SECONDS = int(env("LAB_REAP_INTERVAL_SECONDS", "30"))
# Sessions that ended longer ago than this keep their verdicts only: journals, coverage, check
# output and client address are trimmed daily (labs.services.housekeeping.lab_results_trim).
LAB_RESULTS_RETENTION_DAYS = int(env("LAB_RESULTS_RETENTION_DAYS", "30"))
# How often running sessions are compared with the engine (labs/services/health.py), so that
# a container that died is noticed within seconds; one list call when nothing changed.
LAB_WATCH_INTERVAL_SECONDS = float(env("LAB_WATCH_INTERVAL_SECONDS", "5"))
# The browser terminal (labs/terminal.py): closed after this long without a keystroke, and
# the session's state is read this often to close it when the session ends.
LAB_TERMINAL_IDLE_SECONDS = float(env("LAB_TERMINAL_IDLE_SECONDS", "900"))
LAB_TERMINAL_POLL_SECONDS = float(env("LAB_TERMINAL_POLL_SECONDS", "5"))
# How many terminal tabs (each its own shell in the lab's shell container) a lab page may open;
# each counts against LAB_MAX_TERMINALS_PER_USER. At most 999.
LAB_TERMINAL_TABS = int(env("LAB_TERMINAL_TABS", "4"))
# The queues of this lab host (one Docker engine per lab host): LAB_TASK_QUEUE names the host,
# and each kind of work has a queue of its own, served by its own worker process (Procfile):
# "<LAB_TASK_QUEUE>.provisioning" (start, stop, extend), ".checks" (checks, reading journals)
# and ".housekeeping" (reaper, warm pools), so that a flood of checks never delays a start.
LAB_TASK_QUEUE = env("LAB_TASK_QUEUE", "labs")
# Lab hosts (labs/services/hosts.py, docs/scaling.md). A host's worker announces the host (its
# name is its LAB_TASK_QUEUE, its capacity LAB_MAX_RUNNING_SESSIONS) when it starts and on every
# reap; a host not heard from for LAB_HOST_TIMEOUT_SECONDS gets no new sessions. Until any
# host has announced itself, sessions go to this process's own LAB_TASK_QUEUE host.
LAB_HOST_ANNOUNCE = env_bool("LAB_HOST_ANNOUNCE", True)
LAB_HOST_TIMEOUT_SECONDS = int(env("LAB_HOST_TIMEOUT_SECONDS", "120"))
# A web process with hosts of its own to place on (docker-compose.yml) sets this off: then a
# session waits, queued, until a host has announced itself, rather than going to its own.
LAB_OWN_HOST_FALLBACK = env_bool("LAB_OWN_HOST_FALLBACK", True)
# The public origin of this host's terminal gateway (wss://lab-b.example.org), announced with
# the host; empty: the site's own origin serves its terminals (one host, `make run`).
LAB_HOST_TERMINAL_URL = env("LAB_HOST_TERMINAL_URL", "")
# Where the site-wide periodic work goes (results trimming, exam expiry, workshop ticks, the
# fan-out of each host's reaper and watch): a worker that needs no Docker may serve it.
LAB_SITE_QUEUE = env("LAB_SITE_QUEUE", f"{LAB_TASK_QUEUE}.housekeeping")
CELERY_TASK_ROUTES = ("labs.services.state.route_task",)
# Names this academy's sandboxes on a shared Docker engine; empty: derived from the database.
LAB_INSTANCE = env("LAB_INSTANCE", "")
CELERY_BEAT_SCHEDULE = {
    # Each lab host reaps its own engine: the fan-out sends "reap" to every host's queue.
    "reap-lab-sessions": {
        "task": "labs.tasks.fan_out",
        "schedule": LAB_REAP_INTERVAL_SECONDS,
        "args": ("reap", LAB_REAP_INTERVAL_SECONDS),
        "options": {"queue": LAB_SITE_QUEUE, "expires": LAB_REAP_INTERVAL_SECONDS},
    },
    "trim-lab-results": {
        "task": "labs.tasks.trim_results",
        "schedule": 24 * 60 * 60,
        "options": {"queue": LAB_SITE_QUEUE},
    },
    # Submits exams whose deadline passed, whether or not their candidate comes back.
    "expire-exam-attempts": {
        "task": "academy.certifications.tasks.expire",
        "schedule": 15,
        "options": {"queue": LAB_SITE_QUEUE, "expires": 15},
    },
    # A watch that waited longer than the next one is worth nothing: dropped, not piled up.
    "watch-lab-sessions": {
        "task": "labs.tasks.fan_out",
        "schedule": LAB_WATCH_INTERVAL_SECONDS,
        "args": ("watch", LAB_WATCH_INTERVAL_SECONDS),
        "options": {"queue": LAB_SITE_QUEUE, "expires": LAB_WATCH_INTERVAL_SECONDS},
    },
}
# Fair use (labs/services/limits.py). Requests per window, "N/seconds", per session, user and
# client address (a workshop room shares one address: its limits are the room's).
LAB_RATE_LIMITS = {
    "check": {"session": "12/60", "user": "30/60", "address": "600/60"},
    "refresh": {"session": "6/60", "user": "20/60", "address": "300/60"},
    "start": {"user": "10/600", "address": "200/600"},
    "reset": {"session": "3/600", "user": "6/600", "address": "200/600"},
    "extend": {"session": "3/600", "user": "10/600", "address": "200/600"},
    # Certification exams: starting one, and saving answers as they are given (a room of
    # candidates shares an address).
    "exam_start": {"user": "5/600", "address": "200/600"},
    "exam_answer": {"user": "120/60", "address": "3000/60"},
    # The public credential verifier: each POST canonicalizes up to 256 KiB of JSON-LD.
    "credential_verify": {"user": "20/60", "address": "60/60"},
    # Answers to "make this your preferred language?": once per language and session; a
    # workshop room shares one address.
    "language_prompt": {"user": "20/600", "address": "300/600"},
}
# An exam task's sandbox outlives the exam's deadline by this much, so that the submission at
# the deadline still finds it to grade; the candidate's countdown ends at the deadline.
LAB_EXAM_GRADING_GRACE_SECONDS = int(env("LAB_EXAM_GRADING_GRACE_SECONDS", "300"))
LAB_MAX_LIVE_SESSIONS_PER_USER = int(env("LAB_MAX_LIVE_SESSIONS_PER_USER", "3"))
LAB_MAX_LIVE_SESSIONS_PER_ADDRESS = int(env("LAB_MAX_LIVE_SESSIONS_PER_ADDRESS", "60"))
LAB_MAX_TERMINALS_PER_USER = int(env("LAB_MAX_TERMINALS_PER_USER", "6"))
LAB_MAX_TERMINALS_PER_ADDRESS = int(env("LAB_MAX_TERMINALS_PER_ADDRESS", "150"))
# How long a check may stay "in flight" (queued or running) before another click runs a new one.
LAB_CHECK_IN_FLIGHT_SECONDS = int(env("LAB_CHECK_IN_FLIGHT_SECONDS", "120"))

# Certificates (academy/certifications/certificates.py, docs/certificates.md). The issuer's
# Ed25519 secret key lives outside the repository: `manage.py issuer_key create` writes it here
# (mode 0600), and retired keys beside it in retired/. Credential ids and URLs are built from
# SITE_URL, never from the request, so they stay the same whoever asks.
ACADEMY_ISSUER_KEY_FILE = Path(
    env(
        "ACADEMY_ISSUER_KEY_FILE",
        str(Path.home() / ".config" / "chaos-gitops-academy" / "issuer-key.pem"),
    )
).expanduser()
ACADEMY_ISSUER_NAME = env("ACADEMY_ISSUER_NAME", "Chaos & GitOps Academy")
# The largest credential file the public verification form reads (the verifier's own bound).
ACADEMY_CREDENTIAL_UPLOAD_MAX_BYTES = 256 * 1024

# Meetup workshops (academy/workshops, docs/workshops.md). Instructors are staff or members of
# the "instructors" group. Joining opens this long before a workshop starts; a guest's session
# cookie lasts until the workshop ends plus the grace.
WORKSHOP_INSTRUCTORS_GROUP = "instructors"
WORKSHOP_JOIN_OPENS_MINUTES = int(env("WORKSHOP_JOIN_OPENS_MINUTES", "60"))
WORKSHOP_SESSION_GRACE_HOURS = int(env("WORKSHOP_SESSION_GRACE_HOURS", "12"))
# Throttling of the join and resume pages (academy/accounts/throttle.py's growing delays; the
# numbers are argued in docs/workshops.md). A room shares one address behind its NAT: per
# address, a wrong join code is free 200 times and a wrong resume code 60 times, and 400 joins
# a day; per workshop, 200 wrong resume codes, from any address. Past those, each attempt waits
# twice as long as the one before, from the base delay up to THROTTLE_MAX_DELAY_SECONDS; counts
# are forgotten THROTTLE_MEMORY_SECONDS after the last one.
WORKSHOP_CODE_ADDRESS_FREE_FAILURES = int(env("WORKSHOP_CODE_ADDRESS_FREE_FAILURES", "200"))
WORKSHOP_JOIN_ADDRESS_FREE = int(env("WORKSHOP_JOIN_ADDRESS_FREE", "400"))
WORKSHOP_RESUME_ADDRESS_FREE_FAILURES = int(env("WORKSHOP_RESUME_ADDRESS_FREE_FAILURES", "60"))
WORKSHOP_RESUME_WORKSHOP_FREE_FAILURES = int(env("WORKSHOP_RESUME_WORKSHOP_FREE_FAILURES", "200"))
WORKSHOP_THROTTLE_BASE_DELAY_SECONDS = float(env("WORKSHOP_THROTTLE_BASE_DELAY_SECONDS", "2"))
# Starting, pre-warming and ending workshops (academy/workshops/prewarm.py, ending.py,
# docs/workshops.md). Every WORKSHOP_TICK_SECONDS the beat starts the workshops whose start
# passed, ends those whose end passed (their labs destroyed, their warm pool released) and
# sizes the warm pool: for workshops starting within WORKSHOP_PREWARM_MINUTES, or in session,
# one ready sandbox per place of each of their first WORKSHOP_PREWARM_LABS labs, as far as the
# lab host holds (LAB_MAX_RUNNING_SESSIONS). Guests who never claimed their account are deleted
# WORKSHOP_GUEST_RETENTION_DAYS after their last workshop ended.
WORKSHOP_PREWARM_MINUTES = int(env("WORKSHOP_PREWARM_MINUTES", "20"))
WORKSHOP_PREWARM_LABS = int(env("WORKSHOP_PREWARM_LABS", "1"))
WORKSHOP_TICK_SECONDS = int(env("WORKSHOP_TICK_SECONDS", "30"))
WORKSHOP_GUEST_RETENTION_DAYS = int(env("WORKSHOP_GUEST_RETENTION_DAYS", "30"))
# How the lab engine hears of workshops without importing them (labs stays standalone): the
# extra warm sandboxes per lab, and the users in a room, for whom the per-address limits give
# way to the per-user ones (a room of 60 shares the venue's NAT address).
LAB_WARM_POOL_DEMAND = "academy.workshops.prewarm.warm_pool_demand"
LAB_ROOM_MEMBERS = "academy.workshops.selectors.room_members"
LAB_RESERVED_HOST = "academy.workshops.selectors.reserved_lab_host"
CELERY_BEAT_SCHEDULE["workshops-tick"] = {
    "task": "academy.workshops.tasks.tick",
    "schedule": WORKSHOP_TICK_SECONDS,
    "options": {"queue": LAB_SITE_QUEUE, "expires": WORKSHOP_TICK_SECONDS},
}
CELERY_BEAT_SCHEDULE["workshops-forget-guests"] = {
    "task": "academy.workshops.tasks.forget_guests",
    "schedule": 24 * 60 * 60,
    "options": {"queue": LAB_SITE_QUEUE},
}
