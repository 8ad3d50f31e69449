"""Settings for the test suite: the embedded default (with the demo), made fast and deterministic.

``DATABASE_URL`` still selects the database, so CI runs the same suite on PostgreSQL.
Celery always runs eagerly here; the tests that start a real worker configure their own
broker connection (apps/core/tests/test_celery_worker.py).
"""

from .embedded import *  # noqa: F403
from .embedded import DATABASES, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = "memory://"
CELERY_RESULT_BACKEND = ""
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": env("CLINOPS_TEST_DATABASE_NAME", default="test_clinops")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A test database need not survive a crash: a commit does not wait for its WAL to reach the
    # disk (the transactional tests, the live server's requests and the demo loads commit often).
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c synchronous_commit=off".strip()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "root": {"handlers": ["null"], "level": "WARNING"},
}
# No collectstatic in tests: WhiteNoise would warn on every request handler that the folder is missing.
STATIC_ROOT = None  # type: ignore[assignment]  # base sets a Path; None turns collectstatic output off
