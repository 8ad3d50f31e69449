"""Worklist rows are written in Python (apps.workflow.worklist.row_html), not by the template
engine: what a user sees and does in a row must be what the template gave — names escaped, the
right action per row, forms the server accepts (their CSRF token), the site column and the row
swapped in after a claim."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.core.roles import Role
from tests.plugins.referrals import ReferralFactory

pytestmark = pytest.mark.django_db
WORKLIST = reverse("referrals:worklist")


def row(page: str, pk: int) -> str:
    found = re.search(rf'<tr id="row-{pk}".*?</tr>', page, re.S)
    assert found, f"row {pk} not on the page"
    return found.group(0)


def test_each_row_reads_and_acts_as_before(make_user, own_site, other_site):
    sam = make_user(Role.SCHEDULER, sites=[own_site, other_site])
    odd = ReferralFactory(site=own_site, patient__family="<b>O'Hara & Sons</b>", patient__given="Ann")
    mine = ReferralFactory(site=other_site, assignee=sam, claimed_at=timezone.now())
    client = Client(enforce_csrf_checks=True)
    client.force_login(sam)
    page = client.get(WORKLIST).content.decode()

    cells = row(page, odd.pk)
    assert "&lt;b&gt;O&#x27;Hara &amp; Sons&lt;/b&gt;, Ann" in cells and "<b>O'Hara" not in cells
    assert 'data-action="claim"' in cells and "Unassigned" in cells
    assert f'href="{reverse("referrals:detail", args=[odd.pk])}"' in cells
    assert f'<td class="wl-site-col">{own_site.name}</td>' in cells  # two sites listed: a site column
    assert "<strong>You</strong>" in row(page, mine.pk) and 'data-action="release"' in row(page, mine.pk)

    # The row's own claim form, posted as the browser would (CSRF checked), swaps the row in.
    form = re.search(r'<form method="post" action="([^"]+)".*?</form>', cells, re.S)
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(0)))
    swapped = client.post(form.group(1), fields, HTTP_HX_REQUEST="true")
    assert swapped.status_code == 200
    now = swapped.content.decode()
    assert now.startswith(f'<tr id="row-{odd.pk}"') and "<strong>You</strong>" in now
    assert 'data-action="release"' in now and "wl-site-col" in now  # the site column kept
