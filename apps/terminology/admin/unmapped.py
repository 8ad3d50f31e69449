"""The unmapped-codes queue: what ingestion could not translate, and a way to map it."""

from typing import Any, cast
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from apps.core.errors import ApplicationError
from apps.core.models import User

from ..models import ConceptMap, ConceptMapElement, UnmappedCode
from ..selectors import map_open_version, maps_for_system
from ..services import version_draft_create
from ..workflow import State, is_steward
from .common import StewardAdmin


class StatusFilter(admin.SimpleListFilter):
    """The queue shows the open codes unless asked otherwise."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "Open"), ("resolved", "Resolved"), ("all", "All")]

    def choices(self, changelist: Any) -> Any:
        for value, title in self.lookup_choices:
            yield {
                "selected": (self.value() or "open") == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[UnmappedCode]) -> QuerySet[UnmappedCode]:
        value = self.value() or "open"
        if value == "open":
            return queryset.filter(resolved_at__isnull=True)
        if value == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


def draft_row_url(version_id: int, code: UnmappedCode) -> str:
    """The draft's page with a new row for the code, unless the draft already has one."""
    url = reverse("admin:terminology_conceptmapversion_change", args=[version_id])
    if ConceptMapElement.objects.filter(version_id=version_id, source_code=code.code).exists():
        return url
    return f"{url}?{urlencode({'add_code': code.code, 'add_display': code.display})}"


@admin.register(UnmappedCode)
class UnmappedCodeAdmin(StewardAdmin):
    # What a steward acts on first; the long system URI last.
    list_display = ["code", "display", "count", "last_seen_short", "status", "draft_link", "system", "example"]
    list_filter = [StatusFilter, "system"]
    search_fields = ["code", "display", "system", "example"]
    readonly_fields = ["system", "code", "display", "count", "first_seen", "last_seen", "example", "resolved_at",
                       "resolved_by_version"]  # fmt: skip

    @admin.display(description="last seen", ordering="last_seen")
    def last_seen_short(self, obj: UnmappedCode) -> str:
        return date_format(timezone.localtime(obj.last_seen), "DATETIME_FORMAT")  # the one date format

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # ingestion records them (services.unmapped_record)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # resolved by activating a mapping, never by hand

    @admin.display(description="status", ordering="resolved_at")
    def status(self, obj: UnmappedCode) -> str:
        if obj.resolved_at is None:
            return "Open"
        return f"Resolved {date_format(timezone.localtime(obj.resolved_at))}"

    @admin.display(description="")
    def draft_link(self, obj: UnmappedCode) -> str:
        if obj.resolved_at is not None:
            return ""
        url = reverse("admin:terminology_unmappedcode_draft", args=[obj.pk])
        return format_html('<a href="{}">Draft a mapping for this code</a>', url)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.draft_view)
        return [path("<int:pk>/draft/", view, name="terminology_unmappedcode_draft"), *super().get_urls()]

    def draft_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """GET: the maps this code can go into (straight to an open draft when there is one);
        POST: start a draft of the chosen map, then open it with the code in a new row."""
        code = get_object_or_404(UnmappedCode, pk=pk)
        if not is_steward(request.user):
            raise PermissionDenied("Only terminology stewards change concept maps.")
        maps = list(maps_for_system(code.system))
        if request.method == "POST":
            chosen = next((m for m in maps if str(m.pk) == request.POST.get("map")), None)
            if chosen is None:
                messages.error(request, "Choose the map to add the code to.")
                return redirect("admin:terminology_unmappedcode_draft", code.pk)
            try:
                version = version_draft_create(map_id=chosen.pk, by=cast(User, request.user), note=f"Map {code.code}.")
            except ApplicationError as error:
                messages.error(request, error.message)
                return redirect("admin:terminology_unmappedcode_draft", code.pk)
            return redirect(draft_row_url(version.pk, code))
        options = [(m, map_open_version(m.pk)) for m in maps]
        drafts = [version for _, version in options if version is not None and version.state == State.DRAFT]
        if len(options) == 1 and drafts:
            return redirect(draft_row_url(drafts[0].pk, code))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Draft a mapping for {code.code}",
            "opts": self.opts,
            "code": code,
            "options": [(m, v, draft_row_url(v.pk, code) if v and v.state == State.DRAFT else "") for m, v in options],
            "add_map_url": reverse("admin:terminology_conceptmap_add") if self._can_add_map(request) else "",
        }
        return TemplateResponse(request, "admin/terminology/unmappedcode/draft.html", context)

    def _can_add_map(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"terminology.add_{ConceptMap._meta.model_name}")
