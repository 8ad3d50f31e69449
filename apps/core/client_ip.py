"""The client's address as the application should see it: behind N trusted reverse proxies
(``CLINOPS_TRUSTED_PROXY_COUNT``), the address the outermost of them saw, taken from
``X-Forwarded-For``; with none (the default), the connection's own address.

Each proxy appends the address it received the request from to ``X-Forwarded-For``, so with N
proxies the client is the N-th entry from the right: anything further left was sent by the
client itself and proves nothing. django-axes keys lockouts on this (``AXES_CLIENT_IP_CALLABLE``),
so behind a proxy one person's failed sign-ins no longer lock everyone out, and a forged header
cannot pick whose lockout counts; the access log records it too.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address (None if it cannot be told)."""
    remote = _address(request.META.get("REMOTE_ADDR") or "")
    proxies = int(getattr(settings, "CLINOPS_TRUSTED_PROXY_COUNT", 0))
    if proxies <= 0:
        return remote
    forwarded = [part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < proxies:
        # Not the chain of proxies the deployment says is in front: a request that bypassed them.
        return remote
    return _address(forwarded[-proxies]) or remote
