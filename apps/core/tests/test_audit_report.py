"""The audit report: filters, sorting, CSV export, and that reading it is itself logged."""

import csv
import io
from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.urls import reverse

from apps.core.access_log import access_log_record
from apps.core.models import AccessLog
from apps.core.roles import COMPLIANCE_GROUP, Role, roles_sync
from apps.core.services import site_upsert
from tests.plugins.core import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(own_site):
    user = UserFactory(username="olive", sites=[])
    roles_sync()
    user.groups.add(Group.objects.get(name=COMPLIANCE_GROUP))
    return user


@pytest.fixture
def trail(own_site):
    amy = UserFactory(username="amy", role=Role.SCHEDULER, sites=[own_site])
    ben = UserFactory(username="ben", role=Role.CLINICIAN, sites=[own_site])
    with time_machine.travel(datetime(2026, 3, 1, 15, 0, tzinfo=UTC), tick=False):
        access_log_record(user=amy, patient="Patient/p1", what="referral:1", site=own_site)
    with time_machine.travel(datetime(2026, 3, 5, 15, 0, tzinfo=UTC), tick=False):
        access_log_record(user=ben, patient="Patient/p2", what="referral:2", site=own_site)
        access_log_record(
            user=amy, patient="Patient/p2", what="referral:2", site=own_site, action=AccessLog.Action.LIST
        )
    return amy, ben


def get(client, sort=None, format=None, **filters):
    """Filter (a POST, kept in the session), then read the report with a sort / format in the URL."""
    if filters:
        posted = client.post(reverse("core:audit_report"), filters)
        if posted.status_code != 302:
            return posted
    params = {k: v for k, v in (("sort", sort), ("format", format)) if v}
    return client.get(reverse("core:audit_report"), params)


def test_by_user_patient_and_period(client, officer, trail):
    client.force_login(officer)
    assert [r.what for r in get(client, user="amy").context["rows"]] == ["referral:2", "referral:1"]
    # Reading the trail of a patient is itself an access to it, so the officer shows up too.
    assert {r.user for r in get(client, patient="Patient/p2").context["rows"]} == {"amy", "ben", "olive"}
    march_first = get(client, date_from="2026-03-01", date_to="2026-03-02").context["rows"]
    assert [(r.user, r.patient) for r in march_first] == [("amy", "Patient/p1")]
    assert [r.user for r in get(client, action="list").context["rows"]] == ["amy"]


def test_sorted_by_a_column_both_ways(client, officer, trail):
    client.force_login(officer)
    up = [r.user for r in get(client, sort="user", patient="Patient/p2").context["rows"]]
    down = [r.user for r in get(client, sort="-user", patient="Patient/p2").context["rows"]]
    assert up == ["amy", "ben", "olive"] and down == ["olive", "olive", "ben", "amy"]


def test_changes_are_reported_too(client, officer, trail, own_site):
    client.force_login(officer)
    site_upsert(code="own", name="Own Clinic East", timezone="America/New_York", service_lines=[])
    rows = get(client, kind="change").context["rows"]
    assert any(r.what == f"core.site:{own_site.pk}" and r.action == "update" for r in rows)


