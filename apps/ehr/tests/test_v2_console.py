"""The console's HL7 v2 pages: the message laid out by segment and field, the ACK it got, the
FHIR it became; viewing is access-logged; a message stored but not converted converts again."""

from unittest import mock

import pytest
from django.urls import reverse

from apps.core.models import AccessLog
from apps.core.roles import Role
from apps.ehr.models import Hl7Message
from apps.ehr.services import v2_inbox
from apps.ehr.services.v2_inbox import hl7_receive

from .v2_corpus import configure, malformed, raw

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user(Role.INTEGRATION_ADMIN, username="ines"))
    return client


@pytest.fixture
def source(ehr_source):
    return configure(ehr_source)


def receive(source, data, capture):
    with capture(execute=True):
        return hl7_receive(source=source, raw=data, channel=Hl7Message.Channel.MLLP, peer="10.1.2.3")


def test_the_list_shows_each_message_with_its_answer(admin_client, source, django_capture_on_commit_callbacks):
    receive(source, raw("oru_r01"), django_capture_on_commit_callbacks)
    receive(source, malformed("unknown_event"), django_capture_on_commit_callbacks)
    page = admin_client.get(reverse("ehr:hl7_list")).content.decode()
    assert "ORU^R01" in page and "ORU0001" in page and "Converted to FHIR" in page
    assert "ADT^A99" in page and "Rejected" in page and "is not taken here" in page
    only = admin_client.get(reverse("ehr:hl7_list"), {"status": "rejected"}).content.decode()
    assert "ADT^A99" in only and "ORU0001" not in only
    assert not AccessLog.objects.exists()  # the list shows no patient data


def test_the_detail_lays_out_segments_the_ack_and_the_fhir(admin_client, source, django_capture_on_commit_callbacks):
    receipt = receive(source, raw("adt_a01"), django_capture_on_commit_callbacks)
    response = admin_client.get(reverse("ehr:hl7_detail", args=[receipt.message_id]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "PID-3" in page and "Patient identifiers" in page and "MRN1001^^^HOSP^MR~999-12-3456^^^SSA^SS" in page
    assert "custom segment: kept, not converted" in page  # the ZPD
    assert "MSA-1" in page and "Acknowledgment code" in page
    assert "Patient/HOSP-MRN1001" in page and "Encounter/enc-V7001" in page and "Processed" in page
    log = AccessLog.objects.get()
    assert (log.patient, log.what) == ("Patient/HOSP-MRN1001", f"hl7:{receipt.message_id}")


def test_a_message_that_could_not_be_converted_converts_again_after_the_fix(
    admin_client, source, django_capture_on_commit_callbacks
):
    with mock.patch.dict(v2_inbox.__dict__, {"convert": mock.Mock(side_effect=ValueError("mapping bug"))}):
        receipt = receive(source, raw("siu_s12"), django_capture_on_commit_callbacks)
    url = reverse("ehr:hl7_detail", args=[receipt.message_id])
    page = admin_client.get(url).content.decode()
    assert "Stored but not converted" in page and "Convert again" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("ehr:hl7_replay", args=[receipt.message_id]), follow=True)
    assert response.redirect_chain == [(url, 302)]
    page = response.content.decode()
    assert "Converted: its FHIR resources are queued" in page and "Appointment/APT1001" in page
    again = admin_client.post(reverse("ehr:hl7_replay", args=[receipt.message_id]), follow=True)
    assert "nothing to convert again" in again.content.decode()  # a reload changes nothing


@pytest.mark.parametrize("role", [Role.SCHEDULER, Role.CLINICIAN, Role.SUPERVISOR])
def test_other_roles_are_refused(client, make_user, role, source, django_capture_on_commit_callbacks):
    receipt = receive(source, raw("adt_a01"), django_capture_on_commit_callbacks)
    client.force_login(make_user(role))
    assert client.get(reverse("ehr:hl7_list")).status_code == 403
    assert client.get(reverse("ehr:hl7_detail", args=[receipt.message_id])).status_code == 403
    assert client.post(reverse("ehr:hl7_replay", args=[receipt.message_id])).status_code == 403
    assert not AccessLog.objects.exists()


def test_an_unknown_message_is_404(admin_client):
    assert admin_client.get(reverse("ehr:hl7_detail", args=[999])).status_code == 404


def test_the_overview_counts_v2_messages_by_status_per_source(admin_client, source, django_capture_on_commit_callbacks):
    receive(source, raw("adt_a01"), django_capture_on_commit_callbacks)
    receive(source, malformed("no_patient_id"), django_capture_on_commit_callbacks)
    page = admin_client.get(reverse("ehr:console")).content.decode()
    assert "HL7 v2" in page
    assert "Stored, not converted (application error) <strong>1</strong>" in page
    assert f"{reverse('ehr:hl7_list')}?source={source.name}&amp;status=error" in page
