"""Request-level security and presentation rules that hold on every page."""

import zoneinfo
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequiredMiddleware
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect

from .scoping import site_list_for

# The idle clock is saved at most this often (seconds): a save is three statements (a write to
# the session row) on every page; the idle timeout is thus measured to within a minute.
ACTIVITY_SAVE_EVERY = 60

# Elements that poll in the background (worklist refresh, live counts) send this header so
# that polling never counts as activity and cannot keep an idle session alive.
BACKGROUND_HEADER = "X-Clinops-Background"

Handler = Callable[[HttpRequest], HttpResponse]
API_PREFIXES = ("/api/", "/fhir/")


def is_background(request: HttpRequest) -> bool:
    return request.headers.get(BACKGROUND_HEADER) == "1"


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False)) or request.headers.get("HX-Request") == "true"


def _local(url: str, request: HttpRequest) -> str:
    """``url`` as a path on this site (``/a/b?c``), or "" when it leads anywhere else."""
    if not url or not url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return ""
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.get_host():
        return ""
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//") or path == resolve_url(settings.LOGIN_URL):
        return ""
    return f"{path}?{parts.query}" if parts.query else path


def return_to(request: HttpRequest) -> str:
    """The page to come back to after signing in again: the page itself for a plain GET, the
    page an htmx request came from (HX-Current-URL) for a partial or background request, and
    nothing for a form post (it is not replayed) or a URL that leads off this site."""
    if _is_htmx(request):
        return _local(request.headers.get("HX-Current-URL", ""), request)
    if request.method != "GET":
        return ""
    return _local(request.get_full_path(), request)


def _to_login(request: HttpRequest, reason: str) -> HttpResponse:
    params = {"reason": reason}
    if next_url := return_to(request):
        params["next"] = next_url
    url = f"{resolve_url(settings.LOGIN_URL)}?{urlencode(params)}"
    if _is_htmx(request):
        # An htmx swap would paste the login page into a table row: navigate instead.
        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)


class SessionTimeoutMiddleware:
    """End a session after an idle period or an absolute lifetime, whichever comes first."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = timezone.now().timestamp()
            session = request.session
            started = session.get("clinops_started_at", now)
            last = session.get("clinops_last_activity", now)
            idle = now - last > settings.SESSION_IDLE_TIMEOUT.total_seconds()
            expired = now - started > settings.SESSION_ABSOLUTE_LIFETIME.total_seconds()
            if idle or expired:
                logout(request)
                if request.path.startswith(API_PREFIXES):
                    # An API client gets the API's own 401, never a redirect to an HTML page.
                    return self.get_response(request)
                return _to_login(request, "idle" if idle else "expired")
            if not is_background(request) and now - last >= ACTIVITY_SAVE_EVERY:
                session["clinops_last_activity"] = now
        response = self.get_response(request)
        if request.user.is_authenticated and "clinops_started_at" not in request.session:
            # The request that signed the user in starts both clocks.
            now = timezone.now().timestamp()
            request.session["clinops_started_at"] = request.session["clinops_last_activity"] = now
        return response


class LoginRequiredMiddleware(DjangoLoginRequiredMiddleware):
    """Every page needs login. API views authenticate themselves (session or token, DRF)."""

    def process_view(self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any) -> Any:
        from rest_framework.views import APIView

        view_class = getattr(view_func, "cls", None)
        if isinstance(view_class, type) and issubclass(view_class, APIView):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)

    # htmx gets a client-side redirect (HX-Redirect), not a 302; the stubs allow only a redirect.
    def handle_no_permission(self, request: HttpRequest, view_func: Any) -> HttpResponse:  # type: ignore[override]
        if request.headers.get("HX-Request") == "true":
            return _to_login(request, "login")
        return super().handle_no_permission(request, view_func)


class SiteTimezoneMiddleware:
    """Show times in the user's (first) site's time zone; everything is stored in UTC."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        sites = site_list_for(request.user) if request.user.is_authenticated else []
        site = sites[0] if sites else None
        if site is not None:
            timezone.activate(zoneinfo.ZoneInfo(site.timezone))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class NoStoreMiddleware:
    """Nothing a signed-in user is shown may be kept by a browser or proxy cache."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, no_store=True, private=True)
        return response
