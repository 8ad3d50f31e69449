"""Which Questionnaire a site's patients get (the admin's, the EHR's by canonical URL, the
default), how its items become questions, and what the admin refuses."""

import pytest

from apps.notifications.admin import ClinicContactForm
from apps.notifications.models import ClinicContact
from apps.notifications.questionnaire import questionnaire_for, questions
from tests.plugins.core import SiteFactory
from tests.plugins.ehr_messages import feed
from tests.plugins.ehr_store import source_make

pytestmark = pytest.mark.django_db
URL = "http://ehr.example.org/fhir/Questionnaire/knee"


def _knee(fhir_id: str, version: str, text: str) -> dict:
    return {
        "resourceType": "Questionnaire", "id": fhir_id, "meta": {"versionId": "1"},
        "url": URL, "version": version, "status": "active",
        "item": [
            {"linkId": "g", "type": "group", "text": "Your knee", "item": [
                {"linkId": "pain", "type": "integer", "text": text, "required": True},
                {"linkId": "photo", "type": "attachment", "text": "A photo"},  # not on a phone form
            ]},
            {"linkId": "since", "type": "date", "text": "Since when?"},
        ],
    }  # fmt: skip


def test_the_admins_form_then_the_ehrs_by_url_then_the_default(django_capture_on_commit_callbacks):
    site, source = SiteFactory(), source_make()
    assert questionnaire_for(site.pk, source.pk)["url"].endswith("/Questionnaire/pre-visit")
    feed(source, _knee("knee-1", "1", "Pain, 0 to 10 (old)"), _knee("knee-2", "2", "Pain, 0 to 10"),
         capture=django_capture_on_commit_callbacks)  # fmt: skip
    contact = ClinicContact.objects.create(site=site, phone="1", questionnaire_url=f"{URL}|2")
    chosen = questions(questionnaire_for(site.pk, source.pk))
    assert [(q.link_id, q.type, q.text, q.required) for q in chosen] == [
        ("g", "display", "Your knee", False), ("pain", "integer", "Pain, 0 to 10", True),
        ("since", "date", "Since when?", False),
    ]  # fmt: skip
    contact.questionnaire = {"resourceType": "Questionnaire", "status": "active",
                             "item": [{"linkId": "own", "type": "string", "text": "Ours"}]}  # fmt: skip
    contact.save()
    assert [q.link_id for q in questions(questionnaire_for(site.pk, source.pk))] == ["own"]


def test_the_admin_refuses_a_questionnaire_that_is_not_one():
    site = SiteFactory()
    data = {"site": site.pk, "name": "", "phone": "+1 555", "questionnaire_url": ""}
    bad = ClinicContactForm(data={**data, "questionnaire": '{"resourceType": "Questionnaire", "status": "active", '
                                  '"item": [{"type": "string", "text": "no linkId"}]}'})  # fmt: skip
    assert not bad.is_valid() and "not a valid FHIR R4 Questionnaire" in str(bad.errors["questionnaire"])
    empty = ClinicContactForm(data={**data, "questionnaire": '{"resourceType": "Questionnaire", "status": "active"}'})
    assert not empty.is_valid() and "no question" in str(empty.errors["questionnaire"])
    good = ClinicContactForm(data={**data, "questionnaire": '{"resourceType": "Questionnaire", "status": "active", '
                                   '"item": [{"linkId": "a", "type": "boolean", "text": "OK?"}]}'})  # fmt: skip
    assert good.is_valid(), good.errors
