"""Django settings, read from LOCKSTEP_* environment variables (see lockstep.config)."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

import dj_database_url

from lockstep.config import (
    creates_files,
    data_dir,
    env,
    env_bool,
    env_networks,
    generated_secret,
    private_file,
)

DATA_DIR = data_dir()

SECRET_KEY = env("LOCKSTEP_SECRET_KEY", "") or generated_secret(
    "secret_key", lambda: secrets.token_urlsafe(50)
)
ENCRYPTION_KEYS = [
    k.strip()
    for k in (
        env("LOCKSTEP_ENCRYPTION_KEYS", "")
        or generated_secret("encryption_keys", lambda: base64.urlsafe_b64encode(os.urandom(32)).decode())
    ).split(",")
    if k.strip()
]
DEBUG = env_bool("LOCKSTEP_DEBUG")
ALLOWED_HOSTS = [h.strip() for h in env("LOCKSTEP_ALLOWED_HOSTS").split(",") if h.strip()]
BASE_URL = env("LOCKSTEP_BASE_URL").rstrip("/")
TRUSTED_CA_FILE = env("LOCKSTEP_TRUSTED_CA_FILE")
M365_LEASE_SECONDS = float(env("LOCKSTEP_M365_LEASE_SECONDS"))
M365_DRIFT_SECONDS = float(env("LOCKSTEP_M365_DRIFT_SECONDS"))
M365_VERIFY_TIMEOUT_SECONDS = float(env("LOCKSTEP_VERIFY_TIMEOUT_SECONDS"))
M365_VERIFY_WAIT_SECONDS = float(env("LOCKSTEP_VERIFY_WAIT_SECONDS"))
M365_VERIFY_PER_ORGANIZATION = int(env("LOCKSTEP_VERIFY_PER_ORGANIZATION"))
SYNC_THREADS = max(1, int(env("LOCKSTEP_SYNC_THREADS")))
FEDERATION_PROPAGATION_MINUTES = float(env("LOCKSTEP_FEDERATION_PROPAGATION_MINUTES"))

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "lockstep.directory",
    "lockstep.console",
    "lockstep.api",
    "lockstep.ops",
    "lockstep.m365",
    "lockstep.mail",
    "lockstep.portal",
    "lockstep.saml",
]

MIDDLEWARE = [
    "lockstep.ops.middleware.TrustedProxySchemeMiddleware",
    "lockstep.ops.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "lockstep.ops.middleware.ContentSecurityPolicyMiddleware",
    "lockstep.portal.sessions.SplitSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "lockstep.console.middleware.AdminSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "lockstep.urls"
WSGI_APPLICATION = "lockstep.wsgi.application"

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

DATABASES = {
    "default": dj_database_url.parse(
        env("LOCKSTEP_DATABASE_URL", "") or f"sqlite:///{DATA_DIR / 'lockstep.sqlite3'}",
        conn_max_age=60,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    if str(DATABASES["default"]["NAME"]) not in ("", ":memory:"):
        private_file(Path(DATABASES["default"]["NAME"]))  # owner-only, before SQLite creates it
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A file, not memory, so worker subprocesses in tests can open the test database too.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web threads read while the worker writes; IMMEDIATE avoids upgrade deadlocks.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
        "transaction_mode": "IMMEDIATE",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "directory.Administrator"
# An administrator's email is unique per organization (one person may administer several):
# this backend signs in by email and password and, when both fit several, asks which one.
AUTHENTICATION_BACKENDS = ["lockstep.console.admin_backend.AdminBackend"]
# auth.W004: "USERNAME_FIELD is not unique" - intended, the backend above handles it.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]
LOGIN_URL = "console:login"

SESSION_COOKIE_AGE = int(env("LOCKSTEP_SESSION_IDLE_SECONDS"))
SESSION_SAVE_EVERY_REQUEST = True  # sliding expiry: the age is an idle timeout
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("LOCKSTEP_SECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Strict"
CSRF_TRUSTED_ORIGINS = [BASE_URL]
SECURE_CONTENT_TYPE_NOSNIFF = True
# HSTS on every response served over HTTPS (directly, or through a trusted proxy that says so in
# X-Forwarded-Proto: ops.middleware.TrustedProxySchemeMiddleware). 0 turns it off.
SECURE_HSTS_SECONDS = int(env("LOCKSTEP_HSTS_SECONDS"))
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
if creates_files():
    STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise serves from the finders; an empty root avoids its warning
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

EMAIL_HOST = env("LOCKSTEP_EMAIL_HOST")
EMAIL_PORT = int(env("LOCKSTEP_EMAIL_PORT"))
EMAIL_SECURITY = env("LOCKSTEP_EMAIL_SECURITY").strip().lower()
if EMAIL_SECURITY not in {"none", "starttls", "tls"}:
    raise ValueError(f"LOCKSTEP_EMAIL_SECURITY must be none, starttls or tls, not {EMAIL_SECURITY!r}")
EMAIL_USE_TLS = EMAIL_SECURITY == "starttls"
EMAIL_USE_SSL = EMAIL_SECURITY == "tls"
EMAIL_HOST_USER = env("LOCKSTEP_EMAIL_USER")
EMAIL_HOST_PASSWORD = env("LOCKSTEP_EMAIL_PASSWORD")
EMAIL_TIMEOUT = float(env("LOCKSTEP_EMAIL_TIMEOUT_SECONDS"))
DEFAULT_FROM_EMAIL = env("LOCKSTEP_EMAIL_FROM")

# User Portal (SPEC 4): its own session cookie (`lockstep.portal.sessions`), a shorter idle timeout.
PORTAL_SESSION_COOKIE_NAME = "lockstep_portal"
PORTAL_IDLE_SECONDS = int(env("LOCKSTEP_PORTAL_IDLE_SECONDS"))
TRUSTED_PROXIES = env_networks("LOCKSTEP_TRUSTED_PROXIES")
PASSWORD_HOLD_HOURS = float(env("LOCKSTEP_PASSWORD_HOLD_HOURS"))
ACTIVATION_LINK_HOURS = float(env("LOCKSTEP_ACTIVATION_LINK_HOURS"))
RESET_LINK_MINUTES = float(env("LOCKSTEP_RESET_LINK_MINUTES"))

LOG_FORMAT = env("LOCKSTEP_LOG_FORMAT")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        },
    },
    "root": {"handlers": ["console"], "level": env("LOCKSTEP_LOG_LEVEL")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},  # one line per Graph request is too much at INFO
    },
}

NINJA_PAGINATION_PER_PAGE = 50
PORTAL_LOGIN_PATH = "/portal/login/"
