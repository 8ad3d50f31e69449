"""The MFA pages: the sign-in code step, setting up an authenticator, recovery codes."""

from urllib.parse import urlencode

import segno
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from . import mfa


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(settings.LOGIN_REDIRECT_URL)


def _reverify(request: HttpRequest) -> HttpResponse | None:
    """Send the user through a fresh code first when changing MFA settings on an old verification."""
    if not mfa.mfa_enabled(request.user):
        return None
    if mfa.mfa_verified_recently(request, within=settings.CLINOPS_MFA_REVERIFY_SECONDS):
        return None
    query = urlencode({"next": reverse("core:mfa_settings"), "reason": "reverify"})
    return HttpResponseRedirect(f"{reverse('core:mfa_verify')}?{query}")


@require_http_methods(["GET", "POST"])
def mfa_verify(request: HttpRequest) -> HttpResponse:
    """The second sign-in step (and re-verification): a code from the app or a recovery code."""
    if not mfa.mfa_enabled(request.user):
        return HttpResponseRedirect(reverse("core:mfa_setup"))
    error = ""
    if request.method == "POST":
        if mfa.mfa_verify(request, request.POST.get("code", "")):
            return HttpResponseRedirect(_next_url(request))
        error = "That code is not right (or was used already). Check the time on your phone and try the newest code."
    context = {"next": _next_url(request), "error": error, "reverify": request.GET.get("reason") == "reverify"}
    return render(request, "core/mfa/verify.html", context, status=400 if error else 200)


@require_http_methods(["GET", "POST"])
def mfa_setup(request: HttpRequest) -> HttpResponse:
    """Set up (or replace) the authenticator app; shows the recovery codes once."""
    if (redirect := _reverify(request)) is not None:
        return redirect
    error = ""
    if request.method == "POST":
        codes = mfa.mfa_enable(request=request, code=request.POST.get("code", ""))
        if codes is not None:
            return render(request, "core/mfa/recovery_codes.html", {"codes": codes, "next": _next_url(request)})
        error = "That code does not match. Scan the code again or type the key, then enter the newest 6 digits."
    key = mfa.totp_pending_key(request)
    url = mfa.totp_config_url(request.user, key)
    context = {
        "qr": segno.make(url, error="m").svg_data_uri(scale=5, border=2),
        "secret": mfa.b32_secret(key),
        "required": mfa.mfa_required(request.user),
        "error": error,
        "next": _next_url(request),
    }
    return render(request, "core/mfa/setup.html", context, status=400 if error else 200)


@require_http_methods(["GET"])
def mfa_settings(request: HttpRequest) -> HttpResponse:
    """The user's MFA status and the ways to change it."""
    return render(request, "core/mfa/settings.html", _settings_context(request))


@require_POST
def mfa_recovery_codes(request: HttpRequest) -> HttpResponse:
    """New recovery codes (after re-verification); the old ones stop working."""
    if (redirect := _reverify(request)) is not None:
        return redirect
    if not mfa.mfa_enabled(request.user):
        return HttpResponseRedirect(reverse("core:mfa_setup"))
    codes = mfa.mfa_recovery_codes_regenerate(user=request.user)
    return render(request, "core/mfa/recovery_codes.html", {"codes": codes, "next": reverse("core:mfa_settings")})


@require_POST
def mfa_turn_off(request: HttpRequest) -> HttpResponse:
    """Turn MFA off (after re-verification), for users whose role does not require it."""
    if (redirect := _reverify(request)) is not None:
        return redirect
    if mfa.mfa_required(request.user):
        messages.error(request, "Your role requires two-step sign-in; it cannot be turned off.")
        return render(request, "core/mfa/settings.html", _settings_context(request), status=403)
    mfa.mfa_disable(user=request.user)
    messages.success(request, "Two-step sign-in is off.")
    return HttpResponseRedirect(reverse("core:mfa_settings"))


def _settings_context(request: HttpRequest) -> dict[str, object]:
    return {
        "enabled": mfa.mfa_enabled(request.user),
        "required": mfa.mfa_required(request.user),
        "codes_left": mfa.recovery_codes_left(request.user),
    }
