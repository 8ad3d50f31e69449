"""No internal word on a staff screen (issue 14: "Schedule_follow_up", "cannot be 'close' now",
"SLA breached in follow_up", interpretation-code URIs): the main staff pages of every workflow,
on the demo's data (seeded and worked through the real interfaces), show no snake_case word and
no URI in their visible text; and the templates use the one date format."""

import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.urls import reverse

from apps.core.models import User
from apps.intake.models import Intake
from apps.referrals.models import Referral
from apps.results.models import ResultItem
from apps.workflow.templatetags.plain_words import plain_codes_text
from tests.plugins.plain_words import internal_words


@pytest.mark.django_db
def test_plain_codes_names_the_code_system():
    text = "No active map translates http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation|HH: held."
    assert plain_codes_text(text) == "No active map translates Observation interpretation HH: held."
    assert plain_codes_text("no system here") == "no system here"
    assert plain_codes_text("394582007 is not a known code of http://snomed.info/sct.") == (
        "394582007 is not a known code of SNOMED CT."
    )


def test_the_page_checker_sees_what_a_person_sees():
    assert internal_words('<p title="Schedule_follow_up">x</p>') == ["Schedule_follow_up"]
    assert internal_words("<script>var a_b = 1;</script><p>Fine.</p>") == []
    assert internal_words("<p>SLA breached in follow_up</p>") == ["follow_up"]


@pytest.fixture
def demo(db, settings):
    """The demo's history, plus what a short history may not reach: a result taken to its
    follow-up, one held for an interpretation code nobody maps, and a referral escalated by the
    SLA sweep."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.core.models import Site
    from apps.results import services as results
    from apps.workflow.services import sla_sweep
    from tests.plugins.results import result_make

    settings.DEBUG = True
    call_command("seed_demo")
    call_command("demo_start", "--days", "6")
    north = Site.objects.get(code="north")
    clinician, ma = User.objects.get(username="clinician"), User.objects.get(username="ma")
    walked = result_make(north, criticality="abnormal", assignee=clinician)
    results.result_review(item_id=walked.pk, by=clinician, follow_up="appointment", note="See me in two weeks")
    results.result_notify(item_id=walked.pk, by=ma, method="phone")
    results.result_schedule_follow_up(item_id=walked.pk, by=ma, note="Booked for the 21st")
    hh = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation|HH"
    result_make(
        north, criticality="abnormal", queue="exceptions",
        exception_reason=f"No active map translates {hh}: reviewed as abnormal until a steward maps it.",
        criticality_note=f"From the interpretation codes {hh}",
    )  # fmt: skip
    overdue = Referral.objects.filter(is_open=True, site=north).exclude(queue="exceptions").first()
    Referral.objects.filter(pk=overdue.pk).update(due_at=timezone.now() - timedelta(days=78))
    assert sla_sweep() >= 1


def _pages(client, username: str, urls: list[str]) -> dict[str, list[str]]:
    client.force_login(User.objects.get(username=username))
    found = {}
    for url in urls:
        response = client.get(url, follow=True)  # an old link (?step=…) redirects to its filter
        assert response.status_code == 200, url
        words = internal_words(response.content.decode())
        if words:
            found[url] = sorted(set(words))
    return found


def _some(model, **filters) -> list[str]:
    """One item of each state (and the held ones), as item page paths."""
    ids: dict[str, int] = {}
    for pk, state, queue in model.objects.filter(**filters).values_list("pk", "state", "queue").order_by("-pk"):
        ids.setdefault(state, pk)
        ids.setdefault(f"queue:{queue}", pk)
    return sorted(set(ids.values()))


def test_the_main_staff_pages_of_every_workflow_show_no_internal_word(client, demo):
    referrals = [reverse("referrals:detail", args=[pk]) for pk in _some(Referral)]
    results = [reverse("results:detail", args=[pk]) for pk in _some(ResultItem)]
    intakes = [reverse("intake:detail", args=[pk]) for pk in _some(Intake)]
    assert len(referrals) >= 4 and len(results) >= 3 and len(intakes) >= 3
    found = {}
    found |= _pages(client, "supervisor", [reverse("referrals:worklist"), "/referrals/?queue=supervisor",
                                           "/referrals/?queue=exceptions", *referrals, *results, *intakes,
                                           reverse("intake:day"), "/intake/?day=tomorrow",
                                           reverse("results:worklist"), "/results/worklist/?state=patient_notified",
                                           "/results/worklist/?state=escalated"])  # fmt: skip
    found |= _pages(client, "clinician", [reverse("results:inbox"), reverse("results:coverage")])
    assert not found, found


def test_templates_use_the_one_date_format():
    """Only the named formats (settings / clinops/formats), the machine-readable "c" and the weekday."""
    allowed = {"c", "l", "DATE_FORMAT", "DATETIME_FORMAT", "SHORT_DATE_FORMAT", "SHORT_DATETIME_FORMAT"}
    base = Path(django_settings.BASE_DIR)
    ad_hoc = []
    for template in [*base.glob("apps/*/templates/**/*.html"), *base.glob("templates/**/*.html")]:
        for fmt in re.findall(r"\|date:[\"']([^\"']*)[\"']", template.read_text()):
            if fmt not in allowed:
                ad_hoc.append(f"{template.relative_to(base)}: {fmt}")
    assert ad_hoc == [], ad_hoc
