from typing import Any

from django.http import HttpRequest

from .navigation import nav_for
from .roles import Role, roles_of


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_items": nav_for(user, request.path),
        "user_role_labels": [Role.LABELS[r] for r in roles_of(user)],
    }
