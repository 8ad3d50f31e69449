"""Account settings, API keys: list, make (after a fresh code for roles that require MFA), revoke."""

from typing import cast

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from . import mfa
from .api_tokens import api_token_issue, api_token_list, api_token_revoke, token_state
from .errors import ApplicationError
from .models import ApiToken, User

SESSION_NEW_KEY = "clinops_new_api_key"  # shown once, on the page the creation redirects to


def _code_first(request: HttpRequest) -> HttpResponse | None:
    """Roles that require MFA make a key only right after a code: set it up, or give one now."""
    user = cast(User, request.user)
    if not mfa.mfa_required(user):
        return None
    if not mfa.mfa_enabled(user):
        messages.info(request, "Set up two-step sign-in first: your role needs it before you can make an API key.")
        return HttpResponseRedirect(f"{reverse('core:mfa_setup')}?next={reverse('core:api_tokens')}")
    if not mfa.mfa_verified_recently(request, within=settings.CLINOPS_MFA_REVERIFY_SECONDS):
        messages.info(request, "Enter a code from your authenticator app, then make the key again.")
        return HttpResponseRedirect(f"{reverse('core:mfa_verify')}?next={reverse('core:api_tokens')}&reason=reverify")
    return None


@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    """The user's API keys; POST makes one and redirects here, where the key is shown once."""
    user = cast(User, request.user)
    if request.method == "POST":
        if (redirect := _code_first(request)) is not None:
            return redirect
        try:
            token, key = api_token_issue(
                user=user, name=request.POST.get("name", ""), mfa_verified=mfa.mfa_required(user)
            )
        except (ApplicationError, PermissionDenied) as error:
            messages.error(request, getattr(error, "message", str(error)))
        else:
            request.session[SESSION_NEW_KEY] = {"id": token.pk, "key": key}
            messages.success(request, f"API key “{token.name}” made. Copy it now: it is not shown again.")
        return HttpResponseRedirect(reverse("core:api_tokens"))
    new_key = request.session.pop(SESSION_NEW_KEY, None)
    now = timezone.now()
    tokens = [(token, token_state(token, now=now)) for token in api_token_list(user=user)]
    context = {
        "tokens": tokens,
        "new_key": new_key,
        "days": settings.CLINOPS_API_TOKEN_DAYS,
        "needs_code": mfa.mfa_required(user),
    }
    return render(request, "core/api_tokens.html", context)


@require_POST
def api_token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke one of the user's own keys (another user's is 404)."""
    try:
        token = api_token_revoke(user=cast(User, request.user), token_id=pk)
    except ApiToken.DoesNotExist:
        raise Http404("No such API key.") from None
    messages.success(request, f"API key “{token.name}” revoked: it no longer works.")
    return HttpResponseRedirect(reverse("core:api_tokens"))
