"""Clinicians review results (core.review_results); MAs and supervisors work the notification
and follow-up steps (core.work_results). Both only at their own sites."""

from typing import Any

from django.core.exceptions import PermissionDenied

from apps.core.scoping import site_ids_for

from .models import ResultItem

REVIEW = "core.review_results"
WORK = "core.work_results"


def can_review(user: Any, item: ResultItem) -> bool:
    return getattr(user, "is_authenticated", False) and item.site_id in site_ids_for(user) and user.has_perm(REVIEW)


def can_work(user: Any, item: ResultItem) -> bool:
    return getattr(user, "is_authenticated", False) and item.site_id in site_ids_for(user) and user.has_perm(WORK)


def can_view(user: Any, item: ResultItem) -> bool:
    return can_review(user, item) or can_work(user, item)


def ensure(user: Any, item: ResultItem, perm: str) -> None:
    """Raise PermissionDenied (403) with a reason a person can act on."""
    if item.site_id not in site_ids_for(user):
        raise PermissionDenied("This result belongs to a site you are not a member of.")
    if not user.has_perm(perm):
        raise PermissionDenied(
            "Only a clinician can review results." if perm == REVIEW else "Your role does not work result follow-up."
        )
