"""Concept maps: what maps to what; starting a change (a new draft) or importing one from a file."""

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from apps.core.errors import ApplicationError
from apps.core.models import User

from ..models import CodeSystem, ConceptMap, ConceptMapVersion
from ..services import version_draft_create, version_import_file
from ..workflow import OPEN, State, is_steward
from .common import StewardAdmin

MAX_IMPORT_BYTES = 5 * 1024 * 1024


class ConceptMapForm(forms.ModelForm):
    class Meta:
        model = ConceptMap
        fields = ["name", "title", "url", "description", "source_system", "target_system"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "url" in self.fields:
            self.fields["url"].required = False
            self.fields["url"].help_text = "Canonical URL (ConceptMap.url); empty: made from the name"
        if "target_system" in self.fields:
            cast(forms.ModelChoiceField, self.fields["target_system"]).queryset = CodeSystem.objects.filter(
                kind=CodeSystem.Kind.CANONICAL
            )
            self.fields["target_system"].help_text = "A canonical code system: what workflows route on"

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if "url" in self.fields and not data.get("url") and data.get("name"):
            data["url"] = ConceptMap.default_url(data["name"])
            self.instance.url = data["url"]
        return data


def version_link(version: ConceptMapVersion | None) -> str:
    if version is None:
        return "—"
    url = reverse("admin:terminology_conceptmapversion_change", args=[version.pk])
    return format_html('<a href="{}">v{} · {}</a>', url, version.number, version.get_state_display())


class VersionInline(admin.TabularInline):
    """The map's versions, newest first, read-only: a version is changed on its own page."""

    model = ConceptMapVersion
    fields = ("version", "state_label", "author", "approver", "activated_at", "retired_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    @admin.display(description="version")
    def version(self, obj: ConceptMapVersion) -> str:
        return version_link(obj)

    @admin.display(description="state")
    def state_label(self, obj: ConceptMapVersion) -> str:
        return obj.get_state_display()

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ConceptMap)
class ConceptMapAdmin(StewardAdmin):
    form = ConceptMapForm
    list_display = ["name", "title", "source_system", "target_system", "active_version", "open_version"]
    list_select_related = ["source_system", "target_system"]
    search_fields = ["name", "title", "url", "source_system__url", "target_system__url"]
    inlines = [VersionInline]
    change_form_template = "admin/terminology/conceptmap/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConceptMap]:
        return super().get_queryset(request).prefetch_related("versions")

    def _version(self, obj: ConceptMap, states: tuple[str, ...]) -> ConceptMapVersion | None:
        return next((v for v in obj.versions.all() if v.state in states), None)

    @admin.display(description="active version")
    def active_version(self, obj: ConceptMap) -> str:
        return version_link(self._version(obj, (State.ACTIVE,)))

    @admin.display(description="change in progress")
    def open_version(self, obj: ConceptMap) -> str:
        return version_link(self._version(obj, OPEN))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # What a map reads and writes, and how it is named, are fixed once it exists.
        return [] if obj is None else ["name", "url", "source_system", "target_system"]

    def get_urls(self) -> list[URLPattern]:
        own = [
            path("<int:pk>/draft/", self.admin_site.admin_view(self.draft_view), name="terminology_conceptmap_draft"),
            path(
                "<int:pk>/import/", self.admin_site.admin_view(self.import_view), name="terminology_conceptmap_import"
            ),
        ]
        return own + super().get_urls()

    def render_change_form(self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        obj = context.get("original")
        if obj is not None:
            context["steward"] = is_steward(request.user)
            context["active_version"] = self._version(obj, (State.ACTIVE,))
            context["open_version"] = self._version(obj, OPEN)
        return super().render_change_form(request, context, *args, **kwargs)

    def _map(self, request: HttpRequest, pk: int) -> ConceptMap:
        """The map a steward acts on (404 if none; 403 for anyone but a steward)."""
        concept_map = get_object_or_404(ConceptMap, pk=pk)
        if not is_steward(request.user):
            raise PermissionDenied("Only terminology stewards change concept maps.")
        return concept_map

    def draft_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """POST: start a draft copied from the active version, then open it."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        concept_map = self._map(request, pk)
        try:
            version = version_draft_create(
                map_id=concept_map.pk, by=cast(User, request.user), note=request.POST.get("note", "")
            )
        except ApplicationError as error:
            messages.error(request, error.message)
            return redirect("admin:terminology_conceptmap_change", concept_map.pk)
        messages.success(
            request, f"Version {version.number} started as a draft: edit its rows, then submit it for review."
        )
        return redirect("admin:terminology_conceptmapversion_change", version.pk)

    def import_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """POST a .csv or FHIR ConceptMap .json file: a new draft with exactly its rows, or a clear error."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        concept_map = self._map(request, pk)
        upload = request.FILES.get("file")
        back = redirect("admin:terminology_conceptmap_change", concept_map.pk)
        if upload is None:
            messages.error(request, "Choose a .csv or FHIR ConceptMap .json file to import.")
            return back
        if upload.size and upload.size > MAX_IMPORT_BYTES:
            messages.error(request, f"{upload.name} is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB.")
            return back
        try:
            version = version_import_file(
                name=upload.name or "upload",
                content=upload.read(),
                by=cast(User, request.user),
                map_name=concept_map.name,
            )
        except ApplicationError as error:
            messages.error(request, f"Nothing was imported. {error.message}")
            return back
        messages.success(request, f"{upload.name} imported as draft version {version.number}.")
        return redirect("admin:terminology_conceptmapversion_change", version.pk)
