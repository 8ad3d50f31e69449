"""A concept map version's page: its rows (editable only on a draft), its diff against the
active version, the impact preview, its review history, and one button per transition."""

import json
from collections.abc import Callable
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from apps.core.errors import ApplicationError
from apps.core.models import User

from ..exchange import csv_export, fhir_export
from ..impact import impact_items, impact_preview
from ..models import Concept, ConceptMapElement, ConceptMapVersion
from ..rows import Row, rows_problems
from ..selectors import map_active_version, version_diff
from ..services import (
    version_activate,
    version_approve,
    version_edit,
    version_reject,
    version_retire,
    version_submit,
)
from ..workflow import OPEN, State, four_eyes_problem, is_steward
from .common import StewardAdmin
from .maps import version_link

ROW_FIELDS = ["source_code", "source_display", "relationship", "target_code", "comment"]


def _target_concepts(version: ConceptMapVersion) -> dict[str, str]:
    concepts = Concept.objects.filter(system_id=version.map.target_system_id, active=True).order_by("code")
    return dict(concepts.values_list("code", "display"))


def _row(data: dict[str, Any], displays: dict[str, str]) -> Row:
    target = data.get("target_code") or ""
    return Row(
        source_code=(data.get("source_code") or "").strip(),
        source_display=(data.get("source_display") or "").strip(),
        relationship=data.get("relationship") or "",
        target_code=target,
        target_display=displays.get(target, ""),
        comment=(data.get("comment") or "").strip(),
    )


class ElementFormSet(BaseInlineFormSet):
    """Checks the whole resulting row set with the same rules the service applies."""

    concepts: dict[str, str] = {}
    target_title = ""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        rows = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or (form.instance.pk is None and not form.has_changed()):
                continue
            rows.append(_row(data, self.concepts))
        if problems := rows_problems(rows, target_codes=set(self.concepts), target_title=self.target_title):
            raise ValidationError(problems)


