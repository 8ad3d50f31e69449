"""Pages answer in a fixed number of queries: each workflow's worklist, its queue counts, the "my
work" home and the patient page take no more queries for sixty items at two sites than for one
(no per-row or per-site query), and stay under a ceiling.

The ceilings count every statement, BEGIN and COMMIT included, per database vendor (PostgreSQL
may count a statement SQLite does not, or the reverse; each is held to what it takes). A worklist
page is: the session, the user, the user's sites, their roles with their permissions (one query,
apps.core.backends), the assignable workers, break-glass grants, the page's items, its patients
(intake: and checklists), one access-log INSERT (sealed by the sweep, not in the request), the
saved views and the header's unread count. The session's idle clock is written at most once a
minute, so not on these back-to-back requests."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.core.middleware import BACKGROUND_HEADER
from apps.core.roles import Role
from tests.plugins.intake import intake_make
from tests.plugins.referrals import ReferralFactory
from tests.plugins.results import result_make

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
POLL = {"HTTP_" + BACKGROUND_HEADER.upper().replace("-", "_"): "1", **HTMX}  # as the counts panel asks
# {vendor: {workflow: statements}} for a first page (intake's checklists are one more).
WORKLIST_CEILING = {
    "sqlite": {"referrals": 11, "results": 11, "intake": 12},
    "postgresql": {"referrals": 11, "results": 11, "intake": 12},
}
COUNTS_CEILING = {"sqlite": 6, "postgresql": 6}
# Six per workflow (claimed, escalated, counts, oldest overdue x2, next item), then the session,
# the user, the sites, the roles, break-glass grants, the patients once, the access-log INSERT and
# the header's unread count.
HOME_CEILING = {"sqlite": 26, "postgresql": 26}


def ceiling(table: dict[str, Any], *keys: str) -> int:
    value = table[connection.vendor]
    for key in keys:
        value = value[key]
    return value


@dataclass(frozen=True)
class Case:
    ns: str
    worker: str
    make: Callable[..., Any]  # make(site, **fields) -> an open item

    def url(self, name: str) -> str:
        return reverse(f"{self.ns}:{name}")


CASES = [
    Case("referrals", Role.SCHEDULER, lambda site, **f: ReferralFactory(site=site, **f)),
    Case("results", Role.MEDICAL_ASSISTANT, lambda site, **f: result_make(site, state="reviewed", **f)),
    Case("intake", Role.MEDICAL_ASSISTANT, lambda site, **f: intake_make(site, **f)),
]
by_workflow = pytest.mark.parametrize("case", CASES, ids=lambda c: c.ns)


def queries(client: Any, url: str, **extra: Any) -> tuple[Any, int]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **extra)
    assert response.status_code == 200
    return response, len(captured)


def fill(case: Case, sites: list[Any], worker: Any, count: int = 60) -> None:
    """Items at both sites, some claimed by the worker, some overdue."""
    now = timezone.now()
    for i in range(count):
        item = case.make(sites[i % 2], **({"assignee": worker, "claimed_at": now} if i % 3 == 0 else {}))
        if i % 4 == 0:
            late = {"due_at": now - timedelta(hours=1), "warn_at": now - timedelta(hours=2)}
            type(item).objects.filter(pk=item.pk).update(**late)


@by_workflow
def test_a_worklist_page_takes_as_many_queries_for_sixty_items_at_two_sites_as_for_one(
    client, make_user, own_site, other_site, django_assert_max_num_queries, case
):
    worker = make_user(case.worker, sites=[own_site, other_site])
    case.make(own_site)
    client.force_login(worker)
    client.get(case.url("worklist"))  # warm the permission and content-type caches
    _, one = queries(client, case.url("worklist"))
    assert one <= ceiling(WORKLIST_CEILING, case.ns)
    fill(case, [own_site, other_site], worker)
    with django_assert_max_num_queries(one):
        response = client.get(case.url("worklist"), {"page_size": "100"})
    assert response.content.decode().count('class="wl-row') == 61  # every item listed, at both sites
    with django_assert_max_num_queries(one):
        client.get(case.url("worklist"), {"page_size": "100"}, **HTMX)  # a filter or page swap


@by_workflow
def test_the_list_answers_before_its_counts_which_load_after_it(client, make_user, own_site, case):
    worker = make_user(case.worker)
    case.make(own_site)
    client.force_login(worker)
    page = client.get(case.url("worklist")).content.decode()
    assert 'class="wl-row' in page and "Counting the open" in page and 'hx-trigger="load, every 30s' in page
    assert 'class="wl-count"' not in page  # the counts are not computed before the list is sent
    counts, _ = queries(client, case.url("counts"), **HTMX)
    assert 'class="wl-count">1<' in counts.content.decode()
    # Without JavaScript the panel's link opens the counts as a page of their own.
    plain = client.get(case.url("counts")).content.decode()
    assert "<html" in plain and 'class="wl-count">1<' in plain


@by_workflow
def test_the_queue_counts_take_a_fixed_number_of_queries(
    client, make_user, own_site, other_site, django_assert_max_num_queries, case
):
    worker = make_user(case.worker, sites=[own_site, other_site])
    case.make(own_site)
    client.force_login(worker)
    client.get(case.url("counts"), **POLL)
    _, one = queries(client, case.url("counts"), **POLL)
    assert one <= ceiling(COUNTS_CEILING)
    fill(case, [own_site, other_site], worker, count=20)
    with django_assert_max_num_queries(one):
        client.get(case.url("counts"), **POLL)


def test_the_home_takes_as_many_queries_with_sixty_items_per_workflow_as_with_one(
    client, make_user, own_site, other_site, django_assert_max_num_queries
):
    boss = make_user(Role.SUPERVISOR, sites=[own_site, other_site])
    for case in CASES:
        fill(case, [own_site, other_site], boss, count=1)  # claimed and overdue
    client.force_login(boss)
    client.get(reverse("workflow:home"))
    _, one = queries(client, reverse("workflow:home"))
    assert one <= ceiling(HOME_CEILING)
    for case in CASES:
        fill(case, [own_site, other_site], boss)
    with django_assert_max_num_queries(one):
        response = client.get(reverse("workflow:home"))
    assert "overdue" in response.content.decode()
