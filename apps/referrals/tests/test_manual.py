"""A fax or phone referral entered by a scheduler: it runs the referral workflow (triage queue, SLA,
duplicate check, log), is marked as entered by hand, keeps its PDF behind the referral's access
checks; bad input (huge file, not a PDF, no reason) is a form error, never a 500."""

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.core.errors import ApplicationError
from apps.core.models import AccessLog
from apps.core.roles import Role
from apps.ehr.models import ServiceRequest
from apps.referrals.models import Referral, ReferralAttachment
from apps.referrals.selectors import REFERRAL_FACTS_SQL
from apps.referrals.services.manual import MAX_ATTACHMENT_BYTES, Upload, referral_enter
from apps.referrals.workflow import State
from apps.workflow.models import SlaPolicy, Transition, TransitionSource
from apps.workflow.patients import patient_pick_token
from tests.plugins.core import ServiceLineFactory, SiteFactory, UserFactory
from tests.plugins.referrals import ReferralFactory, patient_make

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def north():
    site = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    site.service_lines.add(ServiceLineFactory(code="cardiology", name="Cardiology"))
    return site


@pytest.fixture
def sam(north):
    return UserFactory(role=Role.SCHEDULER, sites=[north])


@pytest.fixture
def patient():
    return patient_make("fax-pat", family="Rivera", given="Ana", birth_date=date(1980, 5, 17), mrn="MRN-778")


def enter(by, patient, site, **overrides):
    kwargs = {
        "patient": patient, "site": site, "service_line": site.service_lines.get(code="cardiology"),
        "reason": "Palpitations, abnormal ECG", "priority": "urgent", "channel": "fax", "by": by,
    }  # fmt: skip
    kwargs.update(overrides)
    return referral_enter(**kwargs)


def test_an_entered_referral_runs_the_same_workflow_and_is_marked_as_entered_by_hand(sam, north, patient):
    SlaPolicy.objects.create(workflow="referral", queue="triage", priority="urgent", target_minutes=120)
    referral = enter(sam, patient, north, attachment=Upload("fax 0412.pdf", PDF))
    referral.refresh_from_db()
    assert (referral.state, referral.queue, referral.priority) == (State.RECEIVED, "triage", "urgent")
    assert referral.entered_by_hand and referral.site == north and referral.service_line.code == "cardiology"
    assert referral.canonical_specialty == "cardiology" and referral.patient_ref == "Patient/fax-pat"
    assert referral.due_at > referral.opened_at and referral.is_open
    log = Transition.objects.get(workflow="referral", item_id=referral.pk)
    assert (log.transition, log.source, log.actor, log.actor_role) == (
        "entered_by_hand",
        TransitionSource.STAFF,
        sam,
        Role.SCHEDULER,
    )
    assert "fax" in log.reason
    record = ServiceRequest.objects.get(pk=referral.service_request_id)
    assert record.fhir_id.startswith("clinops-") and record.subject_ref == "Patient/fax-pat"
    assert record.raw["meta"]["tag"][0]["code"] == "entered-by-hand" and record.priority == "urgent"
    [document] = ReferralAttachment.objects.filter(referral=referral)
    assert (document.filename, document.size, bytes(document.data)) == ("fax 0412.pdf", len(PDF), PDF)
    # The scorecards can tell it apart.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT entered_by_hand FROM {REFERRAL_FACTS_SQL} r WHERE r.id = %s", [referral.pk])  # noqa: S608
        assert bool(cursor.fetchone()[0]) is True


def test_a_second_open_referral_for_the_same_specialty_is_flagged_as_a_possible_duplicate(sam, north, patient):
    first = ReferralFactory(site=north, patient_id="fax-pat", canonical_specialty="cardiology")
    assert enter(sam, patient, north).possible_duplicate_of == first


