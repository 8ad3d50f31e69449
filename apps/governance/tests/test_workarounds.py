"""Each workaround rule on constructed histories, flagged and not flagged; the flags are kept once,
say why in plain words without patient data, and make the "workaround rate" KPI."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.core.roles import Role
from apps.governance.models import Rule, WorkaroundFlag, WorkaroundWord
from apps.governance.workarounds import workarounds_detect
from apps.kpis.definitions import kpi_get
from apps.kpis.scope import Scope
from apps.kpis.selectors import kpi_result_get
from apps.workflow.models import Note, Outreach
from tests.plugins.intake import intake_make
from tests.plugins.referrals import ReferralFactory

from .history import SINCE, T0, UNTIL, hours, log

pytestmark = pytest.mark.django_db


def detect() -> dict[tuple[str, int], set[str]]:
    workarounds_detect(since=SINCE, until=UNTIL)
    found: dict[tuple[str, int], set[str]] = {}
    for flag in WorkaroundFlag.objects.all():
        found.setdefault((flag.workflow, flag.item_id), set()).add(flag.rule)
    return found


def referral(site, **fields):
    made = ReferralFactory(site=site, opened_at=hours(0), **fields)
    log(made, "receive", "received", hours(0), source="ehr")
    return made


def test_an_appointment_booked_in_the_ehr_for_an_untriaged_referral_is_flagged(own_site):
    skipped = referral(own_site)
    log(skipped, "schedule", "scheduled", hours(20), source="ehr")
    triaged = referral(own_site)
    log(triaged, "triage", "triage", hours(1))
    log(triaged, "accept", "accepted", hours(2), role="clinician")
    log(triaged, "schedule", "scheduled", hours(20), source="ehr")
    booked_here = referral(own_site)  # scheduled by staff, not the EHR: not this rule
    log(booked_here, "schedule", "scheduled", hours(20))
    found = detect()
    assert Rule.BOOKED_UNTRIAGED in found[("referral", skipped.pk)]
    assert Rule.BOOKED_UNTRIAGED not in found.get(("referral", triaged.pk), set())
    assert Rule.BOOKED_UNTRIAGED not in found.get(("referral", booked_here.pk), set())
    flag = WorkaroundFlag.objects.get(item_id=skipped.pk, rule=Rule.BOOKED_UNTRIAGED)
    assert flag.reason == "The EHR booked an appointment, but the referral never passed triage here."
    assert flag.at == hours(20) and flag.site == own_site


def test_an_item_closed_by_the_ehr_or_a_timer_with_no_staff_action_is_flagged(own_site):
    untouched = referral(own_site)
    log(untouched, "cancel", "cancelled", hours(30), source="ehr")
    worked = referral(own_site)
    log(worked, "claim", "received", hours(1))
    log(worked, "cancel", "cancelled", hours(30), source="ehr")
    still_open = referral(own_site)  # nobody acted yet, but nothing closed it either
    found = detect()
    assert Rule.CLOSED_UNTOUCHED in found[("referral", untouched.pk)]
    assert ("referral", worked.pk) not in found
    assert ("referral", still_open.pk) not in found
    assert WorkaroundFlag.objects.get(item_id=untouched.pk).reason == (
        "Closed by the EHR; nobody on staff acted on it here."
    )


def test_an_item_handed_back_and_forth_more_than_the_limit_is_flagged(own_site, settings):
    settings.GOVERNANCE_PING_PONG_MAX = 3
    ping_pong = referral(own_site)
    for n, name in enumerate(["reassign", "move", "reassign", "reassign"]):
        log(ping_pong, name, "triage", hours(n + 1), role="supervisor")
    three = referral(own_site)
    for n in range(3):
        log(three, "reassign", "triage", hours(n + 1), role="supervisor")
    found = detect()
    assert found[("referral", ping_pong.pk)] == {Rule.PING_PONG}
    assert ("referral", three.pk) not in found
    assert WorkaroundFlag.objects.get(item_id=ping_pong.pk).reason == "Reassigned or moved 4 times (more than 3)."


def test_notes_and_outreach_that_mention_a_listed_word_are_flagged_with_the_word_only(own_site, make_user):
    scheduler = make_user(Role.SCHEDULER)
    by_fax = referral(own_site)
    Note.objects.create(workflow="referral", item_id=by_fax.pk, site=own_site, author=scheduler, at=hours(3),
                        text="Mrs Rivera's records came by FAX, put on the shelf")  # fmt: skip
    on_paper = referral(own_site)
    Outreach.objects.create(
        workflow="referral", item_id=on_paper.pk, site=own_site, by=scheduler, at=hours(4),
        channel="phone", outcome="no_answer", note="added to the paper list at the desk",
    )  # fmt: skip
    plain = referral(own_site)
    Note.objects.create(workflow="referral", item_id=plain.pk, site=own_site, author=scheduler, at=hours(3),
                        text="Called the patient, will call back")  # fmt: skip
    WorkaroundWord.objects.create(word="whiteboard")  # the list is configurable
    on_board = referral(own_site)
    Note.objects.create(workflow="referral", item_id=on_board.pk, site=own_site, author=scheduler, at=hours(5),
                        text="on the whiteboard")  # fmt: skip
    found = detect()
    assert found[("referral", by_fax.pk)] == {Rule.SIDE_CHANNEL}
    assert found[("referral", on_paper.pk)] == {Rule.SIDE_CHANNEL}
    assert found[("referral", on_board.pk)] == {Rule.SIDE_CHANNEL}
    assert ("referral", plain.pk) not in found
    reasons = dict(WorkaroundFlag.objects.values_list("item_id", "reason"))
    assert reasons[by_fax.pk] == "A note mentions “fax”"  # the word, never the note (it names a patient)
    assert reasons[on_paper.pk] == "An outreach note mentions “paper list”"
    assert "Rivera" not in " ".join(reasons.values())


def test_a_referral_entered_by_hand_that_the_ehr_then_sends_is_flagged(own_site):
    by_hand = referral(own_site, entered_by_hand=True)
    from_ehr = referral(own_site, possible_duplicate_of=by_hand)
    type(from_ehr).objects.filter(pk=from_ehr.pk).update(opened_at=hours(48))
    alone = referral(own_site, entered_by_hand=True)  # the EHR never sent it
    ehr_dupe_of_ehr = referral(own_site, possible_duplicate_of=from_ehr)  # not hand-entered: not this rule
    found = detect()
    assert found[("referral", by_hand.pk)] == {Rule.DOUBLE_ENTRY}
    assert ("referral", alone.pk) not in found
    assert ("referral", from_ehr.pk) not in found and ("referral", ehr_dupe_of_ehr.pk) not in found
    assert WorkaroundFlag.objects.get(item_id=by_hand.pk).reason == (
        f"Entered by hand, and the EHR sent it too (as item {from_ehr.pk})."
    )


def test_a_walk_in_whose_visit_the_ehr_books_the_same_day_is_flagged(own_site):
    walk_in = intake_make(own_site, days=0, hour=9, patient="p-walk", entered_by_hand=True)
    intake_make(own_site, days=0, hour=11, patient="p-walk")  # the EHR's appointment, same day
    other_day = intake_make(own_site, days=0, hour=9, patient="p-other", entered_by_hand=True)
    intake_make(own_site, days=3, hour=11, patient="p-other")

    now = timezone.now()
    workarounds_detect(since=now - timedelta(days=2), until=now + timedelta(days=2))
    flagged = set(WorkaroundFlag.objects.values_list("workflow", "item_id", "rule"))
    assert ("intake", walk_in.pk, Rule.DOUBLE_ENTRY) in flagged
    assert not any(item == other_day.pk for _, item, _ in flagged)


def test_running_the_rules_twice_keeps_one_flag_per_item_and_rule(own_site):
    skipped = referral(own_site)
    log(skipped, "schedule", "scheduled", hours(20), source="ehr")
    assert workarounds_detect(since=SINCE, until=UNTIL) == 1
    assert workarounds_detect(since=SINCE, until=UNTIL) == 0
    assert WorkaroundFlag.objects.count() == 1
    # Outside the period looked at, nothing is flagged.
    WorkaroundFlag.objects.all().delete()
    assert workarounds_detect(since=UNTIL, until=UNTIL + (UNTIL - SINCE)) == 0


def test_the_workaround_rate_counts_flagged_items_among_those_opened(own_site):
    for _ in range(3):
        referral(own_site)
    skipped = referral(own_site)
    log(skipped, "schedule", "scheduled", hours(20), source="ehr")
    workarounds_detect(since=SINCE, until=UNTIL)
    day = T0.date()
    result = kpi_result_get(kpi_get("gov_workaround_rate"), Scope(day, day + timedelta(days=6), (own_site,)))
    assert (result.value, result.n) == (25.0, 4)


def test_the_workarounds_page_lists_each_flag_and_its_reason(client, make_user, own_site):
    now = timezone.now()
    skipped = ReferralFactory(site=own_site, opened_at=now)
    log(skipped, "receive", "received", now, source="ehr")
    log(skipped, "schedule", "scheduled", now, source="ehr")
    supervisor = make_user(Role.SUPERVISOR)
    client.force_login(supervisor)
    response = client.post(reverse("governance:workarounds_detect"))
    assert response.status_code == 302
    page = client.get(reverse("governance:workarounds"), {"site": own_site.code}).content.decode()
    assert "Booked in the EHR without triage here" in page
    assert f"Referrals item {skipped.pk}" in page
    assert "never passed triage here" in page
    # The scorecard's drill-down lists the items behind the rate (for those who see patients).
    today = timezone.localdate()
    period = {"site": own_site.code, "start": (today - timedelta(days=7)).isoformat(), "end": today.isoformat()}
    detail = client.get(reverse("kpis:detail", args=["gov_workaround_rate"]), period)
    assert detail.status_code == 200 and "Workaround rate" in detail.content.decode()
    assert f">{skipped.pk}<" in detail.content.decode()
    assert client.get(reverse("governance:workarounds"), {"week": "99"}).status_code == 400
    assert client.get(reverse("governance:workarounds"), {"rule": "nope"}).status_code == 400
