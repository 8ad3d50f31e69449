"""Settings shared by every environment: the product, without the demo.

Their defaults are the embedded ones (``make run`` needs nothing installed: SQLite in
``db.sqlite3`` and Celery tasks run in-process); ``clinops.settings.embedded`` adds the demo
(``apps.demo``) and is what ``manage.py``, WSGI, ASGI and Celery use when
``DJANGO_SETTINGS_MODULE`` is unset. Production (``clinops.settings.production``) builds on
this module, never on ``embedded``, reads the same variables and refuses to start without the
ones it requires. Every variable is listed in README.md, "Configuration".
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# The embedded default is a developer's machine: a fixed, clearly-marked key is fine here;
# production.py requires DJANGO_SECRET_KEY and has no default.
SECRET_KEY = env("DJANGO_SECRET_KEY", default="embedded-default-insecure-key-do-not-use-in-production")
DEBUG = env.bool("DJANGO_DEBUG", default=True)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_filters",
    "django_htmx",
    "auditlog",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "apps.core",
    "apps.ehr",
    "apps.terminology",
    "apps.workflow",
    "apps.notifications",
    "apps.referrals",
    "apps.kpis",
    "apps.results",
    "apps.intake",
    "apps.governance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.core.security_headers.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "apps.core.middleware.SessionTimeoutMiddleware",
    "apps.core.middleware.LoginRequiredMiddleware",
    "apps.core.mfa.MfaRequiredMiddleware",
    "apps.core.middleware.SiteTimezoneMiddleware",
    "apps.core.middleware.NoStoreMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    # Last, as django-axes asks: it turns lockouts raised by the backend into responses.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "clinops.urls"
WSGI_APPLICATION = "clinops.wsgi.application"
ASGI_APPLICATION = "clinops.asgi.application"

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
                "apps.core.context_processors.navigation",
                "apps.core.security_headers.csp_nonce",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Worklists poll while services, the embedded beat and the demo feed write. Wait for the lock
    # instead of failing: "timeout" waits for a busy database, and IMMEDIATE takes the write lock
    # when a transaction begins, because a deferred read transaction that later writes gets
    # "database is locked" at once, whatever the timeout. WAL lets pages read while one writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
FORMS_URLFIELD_ASSUME_HTTPS = True  # Django 6's default, now: an EHR base URL typed without a scheme is https

AUTH_USER_MODEL = "core.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "apps.core.backends.RoleBackend",  # ModelBackend, roles and permissions in one query
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# ASVS V2.1: at least 12 characters, checked against common passwords, no composition rules
# and no forced rotation (there is deliberately no password-age setting).
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "login"

# MFA (django-otp, TOTP + one-time recovery codes): required for these roles and for admin
# staff, optional for everyone else (apps.core.mfa). Re-verification is asked before MFA
# settings change when the last verification is older than this.
CLINOPS_MFA_REQUIRED_ROLES = ("terminology_steward", "integration_admin", "supervisor")
CLINOPS_MFA_REVERIFY_SECONDS = env.int("CLINOPS_MFA_REVERIFY_SECONDS", default=300)
# API keys (apps.core.api_tokens) expire this many days after they are made.
CLINOPS_API_TOKEN_DAYS = env.int("CLINOPS_API_TOKEN_DAYS", default=30)
OTP_TOTP_ISSUER = "clinops"
# Break-glass: how long an emergency grant lasts.
CLINOPS_EMERGENCY_GRANT_MINUTES = env.int("CLINOPS_EMERGENCY_GRANT_MINUTES", default=60)
# Content-Security-Policy: no 'unsafe-inline'; scripts need the per-request nonce or 'self'.
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Sessions: 15 minutes idle (background polling does not count as activity, see
# apps.core.middleware.SessionTimeoutMiddleware) and an absolute lifetime of a shift.
SESSION_IDLE_TIMEOUT = timedelta(minutes=env.int("CLINOPS_SESSION_IDLE_MINUTES", default=15))
SESSION_ABSOLUTE_LIFETIME = timedelta(hours=env.int("CLINOPS_SESSION_MAX_HOURS", default=12))
SESSION_COOKIE_AGE = int(SESSION_ABSOLUTE_LIFETIME.total_seconds())
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# Reverse proxies in front of the app that append to X-Forwarded-For (0: clients connect directly).
# The client address (for lockouts and the access log) is then the one the outermost proxy saw.
CLINOPS_TRUSTED_PROXY_COUNT = env.int("CLINOPS_TRUSTED_PROXY_COUNT", default=0)

# django-axes: lock a username at an address after repeated failures.
AXES_FAILURE_LIMIT = env.int("CLINOPS_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("CLINOPS_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "apps.core.client_ip.client_ip"  # behind proxies: X-Forwarded-For, as trusted
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"  # stored in UTC; shown in the site's time zone
USE_I18N = True
USE_TZ = True
# One date format on every staff screen (clinops/formats/en/formats.py): 7 Dec 2026, 7 Dec 2026, 14:05.
FORMAT_MODULE_PATH = ["clinops.formats"]
DATE_FORMAT = "j M Y"
SHORT_DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
TIME_FORMAT = "H:i"

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    # plotly.js for the KPI charts, from the installed plotly package (no CDN).
    "apps.kpis.finders.PlotlyFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Change audit: every model is tracked unless it is listed here (logs of their own kind,
# framework bookkeeping, or high-volume raw copies that are kept whole elsewhere).
AUDITLOG_INCLUDE_ALL_MODELS = True
AUDITLOG_EXCLUDE_TRACKING_MODELS = (
    "admin",
    "auditlog",
    "axes",
    "contenttypes",
    "sessions",
    "authtoken",
    "core.accesslog",
    "core.auditseal",
    # TOTP and recovery-code devices hold secrets; MFA changes are audited by apps.core.mfa.
    "otp_totp",
    "otp_static",
    # The inbox keeps every raw EHR message and its processing state; the store mirrors the
    # EHR (its history is the inbox). Auditing them would copy each payload again.
    "ehr.inboxenvelope",
    "ehr.inboxmessage",
    "ehr.hl7message",  # HL7 v2: the raw message is its envelope, kept whole
    "ehr.outboxmessage",
    "ehr.pollcursor",
    "ehr.patient",
    "ehr.practitioner",
    "ehr.practitionerrole",
    "ehr.organization",
    "ehr.location",
    "ehr.encounter",
    "ehr.appointment",
    "ehr.servicerequest",
    "ehr.task",
    "ehr.observation",
    "ehr.diagnosticreport",
    "ehr.documentreference",
    "workflow.transition",
    # A patient message's body holds its signed links (secrets until they expire); its history is
    # its own status, attempts and failures, and each send is on the item's timeline.
    "notifications.patientmessage",
)
AUDITLOG_MASK_TRACKING_FIELDS = ("bearer_token", "private_key_pem", "webhook_token_hash", "key_hash")
AUDITLOG_EXCLUDE_TRACKING_FIELDS = ("password", "last_login")
AUDITLOG_STORE_JSON_CHANGES = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an anonymous API call then gets 401 with WWW-Authenticate, not 403.
        "apps.core.api_tokens.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's own JSON parser with apps.core.json_input's limits (nesting depth, lone surrogates).
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.api_parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "apps.core.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "clinops API",
    "DESCRIPTION": "Work queues, workflow actions and EHR integration for clinical operations.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Each workflow has a "state" field of its own: name each enum after its workflow.
    "ENUM_NAME_OVERRIDES": {
        "ReferralStateEnum": "apps.referrals.workflow.State",
        "IntakeStateEnum": "apps.intake.workflow.State",
        "ResultStateEnum": "apps.results.workflow.State",
    },
}

# Celery. With no broker configured, tasks run in-process (the embedded default).
CELERY_TASK_ALWAYS_EAGER = not env("CELERY_BROKER_URL", default="")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="") or "memory://"
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default="")
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Ride out a broker outage (issue 20): retry the connection at start and after a loss, forever
# (the default gives up after 100 tries and the worker exits). A task running when the connection
# drops is cancelled and redelivered (every effect is idempotent; the inbox row is the truth, and
# the sweeper re-queues whatever the broker lost). A worker that exits anyway is restarted by its
# supervisor (README, "Running in production").
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CONNECTION_TIMEOUT = 4.0
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# acks_late (above): a task is acknowledged when it ends, so a worker that stops mid-task leaves it
# for redelivery. A pool process killed outright (out of memory) is acknowledged, not requeued: a
# message that kills its process would otherwise kill every worker in turn; its inbox row stays
# unprocessed and the sweeper queues it again. (Its attempt dies with the process's transaction, so
# a message that kills its process every time is retried at every sweep, not dead-lettered.)
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_BROKER_HEARTBEAT = 10  # AMQP; Redis uses the health check below
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Redis: an unacknowledged task (acks_late) is redelivered after this long; longer than the
    # longest task (a polling pass, 3,600 s), else a slow task would run twice at once.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=2 * 3600),
    "health_check_interval": 10,
    "socket_keepalive": True,
    "socket_timeout": 15,
    "socket_connect_timeout": 4,
    "retry_on_timeout": True,
    # Publishing (``.delay()`` in a web request) while the broker is down: fail fast, the inbox
    # row stays ``received`` and the sweeper queues it later.
    "max_retries": 1,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_TIMEZONE = "UTC"
# Periodic work (``celery beat`` in production; ``manage.py serve`` runs it in-process).
CELERY_BEAT_SCHEDULE = {
    "ehr-inbox-sweep": {"task": "ehr.inbox_sweep", "schedule": float(env.int("EHR_INBOX_SWEEP_SECONDS", default=30))},
    "workflow-sla-sweep": {"task": "workflow.sla_sweep", "schedule": 60.0},
    "ehr-sources-poll-due": {"task": "ehr.sources_poll_due", "schedule": 30.0},
    "ehr-outbox-relay": {"task": "ehr.outbox_relay", "schedule": 30.0},
    "ehr-retention-prune": {"task": "ehr.retention_prune", "schedule": 86400.0},
    "ehr-hl7-app-ack-relay": {"task": "ehr.hl7_app_ack_relay", "schedule": 30.0},
    "notifications-email-relay": {"task": "notifications.email_relay", "schedule": 30.0},
    "notifications-digest": {"task": "notifications.digest_send", "schedule": 3600.0},
    "notifications-integration-watch": {"task": "notifications.integration_watch", "schedule": 60.0},
    "notifications-patient-reminders": {"task": "notifications.patient_reminders_plan", "schedule": 300.0},
    "notifications-patient-relay": {"task": "notifications.patient_message_relay", "schedule": 30.0},
    "referrals-slot-offers-expire": {"task": "referrals.slot_offers_expire", "schedule": 60.0},
    "referrals-booking-sweep": {"task": "referrals.booking_sweep", "schedule": 60.0},
    "terminology-activate-due": {"task": "terminology.activate_due", "schedule": 60.0},
    "kpis-rollup-refresh": {"task": "kpis.rollup_refresh", "schedule": 300.0},
    "core-audit-seal-pending": {"task": "core.audit_seal_pending", "schedule": 60.0},
    "governance-workarounds-detect": {"task": "governance.workarounds_detect", "schedule": 86400.0},
    "core-audit-anchor": {
        "task": "core.audit_anchor",
        "schedule": float(env.int("CLINOPS_AUDIT_ANCHOR_SECONDS", default=300)),
    },
}
# The audit chain's head is appended here at each core-audit-anchor run (apps.core.audit_chain);
# make the file append-only for the app's user (chattr +a) or collect it off the host. Empty: off.
CLINOPS_AUDIT_ANCHOR_FILE = env("CLINOPS_AUDIT_ANCHOR_FILE", default="")

# JSON from outside (webhook, APIs, $translate, ConceptMap files): deeper nesting is a 400.
CLINOPS_JSON_MAX_DEPTH = env.int("CLINOPS_JSON_MAX_DEPTH", default=100)

# Workaround detection (apps.governance): an item reassigned or moved between queues more than this
# many times is flagged as handed back and forth.
GOVERNANCE_PING_PONG_MAX = env.int("GOVERNANCE_PING_PONG_MAX", default=3)

# Earlier-slot offers (referrals wait list): how long a freed slot is held for the patient offered it.
REFERRAL_OFFER_HOLD_HOURS = env.float("REFERRAL_OFFER_HOLD_HOURS", default=4.0)
# How many waiting patients are offered one freed slot at once (the first to accept wins).
REFERRAL_OFFER_PARALLEL = env.int("REFERRAL_OFFER_PARALLEL", default=1)

# EHR sync
EHR_WEBHOOK_MAX_BYTES = env.int("EHR_WEBHOOK_MAX_BYTES", default=20 * 1024 * 1024)
# Retries of inbox processing and outbox sends: base·2^(n-1) seconds (±20 %), capped, then a dead letter.
EHR_MAX_ATTEMPTS = env.int("EHR_MAX_ATTEMPTS", default=5)
# A message still ``received`` this long after it arrived lost its task (broker down or emptied):
# the sweeper (every EHR_INBOX_SWEEP_SECONDS) queues it again.
EHR_INBOX_STRANDED_SECONDS = env.int("EHR_INBOX_STRANDED_SECONDS", default=60)
EHR_RETRY_BASE_SECONDS = env.int("EHR_RETRY_BASE_SECONDS", default=30)
EHR_RETRY_MAX_SECONDS = env.int("EHR_RETRY_MAX_SECONDS", default=3600)
EHR_HTTP_TIMEOUT_SECONDS = env.float("EHR_HTTP_TIMEOUT_SECONDS", default=30.0)
# HL7 v2 enhanced mode: how long an application ACK's MLLP connection waits for the sender's answer.
EHR_V2_ACK_TIMEOUT_SECONDS = env.float("EHR_V2_ACK_TIMEOUT_SECONDS", default=10.0)

# Email (staff notifications). EMAIL_URL as django-environ reads it, e.g.
# smtp+tls://user:password@smtp.example.org:587 ; the default prints emails to the console.
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "")
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="clinops <no-reply@localhost>")
# The address people reach clinops at: links in emails are built on it.
CLINOPS_BASE_URL = env("CLINOPS_BASE_URL", default="http://127.0.0.1:8000")
# The right-hand side of the emails' Message-ID (the same on a retry, so a resend is recognisable).
CLINOPS_EMAIL_DOMAIN = env("CLINOPS_EMAIL_DOMAIN", default="clinops.localhost")
# Integration admins are told when dead letters (inbox + outbox) reach this many, at most once an
# hour while they stay there, and when a source that has been sending is silent this many minutes.
NOTIFY_DEAD_LETTER_THRESHOLD = env.int("NOTIFY_DEAD_LETTER_THRESHOLD", default=10)
NOTIFY_FEED_SILENT_MINUTES = env.int("NOTIFY_FEED_SILENT_MINUTES", default=30)

# Text messages to patients (apps.notifications.sms): the console by default; for Twilio set
# SMS_BACKEND=apps.notifications.sms.TwilioSmsBackend with TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, SMS_FROM.
SMS_BACKEND = env("SMS_BACKEND", default="apps.notifications.sms.ConsoleSmsBackend")
SMS_FROM = env("SMS_FROM", default="")
SMS_TIMEOUT_SECONDS = env.float("SMS_TIMEOUT_SECONDS", default=15.0)
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", default="")
TWILIO_API_BASE = env("TWILIO_API_BASE", default="")
# Appointment reminders to patients (apps.notifications.reminders): hours before the visit, e.g.
# "72,24"; empty: no reminders. The clinic's phone number when a site has no patient contact row.
PATIENT_REMINDER_OFFSETS_HOURS = env.list("PATIENT_REMINDER_OFFSETS_HOURS", cast=int, default=[72, 24])
PATIENT_CLINIC_PHONE = env("PATIENT_CLINIC_PHONE", default="")

LOG_LEVEL = env("CLINOPS_LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # django.request logs the path of every 4xx ("Not Found: /fhir/Patient/123"): paths can
    # carry resource ids, so only server errors are logged there.
    # urllib3 logs request URLs (resource ids) at DEBUG.
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.request": {"level": "ERROR"},
        "urllib3": {"level": "INFO"},
    },
}
