"""What the intake views share: permission, the answer to refused or stale actions, the access log."""

from collections import defaultdict
from typing import Any

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from apps.core.access_log import access_log_many
from apps.core.errors import ApplicationError, ConflictError
from apps.core.models import AccessLog

work_required = permission_required("core.work_intake", raise_exception=True)
STALE = (ConflictError, TransitionNotAllowed, ConcurrentTransition)
HANDLED = (PermissionDenied, ApplicationError, TransitionNotAllowed, ConcurrentTransition)  # what failure() answers


def partial(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def problem(request: HttpRequest, status: int, message: str, intake_id: int | None = None) -> HttpResponse:
    """A refused (403), stale (409) or invalid (400) action: the flash area for htmx, else a page."""
    reload_url = reverse("intake:detail", args=[intake_id]) if intake_id else reverse("intake:day")
    context = {"status": status, "message": message, "reload_url": reload_url, "kind": "error"}
    if partial(request):
        response = render(request, "referrals/_flash.html", context, status=status)
        response["HX-Retarget"] = "#flash"
        response["HX-Reswap"] = "innerHTML"
        return response
    return render(request, "intake/problem.html", context, status=status)


def failure(request: HttpRequest, exc: Exception, intake_id: int | None) -> HttpResponse:
    if isinstance(exc, PermissionDenied):
        return problem(request, 403, str(exc) or "Your role does not allow this.", intake_id)
    if isinstance(exc, STALE):
        message = getattr(exc, "message", "") or "This intake changed while you were looking at it."
        return problem(request, 409, f"{message} Reload to see where it is now.", intake_id)
    if isinstance(exc, ApplicationError):
        return problem(request, exc.status, exc.message, intake_id)
    raise exc


def access_log_rows(request: HttpRequest, rows: list[Any]) -> None:
    """One ``list`` access-log row per patient shown, one INSERT per site."""
    by_site: dict[Any, list[tuple[str, str]]] = defaultdict(list)
    for row in rows:
        if row.patient is not None:
            by_site[row.intake.site].append((row.intake.patient_ref, f"intake:{row.intake.pk}"))
    for site, entries in by_site.items():
        access_log_many(request, entries=entries, action=AccessLog.Action.LIST, site=site)
