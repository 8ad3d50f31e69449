"""Code systems and their concepts. Canonical ones are reference data (``fixtures/``), read-only here."""

from typing import Any

from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest

from ..models import CodeSystem, Concept
from .common import StewardAdmin, StewardInline


class ConceptInline(StewardInline):
    model = Concept
    fields = ["code", "display", "active"]
    extra = 0

    def get_extra(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> int:
        return 1 if self.has_add_permission(request, obj) else 0

    def _local(self, obj: Any) -> bool:
        return obj is not None and obj.kind == CodeSystem.Kind.LOCAL

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._local(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._local(obj) and super().has_change_permission(request, obj)


@admin.register(CodeSystem)
class CodeSystemAdmin(StewardAdmin):
    list_display = ["title", "url", "kind", "site", "source", "concept_count"]
    list_filter = ["kind", "site"]
    search_fields = ["title", "name", "url"]
    inlines = [ConceptInline]
    fields = ["title", "name", "url", "kind", "site", "source", "description", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CodeSystem]:
        active = Count("concepts", filter=Q(concepts__active=True))
        return super().get_queryset(request).select_related("site", "source").annotate(active_concepts=active)

    @admin.display(description="active concepts", ordering="active_concepts")
    def concept_count(self, obj: CodeSystem) -> int:
        return obj.active_concepts  # type: ignore[attr-defined]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # New systems are local (canonical ones come from fixtures/). A system's URL is what
        # codes arrive with and what maps and the unmapped queue refer to: fixed once made.
        return ["kind", "created_at"] if obj is None else ["url", "kind", "created_at"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.kind == CodeSystem.Kind.CANONICAL:
            return False  # reference data: change fixtures/terminology_*.json and re-load
        return super().has_change_permission(request, obj)
