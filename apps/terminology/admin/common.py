"""What every terminology admin shares: stewards change, other staff with view permission read."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from ..workflow import is_steward


class StewardAdmin(admin.ModelAdmin):
    """Change and add need the model permission and the steward capability; nothing is deleted."""

    class Media:
        css = {"all": ["terminology/admin.css"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_steward(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_steward(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StewardInline(admin.TabularInline):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_steward(request.user) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_steward(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
