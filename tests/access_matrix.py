"""The access matrix: for every URL, what each role gets at its own site and at another.

Every app adds a row for each URL it serves; ``test_every_url_is_in_the_matrix`` fails when a
URL has no row. A row lists the answer per role (``anonymous`` included) for a request made
at one of the user's own sites; for site-scoped URLs ``other_site`` is the answer for a site
the user is not a member of (a patient's data there must be invisible: 404, never 200).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apps.core.roles import Role

ANON = "anonymous"
ROLES = (ANON, *Role.ALL)
STAFF = {Role.TERMINOLOGY_STEWARD, Role.INTEGRATION_ADMIN}


def every(status: int, **overrides: int) -> dict[str, int]:
    """The same status for every signed-in role, anonymous redirected to login, unless overridden."""
    answer = dict.fromkeys(Role.ALL, status)
    answer[ANON] = 302
    answer.update(overrides)
    return answer


@dataclass(frozen=True)
class Row:
    name: str  # URL name, with namespace
    expected: dict[str, int]
    method: str = "get"
    # Builds the URL kwargs for a site (and whatever objects the URL needs there); None when
    # the URL is not site-scoped.
    kwargs: Callable[[Any], dict[str, Any]] | None = None
    other_site: int = 404
    data: dict[str, Any] = field(default_factory=dict)
    api: bool = False

    @property
    def site_scoped(self) -> bool:
        return self.kwargs is not None

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.name}"


ROWS: list[Row] = [
    Row("login", {**every(302), ANON: 200}),
    Row("logout", every(302, anonymous=302), method="post"),
    Row("healthz", every(200, anonymous=200)),
    Row("admin:index", every(302, **dict.fromkeys(STAFF, 200))),
    Row("api-schema", every(200, anonymous=401), api=True),
    Row("core-api:me", every(200, anonymous=401), api=True),
    Row("core:home", every(200)),
    Row("core:site_detail", every(200), kwargs=lambda site: {"code": site.code}),
    # The EHR's webhook authenticates by the source's bearer token, never by a session.
    Row(
        "ehr-webhook",
        every(401, anonymous=401),
        method="post",
        kwargs=lambda site: {"source": "no-such-source"},
        other_site=401,
    ),
]

# URL namespaces whose every URL is covered by a row of the namespace's own (the admin's
# hundreds of model URLs share the admin's access rule, checked through admin:index here
# and by Django's own tests).
COVERED_NAMESPACES = {"admin"}
