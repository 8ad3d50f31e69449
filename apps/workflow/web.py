"""What every workflow's pages share: telling an htmx swap from a page load, and the one way a
refused (403), stale (409) or invalid (400) action is answered: in the flash area for htmx, else
a redirect with a message (post-redirect-get)."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
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
    """The flash area for an htmx swap (with ``status``). Without htmx, a stale (409) or invalid
    (400) action is post-redirect-get: a redirect to ``reload_url`` with the message, so Back and
    reload never resubmit it; an action the user may not take at all (403) is ``page_template``
    (it gets status, message, reload_url and ``extra``)."""
    context = {"status": status, "message": message, "reload_url": reload_url, "kind": "error", **(extra or {})}
    if partial(request):
        response = render(request, "workflow/_flash.html", context, status=status)
        response["HX-Retarget"] = "#flash"
        response["HX-Reswap"] = "innerHTML"
        return response
    if status == 403:
        return render(request, page_template, context, status=status)
    messages.error(request, message)
    return HttpResponseRedirect(reload_url)


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
