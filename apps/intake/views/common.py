"""What the intake views share: permission, the answer to refused or stale actions, the access log."""

from collections import defaultdict
from typing import Any

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from apps.core.access_log import access_log_many
from apps.core.errors import ApplicationError
from apps.core.models import AccessLog
from apps.workflow.web import failure_answer, problem_response

work_required = permission_required("core.work_intake", raise_exception=True)
HANDLED = (PermissionDenied, ApplicationError, TransitionNotAllowed, ConcurrentTransition)  # what failure() answers


def problem(request: HttpRequest, status: int, message: str, intake_id: int | None = None) -> HttpResponse:
    """A refused (403), stale (409) or invalid (400) action: the flash area for htmx, else a page."""
    reload_url = reverse("intake:detail", args=[intake_id]) if intake_id else reverse("intake:day")
    return problem_response(
        request, status=status, message=message, reload_url=reload_url, page_template="intake/problem.html"
    )


def failure(request: HttpRequest, exc: Exception, intake_id: int | None) -> HttpResponse:
    status, message = failure_answer(exc, noun="intake")
    return problem(request, status, message, intake_id)


def access_log_rows(request: HttpRequest, rows: list[Any]) -> None:
    """One ``list`` access-log row per patient shown, one INSERT per site."""
    by_site: dict[Any, list[tuple[str, str]]] = defaultdict(list)
    for row in rows:
        if row.patient is not None:
            by_site[row.intake.site].append((row.intake.patient_ref, f"intake:{row.intake.pk}"))
    for site, entries in by_site.items():
        access_log_many(request, entries=entries, action=AccessLog.Action.LIST, site=site)
