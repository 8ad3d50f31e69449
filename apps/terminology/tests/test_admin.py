"""The stewards' admin, through the test client: drafts, row edits, transitions, four eyes, queue."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from apps.core.roles import Role
from apps.terminology.impact import ImpactItem, impact_provider_register
from apps.terminology.models import CodeSystem, ConceptMapVersion, UnmappedCode
from apps.terminology.services import unmapped_record, version_draft_create
from apps.terminology.workflow import State
from tests.plugins.core import UserFactory
from tests.plugins.terminology import LOCAL, activated, draft_with, in_review, priority_map, row

pytestmark = pytest.mark.django_db


def page(version):
    return reverse("admin:terminology_conceptmapversion_change", args=[version.pk])


def transition(client, version, name, **data):
    url = reverse("admin:terminology_conceptmapversion_transition", args=[version.pk, name])
    return client.post(url, data, follow=True)


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


def form_data(response):
    """The change form as the browser would send it back, unchanged."""
    data = {"note": response.context["adminform"].form.initial.get("note", "")}
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{name}"] = value
        for form in formset.forms:
            for name, field in form.fields.items():
                value = form.initial.get(name, field.initial)
                if name != "DELETE" and value is not None:
                    data[form.add_prefix(name)] = getattr(value, "pk", value)
    return data


def rows_of(version):
    return sorted((e.source_code, e.relationship, e.target_code) for e in version.elements.all())


@pytest.fixture
def concept_map(steward_a, steward_b):
    concept_map = priority_map()
    activated(concept_map, author=steward_a, approver=steward_b)
    return concept_map


def test_a_steward_starts_a_draft_and_edits_its_rows(client, concept_map, steward_a):
    client.force_login(steward_a)
    response = client.post(reverse("admin:terminology_conceptmap_draft", args=[concept_map.pk]), {"note": "ASAP"})
    draft = ConceptMapVersion.objects.get(state=State.DRAFT)
    assert response.url == page(draft)
    response = client.get(page(draft))
    assert "Submit for review" in response.text and "No differences." in response.text
    data = form_data(response)
    forms = {data[f"elements-{i}-source_code"]: i for i in range(3)}
    data[f"elements-{forms['U']}-target_code"] = "stat"
    data[f"elements-{forms['R']}-DELETE"] = "on"
    data.update(
        {
            "elements-3-source_code": "A",
            "elements-3-relationship": "equivalent",
            "elements-3-target_code": "asap",
            "note": "ASAP is its own priority",
        }
    )
    response = client.post(page(draft), data, follow=True)
    assert "Version 2 saved." in messages_of(response)
    draft.refresh_from_db()
    assert rows_of(draft) == [("A", "equivalent", "asap"), ("S", "equivalent", "stat"), ("U", "equivalent", "stat")]
    assert draft.note == "ASAP is its own priority"
    assert draft.elements.get(source_code="A").target_display == "ASAP"  # taken from the concept
    for text in ("1 added · 1 changed · 1 removed", "urgent (equivalent)", "stat (equivalent)"):
        assert text in response.text


def test_a_wrong_row_is_shown_on_the_form_and_nothing_is_saved(client, concept_map, steward_a):
    draft = version_draft_create(map_id=concept_map.pk, by=steward_a)
    client.force_login(steward_a)
    data = form_data(client.get(page(draft)))
    data.update(
        {"elements-3-source_code": "N", "elements-3-relationship": "narrower", "elements-3-target_code": "urgent"}
    )
    response = client.post(page(draft), data)
    assert response.status_code == 200
    assert "a narrower mapping needs a comment saying what meaning is lost" in response.text
    assert draft.elements.count() == 3


def test_four_eyes_in_the_admin(client, concept_map, steward_a, steward_b):
    version = in_review(concept_map, [row("S", "stat"), row("R", "routine"), row("U", "stat")], author=steward_a)
    client.force_login(steward_a)
    response = client.get(page(version))
    assert "You cannot approve this version." in response.text
    assert ">Approve</button>" not in response.text
    response = transition(client, version, "approve")  # a hand-made POST is refused just the same
    assert messages_of(response) == ["You authored this version; another steward must approve it (four eyes)."]
    version.refresh_from_db()
    assert version.state == State.IN_REVIEW

    client.force_login(steward_b)
    assert ">Approve</button>" in client.get(page(version)).text
    response = transition(client, version, "approve", comment="Checked with the lab")
    assert messages_of(response) == ["Version 2 approved."]
    response = transition(client, version, "activate", confirmed="on")
    version.refresh_from_db()
    assert (version.state, version.approver, version.activated_by) == (State.ACTIVE, steward_b, steward_b)
    assert "Checked with the lab" in response.text  # the review history


def test_reject_and_retire_need_their_text(client, concept_map, steward_a, steward_b):
    version = in_review(concept_map, [row("S", "stat")], author=steward_a)
    client.force_login(steward_b)
    assert messages_of(transition(client, version, "reject", comment="")) == ["A comment is required."]
    transition(client, version, "reject", comment="Keep R and U")
    version.refresh_from_db()
    assert version.state == State.DRAFT
    assert messages_of(transition(client, version, "retire", reason="")) == ["A reason is required."]
    transition(client, version, "retire", reason="Superseded by a vendor update")
    version.refresh_from_db()
    assert (version.state, version.retired_reason) == (State.RETIRED, "Superseded by a vendor update")


def test_activation_can_be_scheduled(client, concept_map, steward_a, steward_b):
    version = in_review(concept_map, [row("S", "stat")], author=steward_a)
    client.force_login(steward_b)
    transition(client, version, "approve")
    past = timezone.localtime() - timedelta(hours=1)
    response = transition(client, version, "schedule", at=past.strftime("%Y-%m-%dT%H:%M"))
    assert messages_of(response) == ["Choose a time in the future to schedule the activation."]
    later = (timezone.localtime() + timedelta(days=1)).replace(second=0, microsecond=0)
    transition(client, version, "schedule", at=later.strftime("%Y-%m-%dT%H:%M"))
    version.refresh_from_db()
    assert (version.state, version.activate_at) == (State.APPROVED, later)
    assert "scheduled to become active" in client.get(page(version)).text


def test_an_active_version_is_read_only_in_the_admin(client, concept_map, steward_a):
    active = ConceptMapVersion.objects.get(state=State.ACTIVE)
    client.force_login(steward_a)
    response = client.get(page(active))
    assert response.context["title"] == "View concept map version"
    assert 'name="elements-0-source_code"' not in response.text
    assert client.post(page(active), {"note": "x"}).status_code == 403


def test_other_staff_read_but_do_not_change(client, concept_map, own_site, steward_a):
    draft = version_draft_create(map_id=concept_map.pk, by=steward_a)
    client.force_login(UserFactory(role=Role.INTEGRATION_ADMIN, sites=[own_site]))
    response = client.get(page(draft))
    assert response.status_code == 200 and "Read only: only terminology stewards change concept maps." in response.text
    assert 'name="elements-0-source_code"' not in response.text and "Submit for review" not in response.text
    assert client.post(page(draft), form_data(response)).status_code == 403
    assert transition(client, draft, "submit").status_code == 403
    url = reverse("admin:terminology_conceptmap_draft", args=[concept_map.pk])
    assert client.post(url).status_code == 403
    export = client.get(reverse("admin:terminology_conceptmapversion_export_csv", args=[draft.pk]))
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")


def test_people_who_do_not_use_the_admin_are_sent_to_sign_in(client, concept_map, own_site):
    client.force_login(UserFactory(role=Role.SCHEDULER, sites=[own_site]))
    version = ConceptMapVersion.objects.get()
    assert client.get(page(version)).status_code == 302
    url = reverse("admin:terminology_conceptmapversion_transition", args=[version.pk, "retire"])
    assert client.post(url, {"reason": "x"}).url.startswith("/admin/login/")
    version.refresh_from_db()
    assert version.state == State.ACTIVE


def _items(count, queue="Triage"):
    return [
        ImpactItem("Referrals", 100 + n, queue, "Own Clinic", "routing", "Cardiology", "Dermatology")
        for n in range(count)
    ]


def test_the_version_page_shows_the_impact_preview(client, concept_map, steward_a):
    draft = draft_with(concept_map, [row("S", "stat"), row("R", "urgent"), row("U", "urgent")], by=steward_a)
    client.force_login(steward_a)
    assert "7 open items would change." not in client.get(page(draft)).text
    impact_provider_register(lambda version: [*_items(7), *_items(2, queue="Exceptions")])
    response = client.get(page(draft))
    items_url = reverse("admin:terminology_conceptmapversion_impact", args=[draft.pk])
    for text in (
        "<td>Referrals</td>",
        '<th scope="row">Triage</th>',
        "<td>7</td>",
        f"{items_url}?workflow=Referrals&amp;queue=Triage",
        "9 open items would change.",
    ):
        assert text in response.text


def test_see_the_items_lists_exactly_the_counted_items_to_a_steward(client, concept_map, steward_a):
    draft = draft_with(concept_map, [row("S", "stat"), row("R", "urgent"), row("U", "urgent")], by=steward_a)
    impact_provider_register(lambda version: [*_items(3), *_items(2, queue="Exceptions")])
    client.force_login(steward_a)
    [triage] = [r for r in client.get(page(draft)).context["impact"].rows if r.queue == "Triage"]
    response = client.get(triage.url)
    assert response.status_code == 200
    listed = [(i.queue, i.item_id) for i in response.context["items"]]
    assert listed == [("Triage", 100), ("Triage", 101), ("Triage", 102)] == [("Triage", 100 + n) for n in range(3)]
    assert "#101" in response.text and "Dermatology" in response.text and "3 open items." in response.text
    every = client.get(reverse("admin:terminology_conceptmapversion_impact", args=[draft.pk]))
    assert len(every.context["items"]) == 5


def test_activate_now_asks_first(client, concept_map, steward_a, steward_b):
    version = in_review(concept_map, [row("S", "stat"), row("R", "urgent"), row("U", "urgent")], author=steward_a)
    client.force_login(steward_b)
    transition(client, version, "approve")
    impact_provider_register(lambda version: _items(4))
    assert "Activate now…" in client.get(page(version)).text
    confirm = reverse("admin:terminology_conceptmapversion_activate", args=[version.pk])
    unconfirmed = client.post(reverse("admin:terminology_conceptmapversion_transition", args=[version.pk, "activate"]))
    assert unconfirmed.status_code == 302 and unconfirmed.url == confirm  # a bare POST does not activate
    version.refresh_from_db()
    assert version.state == State.APPROVED
    asked = client.get(confirm)
    assert asked.status_code == 200
    for text in ("It replaces version 1", "4 open work items will be re-routed", "Activate version 2 now", "Cancel"):
        assert text in asked.text
    response = transition(client, version, "activate", confirmed="on")
    assert response.redirect_chain[-1][0] == page(version)  # post, redirect, get
    version.refresh_from_db()
    assert version.state == State.ACTIVE
    assert client.get(confirm, follow=True).redirect_chain[-1][0] == page(version)  # nothing left to confirm


def test_submit_for_review_saves_the_rows_on_screen_first(client, concept_map, steward_a):
    draft = version_draft_create(map_id=concept_map.pk, by=steward_a)
    client.force_login(steward_a)
    data = form_data(client.get(page(draft)))
    data.update(
        {
            "elements-3-source_code": "A",
            "elements-3-relationship": "equivalent",
            "elements-3-target_code": "asap",
            "_submit_for_review": "1",
            "submit_comment": "ASAP rows",
        }
    )
    response = client.post(page(draft), data, follow=True)
    assert messages_of(response) == ["Version 2 saved and submitted for review."]
    draft.refresh_from_db()
    assert draft.state == State.IN_REVIEW and ("A", "equivalent", "asap") in rows_of(draft)
    assert "ASAP rows" in response.text


def test_submit_for_review_with_a_wrong_row_keeps_the_form(client, concept_map, steward_a):
    draft = version_draft_create(map_id=concept_map.pk, by=steward_a)
    client.force_login(steward_a)
    data = form_data(client.get(page(draft)))
    data.update(
        {
            "elements-3-source_code": "N",
            "elements-3-relationship": "narrower",
            "elements-3-target_code": "urgent",
            "_submit_for_review": "1",
        }
    )
    response = client.post(page(draft), data)
    assert response.status_code == 200 and 'value="N"' in response.text  # the row is still on screen
    assert "a narrower mapping needs a comment" in response.text
    draft.refresh_from_db()
    assert draft.state == State.DRAFT and draft.elements.count() == 3


def test_submit_for_review_without_changes_is_saved_and_refused_with_the_reason(client, concept_map, steward_a):
    draft = version_draft_create(map_id=concept_map.pk, by=steward_a)
    client.force_login(steward_a)
    data = {**form_data(client.get(page(draft))), "_submit_for_review": "1"}
    response = client.post(page(draft), data, follow=True)
    [message] = messages_of(response)
    assert message.startswith("Version 2 saved, but not submitted:") and "nothing to review" in message
    draft.refresh_from_db()
    assert draft.state == State.DRAFT


def test_the_unmapped_queue_leads_to_a_draft_with_the_code_in_a_new_row(client, concept_map, steward_a):
    unmapped_record(LOCAL, "P", "Pre-op", "inbox:41")
    code = UnmappedCode.objects.get()
    client.force_login(steward_a)
    listing = client.get(reverse("admin:terminology_unmappedcode_changelist"))
    draft_url = reverse("admin:terminology_unmappedcode_draft", args=[code.pk])
    assert "Draft a mapping for this code" in listing.text and draft_url in listing.text
    assert "Start a draft with this code" in client.get(draft_url).text
    response = client.post(draft_url, {"map": concept_map.pk})
    draft = ConceptMapVersion.objects.get(state=State.DRAFT)
    assert response.url == f"{page(draft)}?add_code=P&add_display=Pre-op"
    form = client.get(response.url)
    assert 'name="elements-3-source_code" value="P"' in form.text
    assert client.get(draft_url).url == f"{page(draft)}?add_code=P&add_display=Pre-op"  # the draft exists now


def test_a_file_is_imported_from_the_map_page(client, concept_map, steward_a):
    client.force_login(steward_a)
    url = reverse("admin:terminology_conceptmap_import", args=[concept_map.pk])
    bad = SimpleUploadedFile("p.csv", b"source_code,relationship,target_code\nS,equivalent,soon\n", "text/csv")
    response = client.post(url, {"file": bad}, follow=True)
    assert messages_of(response) == [
        "Nothing was imported. row 1 (S): 'soon' is not an active code of Request priority"
    ]
    good = SimpleUploadedFile("p.csv", b"source_code,relationship,target_code\nS,equivalent,stat\n", "text/csv")
    response = client.post(url, {"file": good}, follow=True)
    draft = ConceptMapVersion.objects.get(state=State.DRAFT)
    assert rows_of(draft) == [("S", "equivalent", "stat")] and draft.author == steward_a


def test_the_fhir_export_downloads(client, concept_map, steward_a):
    client.force_login(steward_a)
    version = ConceptMapVersion.objects.get()
    response = client.get(reverse("admin:terminology_conceptmapversion_export_fhir", args=[version.pk]))
    assert response["Content-Type"].startswith("application/fhir+json")
    assert response["Content-Disposition"] == 'attachment; filename="ehr-priority-v1.json"'
    assert response.json()["resourceType"] == "ConceptMap"


def test_canonical_code_systems_are_reference_data(no_reference_data, client, concept_map, steward_a):
    client.force_login(steward_a)
    canonical = CodeSystem.objects.get(kind=CodeSystem.Kind.CANONICAL)
    url = reverse("admin:terminology_codesystem_change", args=[canonical.pk])
    assert client.get(url).context["title"] == "View code system"
    assert client.post(url, {"title": "Renamed"}).status_code == 403


def test_stewards_find_terminology_in_the_navigation(client, steward_a, own_site):
    client.force_login(steward_a)
    assert reverse("admin:terminology_conceptmap_changelist") in client.get("/").text
    client.force_login(UserFactory(role=Role.SCHEDULER, sites=[own_site]))
    assert reverse("admin:terminology_conceptmap_changelist") not in client.get("/").text


def test_a_steward_adds_a_local_code_system_and_a_map_from_it(client, steward_a, own_site):
    priority = priority_map().target_system
    client.force_login(steward_a)
    response = client.post(
        reverse("admin:terminology_codesystem_add"),
        {"title": "South EHR priority", "name": "south-priority", "url": "http://south.example.org/priority",
         "site": own_site.pk, "description": "", "concepts-TOTAL_FORMS": "0", "concepts-INITIAL_FORMS": "0"},
    )  # fmt: skip
    assert response.status_code == 302
    local = CodeSystem.objects.get(name="south-priority")
    assert (local.kind, local.site) == (CodeSystem.Kind.LOCAL, own_site)
    add_map = reverse("admin:terminology_conceptmap_add")
    data = {"name": "south-priority", "title": "South priority", "url": "", "description": "",
            "source_system": priority.pk, "target_system": local.pk, "versions-TOTAL_FORMS": "0",
            "versions-INITIAL_FORMS": "0"}  # fmt: skip
    response = client.post(add_map, data)
    assert "Select a valid choice" in response.text  # a map always goes to a canonical system
    response = client.post(add_map, {**data, "source_system": local.pk, "target_system": priority.pk})
    assert response.status_code == 302
    created = local.maps_from.get()
    assert created.url == "http://clinops.example.org/fhir/ConceptMap/south-priority"
