"""The request type of a signed-in page: every page needs login (``LoginRequiredMiddleware``), so
views that act for the person annotate ``request: AuthenticatedRequest`` and pass ``request.user``
to services typed ``by: User``."""

from django.http import HttpRequest

from .models import User


class AuthenticatedRequest(HttpRequest):
    user: User  # narrowed: the middleware lets no anonymous request through
