"""Change audit (django-auditlog), the access log, and their append-only guard on PostgreSQL."""

import pytest
from auditlog.context import set_actor
from auditlog.models import LogEntry
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory

from apps.core.access_log import access_log
from apps.core.models import AccessLog, Site
from apps.core.roles import Role
from apps.core.services import site_upsert
from tests.plugins.core import UserFactory

pytestmark = pytest.mark.django_db


def test_a_change_to_a_site_is_audited_with_its_actor(own_site):
    steward = UserFactory(role=Role.SUPERVISOR, sites=[own_site])
    with set_actor(steward):
        site_upsert(code="own", name="Own Clinic East", timezone="America/New_York", service_lines=[])
    entry = LogEntry.objects.get_for_object(Site.objects.get(code="own")).latest("timestamp")
    assert entry.actor == steward
    assert entry.changes_dict["name"] == ["Own Clinic", "Own Clinic East"]


def test_a_change_made_in_a_request_records_the_signed_in_user(client, own_site):
    admin = UserFactory(is_superuser=True, is_staff=True, sites=[own_site])
    client.force_login(admin)
    response = client.post(
        f"/admin/core/site/{own_site.pk}/change/",
        {"code": "own", "name": "Renamed Clinic", "timezone": "America/New_York", "is_active": "on"},
    )
    assert response.status_code == 302
    entry = LogEntry.objects.get_for_object(own_site).latest("timestamp")
    assert entry.actor == admin and entry.changes_dict["name"][1] == "Renamed Clinic"


def test_access_log_records_who_saw_which_patient(own_site):
    clinician = UserFactory(role=Role.CLINICIAN, sites=[own_site])
    request = RequestFactory().get("/results/7/", REMOTE_ADDR="10.1.2.3", HTTP_X_CORRELATION_ID="abc-1")
    request.user = clinician
    access_log(request, patient="Patient/42", what="result:7", site=own_site)
    row = AccessLog.objects.get()
    assert (row.user, row.patient, row.what, row.site, row.path, row.remote_addr, row.correlation_id) == (
        clinician,
        "Patient/42",
        "result:7",
        own_site,
        "/results/7/",
        "10.1.2.3",
        "abc-1",
    )


def test_password_is_never_in_the_change_audit(own_site):
    user = UserFactory(role=Role.SCHEDULER, sites=[own_site])
    user.set_password("another-long-password-7")
    user.save()
    for entry in LogEntry.objects.get_for_object(user):
        assert "password" not in (entry.changes_dict or {})


@pytest.mark.postgres
@pytest.mark.parametrize("table", ["auditlog_logentry", "core_accesslog"])
@pytest.mark.parametrize("statement", ["UPDATE {table} SET timestamp = timestamp", "DELETE FROM {table}"])
def test_audit_tables_are_append_only_on_postgresql(table, statement, own_site):
    user = UserFactory(role=Role.SCHEDULER, sites=[own_site])  # writes an auditlog row
    AccessLog.objects.create(user=user, patient="Patient/1", what="test:1", site=own_site)
    statement = statement.format(table=table)
    if table == "core_accesslog":
        statement = statement.replace("timestamp", "at")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed table names
        assert cursor.fetchone()[0] >= 1


@pytest.mark.postgres
def test_deleting_a_user_who_left_an_audit_trail_is_refused(own_site):
    user = UserFactory(role=Role.SCHEDULER, sites=[own_site])
    AccessLog.objects.create(user=user, patient="Patient/1", what="test:1", site=own_site)
    with pytest.raises(Exception), transaction.atomic():  # noqa: B017 - PROTECT or the trigger, both refuse
        user.delete()
    assert AccessLog.objects.filter(user=user).exists()
