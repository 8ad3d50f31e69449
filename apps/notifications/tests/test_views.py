"""The notification pages: a person's own list, the header count polled in the background
(never keeping an idle session alive), opening one marks it read, settings saved with PRG."""

import pytest
from django.utils import timezone

from apps.core.events import EventKind, StaffEvent, event_emit
from apps.core.roles import Role
from apps.notifications.models import Notification

pytestmark = pytest.mark.django_db


def _tell(user, title="An item was given to you", link="/results/1/", **fields):
    event_emit(StaffEvent(kind=EventKind.ITEM_ASSIGNED, title=title, link=link, user_ids=(user.pk,), **fields))
    return Notification.objects.filter(user=user).latest("id")


def test_header_shows_the_unread_count_and_polls_in_the_background(client, make_user):
    ma = make_user(Role.MEDICAL_ASSISTANT)
    _tell(ma)
    _tell(ma, title="An urgent result was given to you", dedupe_key="x")
    client.force_login(ma)
    page = client.get("/notifications/").content.decode()
    assert 'aria-label="Notifications: 2 unread"' in page
    assert "X-Clinops-Background" in page and 'hx-trigger="every 30s"' in page

    session = client.session
    session["clinops_last_activity"] = last = timezone.now().timestamp() - 600
    session.save()
    count = client.get("/notifications/count/", headers={"X-Clinops-Background": "1"})
    assert '<span class="notif-count">2</span>' in count.content.decode()
    assert client.session["clinops_last_activity"] == last  # polling is not activity


def test_opening_marks_read_and_only_the_owner_sees_it(client, make_user):
    ma, other = make_user(Role.MEDICAL_ASSISTANT), make_user(Role.MEDICAL_ASSISTANT)
    notification = _tell(ma)
    client.force_login(other)
    assert client.get(f"/notifications/{notification.pk}/").status_code == 404
    assert "An item was given to you" not in client.get("/notifications/").content.decode()
    client.force_login(ma)
    response = client.get(f"/notifications/{notification.pk}/")
    assert response.status_code == 302 and response["Location"] == "/results/1/"
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_an_offsite_link_is_never_followed(client, make_user):
    ma = make_user(Role.MEDICAL_ASSISTANT)
    notification = _tell(ma, link="https://evil.example.org/")
    client.force_login(ma)
    assert client.get(f"/notifications/{notification.pk}/")["Location"] == "/notifications/"


def test_settings_are_saved_and_critical_cannot_be_silenced(client, make_user):
    ma = make_user(Role.MEDICAL_ASSISTANT)
    client.force_login(ma)
    response = client.post("/notifications/settings/", {"item_escalated.in_app": "on"})
    assert response.status_code == 302 and response["Location"] == "/notifications/settings/"
    page = client.get("/notifications/settings/").content.decode()
    assert "Your notification settings are saved." in page
    assert 'name="item_assigned.in_app">' in page  # unchecked now
    event_emit(StaffEvent(kind=EventKind.ITEM_ASSIGNED, title="A result was given to you", user_ids=(ma.pk,)))
    assert not Notification.objects.filter(user=ma).exists()  # switched off: not told
    event_emit(StaffEvent(kind=EventKind.ITEM_ASSIGNED, title="A critical result was given to you",
                          user_ids=(ma.pk,), critical=True))  # fmt: skip
    assert Notification.objects.get(user=ma).critical


def test_mark_all_read(client, make_user):
    ma = make_user(Role.MEDICAL_ASSISTANT)
    _tell(ma)
    client.force_login(ma)
    response = client.post("/notifications/read-all/", follow=True)
    assert "1 notification marked read." in response.content.decode()
    assert 'aria-label="Notifications: 0 unread"' in response.content.decode()
