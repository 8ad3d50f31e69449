"""Multi-factor authentication (django-otp): TOTP with one-time recovery codes.

Required for the roles in ``CLINOPS_MFA_REQUIRED_ROLES`` and for staff and superusers (the
admin); optional for everyone else, but once a user has set it up it is always asked. The
password step signs the user in as usual; ``MfaRequiredMiddleware`` then lets the session
reach nothing but the MFA pages and sign-out until ``SESSION_VERIFIED_AT`` is set by a
correct code. Changing MFA settings asks for a fresh code (``CLINOPS_MFA_REVERIFY_SECONDS``).
"""

import secrets
from binascii import unhexlify
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from auditlog.models import LogEntry
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django_otp import login as otp_login
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from .middleware import API_PREFIXES

SESSION_VERIFIED_AT = "clinops_mfa_verified_at"
SESSION_PENDING_KEY = "clinops_mfa_pending_key"
# Set for a session whose user neither needs nor has MFA, so later requests skip the lookups
# (a role given mid-session applies from the next sign-in).
SESSION_NOT_NEEDED = "clinops_mfa_not_needed"
RECOVERY_CODES = 10

Handler = Callable[[HttpRequest], HttpResponse]


def mfa_required(user: Any) -> bool:
    """Whether this user may not work without MFA (admin staff and the privileged roles)."""
    if user.is_staff or user.is_superuser:
        return True
    return user.groups.filter(name__in=settings.CLINOPS_MFA_REQUIRED_ROLES).exists()


def mfa_enabled(user: Any) -> bool:
    """Whether the user has a confirmed authenticator app."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def mfa_verified_recently(request: HttpRequest, *, within: int | None = None) -> bool:
    """Whether this session passed an MFA check (within the last ``within`` seconds, if given)."""
    at = request.session.get(SESSION_VERIFIED_AT)
    if at is None:
        return False
    return within is None or timezone.now().timestamp() - at <= within


def mfa_mark_verified(request: HttpRequest) -> None:
    request.session[SESSION_VERIFIED_AT] = timezone.now().timestamp()


def mfa_check_code(user: Any, code: str) -> Any | None:
    """The device that accepts ``code`` (a TOTP code or an unused recovery code, used up), or None."""
    code = "".join(code.split()).lower()
    if not code:
        return None
    for device in TOTPDevice.objects.filter(user=user, confirmed=True):
        if code.isdigit() and device.verify_token(code):
            return device
    for device in StaticDevice.objects.filter(user=user, confirmed=True):
        if device.verify_token(code):  # deletes the used token: a recovery code works once
            return device
    return None


def mfa_verify(request: HttpRequest, code: str) -> bool:
    """Check a code for ``request.user``; on success the session counts as MFA-verified."""
    device = mfa_check_code(request.user, code)
    if device is None:
        return False
    otp_login(request, device)
    mfa_mark_verified(request)
    return True


def totp_pending_key(request: HttpRequest) -> str:
    """The secret offered on the setup page, kept in the session until a code confirms it."""
    key = request.session.get(SESSION_PENDING_KEY)
    if not key:
        key = request.session[SESSION_PENDING_KEY] = random_hex(20)
    return key


def totp_config_url(user: Any, key: str) -> str:
    return TOTPDevice(user=user, key=key, name="authenticator").config_url


@transaction.atomic
def mfa_enable(*, request: HttpRequest, code: str) -> list[str] | None:
    """Confirm the pending secret with a code: replace the user's devices, return new recovery codes."""
    key = request.session.get(SESSION_PENDING_KEY)
    if not key or not code.strip().isdigit() or not TOTP(unhexlify(key)).verify(int(code.strip()), tolerance=1):
        return None
    user = request.user
    TOTPDevice.objects.filter(user=user).delete()
    device = TOTPDevice.objects.create(user=user, key=key, name="authenticator", confirmed=True)
    request.session.pop(SESSION_NOT_NEEDED, None)
    codes = _recovery_codes_replace(user)
    del request.session[SESSION_PENDING_KEY]
    otp_login(request, device)
    mfa_mark_verified(request)
    _audit(user, "authenticator set up")
    return codes


@transaction.atomic
def mfa_recovery_codes_regenerate(*, user: Any) -> list[str]:
    """Replace the user's recovery codes; the old ones stop working."""
    codes = _recovery_codes_replace(user)
    _audit(user, "recovery codes replaced")
    return codes


@transaction.atomic
def mfa_disable(*, user: Any) -> None:
    """Remove the user's authenticator and recovery codes (only for users who do not need MFA)."""
    if mfa_required(user):
        raise PermissionError("MFA is required for this user's role.")
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    _audit(user, "MFA turned off")


def _recovery_codes_replace(user: Any) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
    codes = [f"{secrets.token_hex(4)}{secrets.token_hex(1)}" for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def recovery_codes_left(user: Any) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def _audit(user: Any, what: str) -> None:
    # The device tables are not audited (they hold secrets): record the event on the user.
    LogEntry.objects.log_create(
        user, force_log=True, action=LogEntry.Action.UPDATE, changes={"mfa": ["", what]}, actor=user
    )


class MfaRequiredMiddleware:
    """Until a session passes MFA, let it reach only the MFA pages and sign-out."""

    EXEMPT_URL_NAMES = ("core:mfa_verify", "core:mfa_setup", "logout", "login")

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or mfa_verified_recently(request):
            return self.get_response(request)
        if request.session.get(SESSION_NOT_NEEDED):
            return self.get_response(request)
        exempt = {reverse(name) for name in self.EXEMPT_URL_NAMES}
        if request.path in exempt or request.path.startswith(f"/{settings.STATIC_URL.strip('/')}/"):
            return self.get_response(request)
        if mfa_enabled(user):
            target = "core:mfa_verify"
        elif mfa_required(user):
            target = "core:mfa_setup"
        else:
            request.session[SESSION_NOT_NEEDED] = True
            return self.get_response(request)
        if request.path.startswith(API_PREFIXES):
            return JsonResponse({"detail": "Multi-factor verification is required; sign in again."}, status=403)
        next_url = request.get_full_path() if request.method == "GET" else reverse("core:home")
        return HttpResponseRedirect(f"{reverse(target)}?{urlencode({'next': next_url})}")


def b32_secret(key: str) -> str:
    """The secret as the base32 text an authenticator app accepts when typed, in groups of four."""
    from base64 import b32encode

    text = b32encode(unhexlify(key)).decode()
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))
