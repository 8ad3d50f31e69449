from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render, resolve_url
from django.utils import timezone
from django.views.decorators.http import require_GET

from . import selectors


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    sites = list(selectors.site_list(user=request.user))
    now = timezone.now()
    cards = [{"site": s, "local_time": timezone.localtime(now, s.tzinfo)} for s in sites]
    return render(request, "core/home.html", {"site_cards": cards})


@require_GET
def site_detail(request: HttpRequest, code: str) -> HttpResponse:
    site = selectors.site_get(user=request.user, code=code)
    context = {
        "site": site,
        "local_time": timezone.localtime(timezone.now(), site.tzinfo),
        "team": selectors.site_team(site=site),
    }
    return render(request, "core/site_detail.html", context)


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: answers whether the database is reachable, nothing else."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # any database failure means "not ready"; the detail goes to the server log
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


@login_not_required
def admin_login_redirect(request: HttpRequest, extra_context: object = None) -> HttpResponse:
    """The admin signs in through the app's login page, which has lockout and idle timeout."""
    next_url = request.GET.get("next") or resolve_url("admin:index")
    return HttpResponseRedirect(f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': next_url})}")


class LogoutView(auth_views.LogoutView):
    """Sign out and tell the browser to drop everything it kept for this site."""

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        response["Clear-Site-Data"] = '"cache", "cookies", "storage"'
        return response
