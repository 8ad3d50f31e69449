"""The embedded default: the shared settings plus the demo (the simulated EHR and its seeds).

``manage.py``, WSGI, ASGI and Celery use this module when ``DJANGO_SETTINGS_MODULE`` is unset,
so ``make run`` has ``seed_demo``, ``demo_start`` and ``serve_demo``; the test settings build on
it. Production (``clinops.settings.production``) builds on ``base`` and never installs
``apps.demo`` (apps/demo/tests/test_installed.py).
"""

from .base import *  # noqa: F403
from .base import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "apps.demo"]
