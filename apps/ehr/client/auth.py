"""Authentication per ``EhrSource.auth_type``: none, a static bearer token, or SMART Backend
Services (a client assertion signed RS384/ES384 exchanged for an access token, cached in
memory until shortly before it expires). Tokens and keys are never logged."""

import hashlib
import logging
import secrets
import threading
import time
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ..models import EhrSource
from .errors import FhirConfigError, FhirHttpError, FhirTransportError
from .wire import TRANSIENT_STATUSES, json_or_empty

logger = logging.getLogger(__name__)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 240  # seconds; SMART allows at most 300, this leaves room for clock skew


class Auth:
    """No authentication (and the interface of the others)."""

    def headers(self, session: requests.Session, timeout: float) -> dict[str, str]:
        return {}

    def invalidate(self) -> bool:
        """Forget a cached credential; True if a fresh one may succeed where this one failed."""
        return False


class BearerAuth(Auth):
    def __init__(self, token: str) -> None:
        if not token:
            raise FhirConfigError("This source uses a bearer token but none is set.")
        self._token = token

    def headers(self, session: requests.Session, timeout: float) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}


# Access tokens, shared by every client of this process: (key) -> (token, monotonic expiry).
_token_cache: dict[tuple[str, ...], tuple[str, float]] = {}
_token_lock = threading.Lock()


def token_cache_clear() -> None:
    with _token_lock:
        _token_cache.clear()


class SmartBackendAuth(Auth):
    """SMART Backend Services: a signed client assertion (RS384/ES384) for an access token."""

    def __init__(self, source: EhrSource) -> None:
        missing = [
            name
            for name, value in (
                ("client id", source.client_id),
                ("token URL", source.token_url),
                ("private key", source.private_key_pem),
            )
            if not value
        ]
        if missing:
            raise FhirConfigError(f"SMART Backend Services needs a {', '.join(missing)} on this source.")
        self.client_id = source.client_id
        self.token_url = source.token_url
        self.scope = source.scope
        self.key_id = source.key_id
        self._pem = source.private_key_pem
        fingerprint = hashlib.sha256(self._pem.encode()).hexdigest()
        self._cache_key = (self.token_url, self.client_id, self.scope, self.key_id, fingerprint)
        self._source_name = source.name

    def _signing_key(self) -> tuple[Any, str]:
        try:
            key = serialization.load_pem_private_key(self._pem.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise FhirConfigError("The source's private key is not an unencrypted PEM private key.") from exc
        if isinstance(key, rsa.RSAPrivateKey):
            return key, "RS384"
        if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1":
            return key, "ES384"
        raise FhirConfigError("SMART Backend Services needs an RSA or P-384 EC private key (RS384 or ES384).")

    def _assertion(self) -> str:
        key, alg = self._signing_key()
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url,
            "jti": secrets.token_urlsafe(32),
            "exp": int(time.time()) + ASSERTION_LIFETIME,
        }
        headers = {"typ": "JWT", **({"kid": self.key_id} if self.key_id else {})}
        return jwt.encode(claims, key, algorithm=alg, headers=headers)

    def headers(self, session: requests.Session, timeout: float) -> dict[str, str]:
        now = time.monotonic()
        with _token_lock:
            cached = _token_cache.get(self._cache_key)
        if cached and cached[1] > now:
            return {"Authorization": f"Bearer {cached[0]}"}
        token, lifetime = self._fetch(session, timeout)
        # Renew a little before the EHR would refuse it: a fifth of its life, at most a minute.
        expires = now + max(lifetime - min(60.0, lifetime / 5), 0.0)
        with _token_lock:
            _token_cache[self._cache_key] = (token, expires)
        return {"Authorization": f"Bearer {token}"}

    def _fetch(self, session: requests.Session, timeout: float) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "scope": self.scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self._assertion(),
        }
        try:
            response = session.post(self.token_url, data=form, headers={"Accept": "application/json"}, timeout=timeout)
        except requests.Timeout as exc:
            raise FhirTransportError("The token endpoint did not answer in time.") from exc
        except requests.RequestException as exc:
            raise FhirTransportError(f"Could not reach the token endpoint ({exc.__class__.__name__}).") from exc
        if response.status_code >= 500 or response.status_code in TRANSIENT_STATUSES:
            raise FhirTransportError(
                f"HTTP {response.status_code} from the token endpoint", status=response.status_code
            )
        body = json_or_empty(response)
        if response.status_code >= 400:
            raise FhirHttpError(response.status_code, body, what="the token endpoint")
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise FhirHttpError(response.status_code, {"error": "no_access_token"}, what="the token endpoint")
        try:
            lifetime = float(body.get("expires_in", 300))
        except (TypeError, ValueError):
            lifetime = 300.0
        logger.info("ehr client: access token obtained for source %s (valid %ds)", self._source_name, lifetime)
        return token, lifetime

    def invalidate(self) -> bool:
        with _token_lock:
            return _token_cache.pop(self._cache_key, None) is not None


def auth_for(source: EhrSource) -> Auth:
    if source.auth_type == EhrSource.Auth.BEARER:
        return BearerAuth(source.bearer_token)
    if source.auth_type == EhrSource.Auth.SMART:
        return SmartBackendAuth(source)
    return Auth()
