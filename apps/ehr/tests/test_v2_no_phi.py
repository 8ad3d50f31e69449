"""No patient data from HL7 v2 messages in the logs or task arguments: good, bad and broken
messages through the inbox service, over HTTP and over MLLP, every logger at DEBUG."""

import logging
from unittest import mock

import pytest
from celery.app.task import Task
from django.urls import reverse

from apps.ehr.models import Hl7Message
from apps.ehr.services import v2_inbox
from apps.ehr.services.v2_inbox import hl7_receive

from .v2_corpus import configure, raw

pytestmark = pytest.mark.django_db
IDENTIFIERS = ["MRN-QX-448201", "Quixotely", "Zebediah", "19610312", "1961-03-12", "5550142", "Marigold", "6.66"]


def distinctive(name: str) -> bytes:
    data = raw(name)
    for old, new in (
        (b"MRN1001", b"MRN-QX-448201"), (b"Rivera", b"Quixotely"), (b"Ana", b"Zebediah"),
        (b"19800214", b"19610312"), (b"12 Elm St", b"17 Marigold Crescent"), (b"5550101", b"5550142"),
        (b"|6.2|", b"|6.66|"),
    ):  # fmt: skip
        data = data.replace(old, new)
    return data


@pytest.fixture
def recorded(caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    calls: list[str] = []
    original = Task.apply_async

    def spy(self, args=None, kwargs=None, **options):
        calls.append(repr((self.name, args, kwargs)))
        return original(self, args, kwargs, **options)

    monkeypatch.setattr(Task, "apply_async", spy)
    return caplog, calls


def test_no_patient_data_is_logged_or_queued(recorded, ehr_source, client, django_capture_on_commit_callbacks):
    caplog, calls = recorded
    source = configure(ehr_source)
    with django_capture_on_commit_callbacks(execute=True):
        for name in ("adt_a01", "oru_r01", "siu_s12"):
            hl7_receive(source=source, raw=distinctive(name), channel=Hl7Message.Channel.MLLP)
        hl7_receive(source=source, raw=distinctive("adt_a01"), channel=Hl7Message.Channel.MLLP)  # a resend
        bad = distinctive("oru_r01").replace(b"|6.66|", b"|6.66x Quixotely|").replace(b"ORU0001", b"ORU0002")
        hl7_receive(source=source, raw=bad, channel=Hl7Message.Channel.MLLP)  # AE: not a number
        other = distinctive("adt_a01").replace(b"Marigold", b"Marigolds")  # control id reused
        hl7_receive(source=source, raw=other, channel=Hl7Message.Channel.MLLP)
        boom = mock.Mock(side_effect=ValueError("could not read Quixotely MRN-QX-448201"))
        with mock.patch.dict(v2_inbox.__dict__, {"convert": boom}):
            hl7_receive(source=source, raw=distinctive("mdm_t02"), channel=Hl7Message.Channel.MLLP)
        client.post(
            reverse("ehr:hl7v2_receive", args=[source.name]), data=distinctive("adt_a04"),
            content_type="application/hl7-v2", HTTP_AUTHORIZATION=f"Bearer {source.token}",
        )  # fmt: skip
    assert calls, "processing was queued"
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "converting a message" in logged  # the conversion failure was logged, without its data
    for identifier in IDENTIFIERS:
        assert identifier not in logged, identifier
        assert not any(identifier in call for call in calls), identifier
    assert "not a number" in Hl7Message.objects.get(control_id="ORU0002").error