def test_csv_export_has_every_matching_row_and_is_logged_as_an_export(client, officer, trail):
    client.force_login(officer)
    response = get(client, patient="Patient/p2", format="csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert sorted(r["user"] for r in rows) == ["amy", "ben", "olive"]
    assert rows[0]["at_utc"].endswith("+00:00")
    assert AccessLog.objects.filter(user=officer, action="export", patient="Patient/p2").exists()


def test_viewing_the_report_is_logged(client, officer, trail):
    client.force_login(officer)
    get(client, user="ben")
    assert AccessLog.objects.filter(user=officer, action="search", what="audit-report:access").exists()


def test_a_bad_period_is_a_clear_error(client, officer):
    client.force_login(officer)
    response = get(client, date_from="2026-03-05", date_to="2026-03-01")
    assert response.status_code == 400 and "is before “From”" in response.content.decode()
    assert get(client, date_from="yesterday").status_code == 400
    assert get(client, action="shred").status_code == 400


def test_a_formula_in_a_cell_is_defused(client, officer, own_site):
    evil = UserFactory(username="=HYPERLINK(1)", role=Role.SCHEDULER, sites=[own_site])
    access_log_record(user=evil, patient="Patient/p9", what="referral:9", site=own_site)
    client.force_login(officer)
    text = get(client, format="csv").content.decode()
    assert "'=HYPERLINK(1)" in text


def test_the_patient_never_reaches_a_url(client, officer, trail):
    client.force_login(officer)
    posted = client.post(reverse("core:audit_report"), {"patient": "Patient/p2"})
    assert posted.status_code == 302 and "p2" not in posted.url
    page = client.get(reverse("core:audit_report"))
    assert {r.patient for r in page.context["rows"]} == {"Patient/p2"}
    links = page.context["sort_links"].values(), page.context["csv_url"], page.context["next_url"]
    assert "p2" not in str(links)


def test_only_compliance_officers_read_it(client, own_site):
    client.force_login(UserFactory(role=Role.SUPERVISOR, sites=[own_site]))
    assert get(client).status_code == 403


# --- finding a patient by MRN or name (ehr registers the directory), time zone, period ------------


@pytest.fixture
def patients(db):
    from datetime import date

    from tests.plugins.ehr_store import store_make

    made = {}
    for fhir_id, family, given, mrn in (("p1", "Rivera", "Ana", "00123"), ("p2", "Rivera", "Luis", "00456"),
                                         ("p3", "Okafor", "Ana", "00789")):  # fmt: skip
        made[fhir_id] = store_make(
            "Patient", fhir_id, family=family, given=given, mrn=mrn, birth_date=date(1970, 1, 2), body={}
        )
    return made


def test_a_patient_is_found_by_mrn(client, officer, trail, patients):
    client.force_login(officer)
    page = get(client, patient="00456")
    assert page.status_code == 200
    assert {(r.patient, r.patient_label) for r in page.context["rows"] if r.user != "olive"} == {
        ("Patient/p2", "Rivera, Luis · MRN 00456 · born 2 Jan 1970")
    }
    assert "Trail of <strong>Rivera, Luis · MRN 00456 · born 2 Jan 1970</strong>" in page.content.decode()
    # the search is logged as an access to that patient, by reference (never the name)
    assert AccessLog.objects.filter(user=officer, action="search", patient="Patient/p2").exists()


def test_a_patient_is_found_by_name(client, officer, trail, patients):
    client.force_login(officer)
    both = get(client, patient="rivera").context["rows"]
    assert {r.patient for r in both if r.user != "olive"} == {"Patient/p1", "Patient/p2"}
    one = get(client, patient="Rivera, Ana").context["rows"]
    assert {r.patient for r in one if r.user != "olive"} == {"Patient/p1"}
    assert [m.ref for m in get(client, patient="ana").context["patient_matches"]] == ["Patient/p3", "Patient/p1"]


def test_no_matching_patient_is_a_clear_error_on_the_field(client, officer, patients):
    client.force_login(officer)
    response = get(client, patient="Nobody")
    assert response.status_code == 400
    assert "No patient matches “Nobody”" in response.content.decode()
    assert response.context["form"].errors["patient"]


def test_from_after_to_is_an_error_on_the_to_date_and_shows_no_rows(client, officer, trail):
    client.force_login(officer)
    response = get(client, date_from="2026-03-05", date_to="2026-03-01")
    assert response.status_code == 400 and response.context["rows"] == []
    assert response.context["form"].errors["date_to"] == [
        "“To” is before “From”: choose a To date on or after the From date."
    ]
    assert 'value="2026-03-05"' in response.content.decode()  # what was typed stays on the form


def test_times_are_shown_in_the_site_time_zone_and_the_page_says_so(client, officer, trail, own_site):
    client.force_login(officer)
    utc = get(client, user="amy").content.decode()  # the officer belongs to no site: UTC, said so
    assert "in UTC: you are not a member of any site" in utc and "1 Mar 2026, 15:00" in utc
    own_site.timezone = "America/New_York"
    own_site.save()
    own_site.members.add(officer)
    local = get(client, user="amy").content.decode()
    assert "in your site's time zone, America/New York" in local
    assert "When (America/New York)" in local and "1 Mar 2026, 10:00" in local  # 15:00 UTC
