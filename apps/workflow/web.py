"""What every workflow's pages share: telling an htmx swap from a page load, and the one way a
refused (403), stale (409) or invalid (400) action is answered."""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from apps.core.errors import ApplicationError, ConflictError

STALE = (ConflictError, TransitionNotAllowed, ConcurrentTransition)


def partial(request: HttpRequest) -> bool:
    """An htmx swap (not a history restore, which needs the whole page)."""
    htmx = getattr(request, "htmx", None)
    return htmx is not None and bool(htmx) and not htmx.history_restore_request


def problem_response(
    request: HttpRequest,
    *,
    status: int,
    message: str,
    reload_url: str,
    page_template: str,
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    """The flash area for an htmx swap, else ``page_template`` (it gets status, message, reload_url
    and ``extra``)."""
    context = {"status": status, "message": message, "reload_url": reload_url, "kind": "error", **(extra or {})}
    if partial(request):
        response = render(request, "workflow/_flash.html", context, status=status)
        response["HX-Retarget"] = "#flash"
        response["HX-Reswap"] = "innerHTML"
        return response
    return render(request, page_template, context, status=status)


def failure_answer(exc: Exception, *, noun: str) -> tuple[int, str]:
    """The status and message for a refused, stale or invalid action; anything else is re-raised."""
    if isinstance(exc, PermissionDenied):
        return 403, str(exc) or "Your role does not allow this."
    if isinstance(exc, STALE):
        message = getattr(exc, "message", "") or f"This {noun} changed while you were looking at it."
        return 409, f"{message} Reload to see where it is now."
    if isinstance(exc, ApplicationError):
        return exc.status, exc.message
    raise exc
