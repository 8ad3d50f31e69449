"""No patient identifiers in logs, Celery task arguments or URLs, through a whole referral workflow.

The EHR sends a patient with distinctive identifiers; the referral is triaged, accepted,
scheduled and completed through the real ingestion path and the worklist pages, with every
logger at DEBUG and every task call recorded. None of the identifiers may appear anywhere.
"""

import logging
import re

import pytest
from celery.app.task import Task
from django.urls import reverse

from apps.core.roles import Role
from apps.referrals.models import Referral
from apps.referrals.workflow import State
from tests.plugins.core import UserFactory
from tests.plugins.referral_feed import appointment, feed, make_source, service_request

pytestmark = pytest.mark.django_db

PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "meta": {"versionId": "1"},
    "identifier": [{"type": {"text": "MRN"}, "value": "MRN-QX-448201"}],
    "name": [{"family": "Quixotely", "given": ["Zebediah"]}],
    "birthDate": "1961-03-12",
    "telecom": [{"system": "phone", "value": "+1-555-0142-77"}],
    "address": [{"line": ["17 Marigold Crescent"], "city": "Eastbrook"}],
}
IDENTIFIERS = ["MRN-QX-448201", "Quixotely", "Zebediah", "1961-03-12", "555-0142-77", "Marigold", "Chest pain"]


@pytest.fixture
def recorded(caplog, monkeypatch):
    """Every log record at DEBUG and every task call's arguments."""
    caplog.set_level(logging.DEBUG)
    calls: list[str] = []
    real = Task.apply_async

    def apply_async(self, args=None, kwargs=None, *rest, **options):
        calls.append(f"{self.name} {args!r} {kwargs!r}")
        return real(self, args, kwargs, *rest, **options)

    monkeypatch.setattr(Task, "apply_async", apply_async)
    return caplog, calls


def test_a_whole_referral_workflow_leaks_no_identifier(client, recorded, django_capture_on_commit_callbacks):
    caplog, task_calls = recorded
    source, site = make_source()
    feed(source, PATIENT, service_request(), capture=django_capture_on_commit_callbacks)
    referral = Referral.objects.get()
    scheduler = UserFactory(role=Role.SCHEDULER, sites=[site])
    client.force_login(scheduler)

    urls = [reverse("referrals:worklist"), reverse("referrals:detail", kwargs={"pk": referral.pk})]
    pages = [client.get(url) for url in urls]
    assert all(page.status_code == 200 for page in pages)
    assert b"Quixotely" in pages[1].content  # the page does show the patient: the test can tell
    for action in ("triage", "accept", "start_scheduling"):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("referrals:act", kwargs={"pk": referral.pk, "action": action}))
        assert response.status_code in (200, 302), action
    feed(source, appointment(status="booked"), appointment(status="fulfilled", version="2"),
         capture=django_capture_on_commit_callbacks)  # fmt: skip
    referral.refresh_from_db()
    assert referral.state == State.COMPLETED
    assert task_calls, "the workflow queued no task, so the task check proves nothing"

    logged = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    assert logged, "nothing was logged, so the log check proves nothing"
    links = "\n".join(
        re.findall(r'(?:href|action|hx-get|hx-post)="([^"]*)"', "".join(p.content.decode() for p in pages))
    )
    for identifier in IDENTIFIERS:
        assert identifier not in logged, f"{identifier!r} in the logs"
        assert identifier not in "\n".join(task_calls), f"{identifier!r} in a Celery task's arguments"
        assert identifier not in links + "\n".join(urls), f"{identifier!r} in a URL"
