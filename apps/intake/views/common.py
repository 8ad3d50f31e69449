"""What the intake views share: permission and the answer to refused or stale actions."""

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from apps.core.errors import ApplicationError
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
