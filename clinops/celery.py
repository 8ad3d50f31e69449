"""The Celery application.

Tasks take ids, never model instances or patient data, and serialise as JSON. With
``CELERY_BROKER_URL`` unset (the embedded default) tasks run in-process
(``CELERY_TASK_ALWAYS_EAGER``), so ``make run`` needs no broker.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinops.settings.embedded")

app = Celery("clinops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