class ElementInline(admin.TabularInline):
    """The rows. Editable only on a draft, by a steward; otherwise shown read-only."""

    model = ConceptMapElement
    formset = ElementFormSet
    extra = 0
    verbose_name_plural = "mapping rows"

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if self._editable(request, obj):
            return ROW_FIELDS
        return ["source_code", "source_display", "relationship", "target_code", "target_display", "comment"]

    def _editable(self, request: HttpRequest, obj: Any) -> bool:
        return obj is not None and obj.state == State.DRAFT and is_steward(request.user)

    def get_extra(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> int:
        return 1 if self._editable(request, obj) else 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Removing a row from a draft is an edit of the draft (audited); versions are never deleted.
        return self._editable(request, obj)

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        if not self._editable(request, obj):
            return super().get_formset(request, obj, **kwargs)
        concepts = _target_concepts(obj)
        choices = [("", "— none: not mapped —"), *[(code, f"{code} · {display}") for code, display in concepts.items()]]

        class ElementForm(forms.ModelForm):
            target_code = forms.ChoiceField(choices=choices, required=False, label="Target code")

            class Meta:
                model = ConceptMapElement
                fields = ROW_FIELDS
                widgets = {
                    "comment": forms.TextInput(attrs={"size": 22}),
                    "source_display": forms.TextInput(attrs={"size": 20}),
                    "source_code": forms.TextInput(attrs={"size": 10}),
                }

        formset = super().get_formset(request, obj, form=ElementForm, **kwargs)
        formset.concepts = concepts  # type: ignore[attr-defined]  # read by the formset's template
        formset.target_title = obj.map.target_system.title  # type: ignore[attr-defined]
        return formset


SUBMIT_BUTTON = "_submit_for_review"  # the draft's own form: its rows are saved, then it is submitted


class TransitionForm(forms.Form):
    comment = forms.CharField(required=False, max_length=2000)
    confirmed = forms.BooleanField(required=False)  # "Activate now" asks first
    reason = forms.CharField(required=False, max_length=2000)
    at = forms.DateTimeField(required=False, input_formats=["%Y-%m-%dT%H:%M"])


def _activate_at(version: ConceptMapVersion, by: Any, data: dict[str, Any]) -> Any:
    at = data.get("at")
    if at is None or at <= timezone.now():
        raise ApplicationError("Choose a time in the future to schedule the activation.", code="invalid_time")
    return version_activate(version_id=version.pk, by=by, at=at)


# name -> (what the button says it did, the service call)
TRANSITIONS: dict[str, tuple[str, Callable[[ConceptMapVersion, Any, dict[str, Any]], Any]]] = {
    "submit": ("submitted for review", lambda v, by, d: version_submit(version_id=v.pk, by=by, comment=d["comment"])),
    "approve": ("approved", lambda v, by, d: version_approve(version_id=v.pk, by=by, comment=d["comment"])),
    "reject": ("sent back to draft", lambda v, by, d: version_reject(version_id=v.pk, by=by, comment=d["comment"])),
    "activate": ("activated", lambda v, by, d: version_activate(version_id=v.pk, by=by)),
    "schedule": ("scheduled for activation", _activate_at),
    "retire": ("retired", lambda v, by, d: version_retire(version_id=v.pk, by=by, reason=d["reason"])),
}


@admin.register(ConceptMapVersion)
class ConceptMapVersionAdmin(StewardAdmin):
    list_display = ["__str__", "map", "state_label", "author", "approver", "activate_at", "activated_at", "retired_at"]
    list_filter = ["state", "map"]
    list_select_related = ["map", "author", "approver"]
    search_fields = ["map__name", "map__title", "note"]
    inlines = [ElementInline]
    change_form_template = "admin/terminology/conceptmapversion/change_form.html"
    fieldsets = [
        (None, {"fields": ["map_link", "number", "state_label", "based_on_link", "note"]}),
        ("People", {"fields": ["author", "last_editor", "submitted_by", "approver"]}),
        (
            "Times",
            {
                "classes": ["collapse"],
                "fields": [
                    "created_at",
                    "submitted_at",
                    "approved_at",
                    "activate_at",
                    "activated_at",
                    "retired_at",
                    "retired_reason",
                ],
            },
        ),
    ]
    readonly_fields = [
        "map_link",
        "number",
        "state_label",
        "based_on_link",
        "author",
        "last_editor",
        "submitted_by",
        "approver",
        "created_at",
        "submitted_at",
        "approved_at",
        "activate_at",
        "activated_at",
        "retired_at",
        "retired_reason",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConceptMapVersion]:
        return super().get_queryset(request).select_related("map__source_system", "map__target_system")

    @admin.display(description="state", ordering="state")
    def state_label(self, obj: ConceptMapVersion) -> str:
        return obj.get_state_display()

    @admin.display(description="map")
    def map_link(self, obj: ConceptMapVersion) -> str:
        url = reverse("admin:terminology_conceptmap_change", args=[obj.map_id])
        return format_html(
            '<a href="{}">{}</a> ({} → {})', url, obj.map.title, obj.map.source_system, obj.map.target_system
        )

    @admin.display(description="copied from")
    def based_on_link(self, obj: ConceptMapVersion) -> str:
        return version_link(obj.based_on)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return self.readonly_fields

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "note":
            kwargs["widget"] = forms.Textarea(attrs={"rows": 2, "cols": 80})
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a version starts as a draft from its map's page, or an import

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Only a draft changes; every other version is shown read-only (state is never edited here).
        return super().has_change_permission(request, obj) and (obj is None or obj.state == State.DRAFT)

    # --- saving a draft: one service call for the note and every row change ----------------

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Nothing here: ``save_related`` hands the note and the rows to ``version_edit``."""

    def save_related(self, request: HttpRequest, form: Any, formsets: list[Any], change: bool) -> None:
        version = form.instance
        upserts: list[tuple[int | None, Row]] = []
        deletes: list[int] = []
        for formset in formsets:
            concepts = getattr(formset, "concepts", {})
            for row_form in formset.forms:
                data = getattr(row_form, "cleaned_data", None)
                if not data:
                    continue
                pk = row_form.instance.pk
                if data.get("DELETE"):
                    if pk:
                        deletes.append(pk)
                elif row_form.has_changed():
                    upserts.append((pk, _row(data, concepts)))
        version_edit(
            version_id=version.pk,
            by=cast(User, request.user),
            upserts=upserts,
            deletes=deletes,
            note=form.cleaned_data["note"],
        )

    def construct_change_message(self, request: HttpRequest, form: Any, formsets: Any, add: bool = False) -> Any:
        return "Edited the draft's rows and note (version_edit)."

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as error:
            # Raised by the service under its lock (e.g. the draft was submitted meanwhile):
            # the admin's transaction is rolled back; say why and show the version as it is.
            messages.error(request, error.message)
            return HttpResponseRedirect(request.path)

    def response_change(self, request: HttpRequest, obj: Any) -> HttpResponse:
        if SUBMIT_BUTTON not in request.POST:
            messages.success(request, f"Version {obj.number} saved.")
            return redirect("admin:terminology_conceptmapversion_change", obj.pk)
        # "Submit for review" belongs to the draft's form: what is on screen is saved first, so
        # an unsaved row is never lost; a refusal keeps the saved rows and says why.
        try:
            version_submit(
                version_id=obj.pk, by=cast(User, request.user), comment=request.POST.get("submit_comment", "")
            )
        except ApplicationError as error:
            messages.error(request, f"Version {obj.number} saved, but not submitted: {error.message}")
        else:
            messages.success(request, f"Version {obj.number} saved and submitted for review.")
        return redirect("admin:terminology_conceptmapversion_change", obj.pk)

    def get_formset_kwargs(self, request: HttpRequest, obj: Any, inline: Any, prefix: str) -> dict[str, Any]:
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if request.method == "GET" and request.GET.get("add_code"):
            # From the unmapped-codes queue: the new row starts with the code and its display.
            kwargs["initial"] = [
                {
                    "source_code": request.GET["add_code"][:128],
                    "source_display": request.GET.get("add_display", "")[:255],
                }
            ]
        return kwargs

    # --- the page ---------------------------------------------------------------------------

    def render_change_form(self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        version = context.get("original")
        if version is not None:
            steward = is_steward(request.user)
            context.update(
                steward=steward,
                is_open=version.state in OPEN,
                diff=version_diff(version),
                impact=impact_preview(version) if version.state in OPEN else None,
                comments=version.comments.select_related("by"),
                four_eyes_problem=four_eyes_problem(version, request.user) if steward else "",
                can={name: steward and self._allowed(version, name) for name in TRANSITIONS},
                row_count=version.elements.count(),
            )
        return super().render_change_form(request, context, *args, **kwargs)

    @staticmethod
    def _allowed(version: ConceptMapVersion, name: str) -> bool:
        state = version.state
        return {
            "submit": state == State.DRAFT,
            "approve": state == State.IN_REVIEW,
            "reject": state in (State.IN_REVIEW, State.APPROVED),
            "activate": state == State.APPROVED,
            "schedule": state == State.APPROVED,
            "retire": state != State.RETIRED,
        }[name]

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        own = [
            path(
                "<int:pk>/transition/<slug:name>/",
                view(self.transition_view),
                name="terminology_conceptmapversion_transition",
            ),
            path("<int:pk>/activate/", view(self.activate_confirm_view), name="terminology_conceptmapversion_activate"),
            path("<int:pk>/impact/", view(self.impact_view), name="terminology_conceptmapversion_impact"),
            path("<int:pk>/export.csv", view(self.export_csv_view), name="terminology_conceptmapversion_export_csv"),
            path("<int:pk>/export.json", view(self.export_fhir_view), name="terminology_conceptmapversion_export_fhir"),
        ]
        return own + super().get_urls()

    def _version(self, request: HttpRequest, pk: int) -> ConceptMapVersion:
        version = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_view_permission(request, version):
            raise PermissionDenied
        return version

    def transition_view(self, request: HttpRequest, pk: int, name: str) -> HttpResponse:
        """POST: run one transition through its service; the outcome is a message on the version page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        version = self._version(request, pk)
        if name not in TRANSITIONS:
            raise Http404(f"No transition {name!r}.")
        if not is_steward(request.user):
            raise PermissionDenied("Only terminology stewards change concept maps.")
        form = TransitionForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Enter the time as shown (year-month-day and hours:minutes).")
            return redirect("admin:terminology_conceptmapversion_change", version.pk)
        if name == "activate" and not form.cleaned_data["confirmed"]:
            return redirect("admin:terminology_conceptmapversion_activate", version.pk)
        done, call = TRANSITIONS[name]
        before = impact_preview(version).total if name == "activate" else 0
        try:
            call(version, request.user, form.cleaned_data)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Version {version.number} {done}.{self._rerouted(version, before)}")
        return redirect("admin:terminology_conceptmapversion_change", version.pk)

    @staticmethod
    def _rerouted(version: ConceptMapVersion, before: int) -> str:
        if not before:
            return ""
        left = impact_preview(version).total  # what the re-route (after commit) did not change
        moved = before - left
        text = f" {moved} open work item{'s' if moved != 1 else ''} re-routed."
        return text + (f" {left} could not be re-routed: see the impact preview." if left else "")

    def activate_confirm_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """GET: what "Activate now" will do (the version it replaces, the items it re-routes) and
        the button that does it (a POST to the transition, then back to the version page)."""
        version = self._version(request, pk)
        if not is_steward(request.user):
            raise PermissionDenied("Only terminology stewards change concept maps.")
        if version.state != State.APPROVED:
            messages.error(
                request,
                f"Version {version.number} is {version.get_state_display().lower()}: "
                "only an approved version can be activated.",
            )
            return redirect("admin:terminology_conceptmapversion_change", version.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Activate version {version.number} of {version.map.title}?",
            "version": version,
            "active": map_active_version(version.map_id),
            "diff": version_diff(version),
            "impact": impact_preview(version),
        }
        return TemplateResponse(request, "admin/terminology/conceptmapversion/activate_confirm.html", context)

    def impact_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The open work items the version would change (those its impact preview counts), as a
        steward may see them: item number, site, queue and what changes; never patient data."""
        version = self._version(request, pk)
        workflow, queue = request.GET.get("workflow", "")[:100], request.GET.get("queue", "")[:100]
        items, failures = impact_items(version, workflow=workflow, queue=queue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Open work items version {version.number} of {version.map.title} would change",
            "version": version,
            "items": items,
            "failures": failures,
            "workflow": workflow,
            "queue": queue,
            "is_open": version.state in OPEN,
        }
        return TemplateResponse(request, "admin/terminology/conceptmapversion/impact.html", context)

    def export_csv_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = self._version(request, pk)
        response = HttpResponse(csv_export(version), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{version.map.name}-v{version.number}.csv"'
        return response

    def export_fhir_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = self._version(request, pk)
        body = json.dumps(fhir_export(version), indent=2, ensure_ascii=False)
        response = HttpResponse(body, content_type="application/fhir+json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{version.map.name}-v{version.number}.json"'
        return response