def test_only_schedulers_at_the_site_enter_and_bad_input_is_refused(sam, north, patient):
    with pytest.raises(PermissionDenied):
        enter(UserFactory(role=Role.MEDICAL_ASSISTANT, sites=[north]), patient, north)
    south = SiteFactory(code="south")
    south.service_lines.add(north.service_lines.get())
    with pytest.raises(PermissionDenied):
        enter(sam, patient, south)
    for overrides, code in [
        ({"reason": "   "}, "reason_required"),
        ({"priority": "whenever"}, "invalid_priority"),
        ({"attachment": Upload("letter.pdf", b"GIF89a...")}, "attachment_not_pdf"),
        ({"attachment": Upload("letter.exe", PDF)}, "attachment_not_pdf"),
        ({"attachment": Upload("big.pdf", PDF + b"0" * MAX_ATTACHMENT_BYTES)}, "attachment_too_large"),
    ]:
        with pytest.raises(ApplicationError) as caught:
            enter(sam, patient, north, **overrides)
        assert caught.value.code == code
    assert not Referral.objects.exists() and not ServiceRequest.objects.filter(fhir_id__startswith="clinops-").exists()


# --- the pages -----------------------------------------------------------------------------


def form_data(sam, patient, north, **overrides):
    data = {
        "patient": patient_pick_token(user=sam, patient=patient),
        "service": f"{north.pk}-{north.service_lines.get().pk}",
        "priority": "routine", "channel": "fax", "reason": "Chest pain on exertion",
    }  # fmt: skip
    data.update(overrides)
    return data


def test_the_form_enters_the_referral_redirects_to_it_and_serves_its_pdf_only_behind_the_checks(
    client, sam, north, patient
):
    client.force_login(sam)
    step1 = client.get(reverse("referrals:enter"))
    assert step1.status_code == 200 and "Find the patient" in step1.content.decode()
    token = patient_pick_token(user=sam, patient=patient)
    step2 = client.get(reverse("referrals:enter"), {"patient": token})
    assert step2.status_code == 200 and "Referral for Rivera, Ana" in step2.content.decode()
    assert AccessLog.objects.filter(user=sam, patient="Patient/fax-pat", what="referral-entry").exists()
    upload = SimpleUploadedFile("fax.pdf", PDF, content_type="application/pdf")
    response = client.post(reverse("referrals:enter"), {**form_data(sam, patient, north), "attachment": upload})
    referral = Referral.objects.get()
    assert response.status_code == 302 and response.url == reverse("referrals:detail", args=[referral.pk])
    page = client.get(response.url).content.decode()
    assert "Entered by hand" in page and "Referral letter (PDF" in page and "in the triage queue" in page
    document = referral.attachments.get()
    url = reverse("referrals:attachment", args=[referral.pk, document.pk])
    download = client.get(url)
    assert download.status_code == 200 and download.content == PDF and download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment;")
    assert AccessLog.objects.filter(what=f"referral:{referral.pk}:attachment:{document.pk}").exists()
    # Another site's scheduler: not found; a role that does not work referrals: refused.
    client.force_login(UserFactory(role=Role.SCHEDULER, sites=[SiteFactory(code="elsewhere")]))
    assert client.get(url).status_code == 404
    client.force_login(UserFactory(role=Role.MEDICAL_ASSISTANT, sites=[north]))
    assert client.get(url).status_code == 403


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("big.pdf", PDF + b"0" * MAX_ATTACHMENT_BYTES), "attach at most 10 MB"),
        (SimpleUploadedFile("photo.png", b"\x89PNG\r\n\x1a\n...."), "Attach the referral as a PDF file."),
        (SimpleUploadedFile("fake.pdf", b"MZ\x90\x00 not really a pdf"), "Attach the referral as a PDF file."),
    ],
)
def test_a_bad_file_is_a_form_error(client, sam, north, patient, upload, message):
    client.force_login(sam)
    response = client.post(reverse("referrals:enter"), {**form_data(sam, patient, north), "attachment": upload})
    assert response.status_code == 400 and message in response.content.decode()
    assert not Referral.objects.exists()


def test_missing_fields_and_a_forged_or_foreign_patient_choice_are_refused_without_a_referral(
    client, sam, north, patient
):
    client.force_login(sam)
    missing = client.post(reverse("referrals:enter"), form_data(sam, patient, north, reason="", service=""))
    assert missing.status_code == 400 and "This field is required" in missing.content.decode()
    foreign = form_data(sam, patient, north, service="999-999")
    assert client.post(reverse("referrals:enter"), foreign).status_code == 400
    other = UserFactory(role=Role.SCHEDULER, sites=[north])
    forged = {**form_data(sam, patient, north), "patient": patient_pick_token(user=other, patient=patient)}
    stolen = client.post(reverse("referrals:enter"), forged)
    assert stolen.status_code == 302 and stolen.url == reverse("referrals:enter")
    assert not Referral.objects.exists()
