"""API keys: made, listed and revoked by their user (``/account/api-keys/``), expiring, and for
roles that require MFA made only right after a code, so a key cannot be a way around MFA.

    api_token_issue   — a new key for a user (returned once; only its hash is kept)
    api_token_list    — the user's keys, newest first
    api_token_revoke  — the key stops working at once
    ApiTokenAuthentication — DRF: ``Authorization: Token <key>`` or ``Bearer <key>``

A key of an MFA-required user that was not made after a code (one made before this rule, or by
an operator) is refused, as is an expired or revoked one, or one whose user is inactive.
"""

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from .errors import ApplicationError
from .mfa import mfa_required
from .models import ApiToken, User

KEYWORDS = ("Token", "Bearer")
LAST_USED_RESOLUTION = timedelta(minutes=5)  # last_used_at is written at most this often


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def lifetime() -> timedelta:
    return timedelta(days=settings.CLINOPS_API_TOKEN_DAYS)


@transaction.atomic
def api_token_issue(*, user: User, name: str, mfa_verified: bool) -> tuple[ApiToken, str]:
    """A new key for ``user``, valid for CLINOPS_API_TOKEN_DAYS; the key is returned once.

    ``mfa_verified``: the user has just given a code. Required when the user's role requires MFA
    (PermissionDenied otherwise)."""
    name = name.strip()
    if not name or len(name) > 80 or "\x00" in name:
        raise ApplicationError("Name the key (up to 80 characters): what or who will use it.", code="name")
    if mfa_required(user) and not mfa_verified:
        raise PermissionDenied("Your role requires two-step sign-in: confirm a code before making an API key.")
    key = secrets.token_urlsafe(32)
    now = timezone.now()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        key_hash=_hash(key),
        key_prefix=key[:8],
        created_at=now,
        expires_at=now + lifetime(),
        created_with_mfa=mfa_verified,
    )
    return token, key


def api_token_list(*, user: User) -> QuerySet[ApiToken]:
    """The user's keys, newest first (revoked and expired ones included, marked as such)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


@transaction.atomic
def api_token_revoke(*, user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's own keys; another user's key is "not found" (no hint it exists)."""
    token = ApiToken.objects.select_for_update().filter(pk=token_id, user=user).first()
    if token is None:
        raise ApiToken.DoesNotExist
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def token_state(token: ApiToken, *, now: Any = None) -> str:
    now = now or timezone.now()
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at <= now:
        return "expired"
    if mfa_required(token.user) and not token.created_with_mfa:
        return "needs a new key (made without a code)"
    return "active"


class ApiTokenAuthentication(BaseAuthentication):
    """``Authorization: Token <key>`` (or ``Bearer <key>``, as FHIR clients send) with an active key."""

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].decode(errors="replace") not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Send one key: Authorization: Token <key>.")
        try:
            key = parts[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The key is not valid.") from None
        token = ApiToken.objects.select_related("user").filter(key_hash=_hash(key)).first()
        now = timezone.now()
        if token is None or not token.user.is_active or token_state(token, now=now) != "active":
            raise exceptions.AuthenticationFailed(
                "The key is not valid, has expired or was revoked; make a new one on your account's API keys page."
            )
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Token realm="clinops"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes the key (drf-spectacular)."""

    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'An API key from /account/api-keys/, sent as "Token <key>" (or "Bearer <key>").',
        }
