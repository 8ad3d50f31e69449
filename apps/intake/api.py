"""The intake API: a site's visits of one day, one intake, and one POST endpoint per action.
Errors map through apps.core.api_errors (400 / 403 / 409); patient data is access-logged."""

from collections.abc import Callable
from datetime import date
from typing import Any

from django.http import Http404
from django_fsm import ConcurrentTransition
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers as drf
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.access_log import access_log, access_log_listed
from apps.core.errors import ConflictError
from apps.core.scoping import sites_for
from apps.workflow import services as work
from apps.workflow.serializers import (
    EmptyInput,
    NoteAddInput,
    NoteSerializer,
    OptionalReasonInput,
    OutreachInput,
    OutreachSerializer,
    ReasonInput,
)

from . import selectors, services
from . import serializers as s

TAGS = ["intake"]


class WorksIntake(BasePermission):
    message = "Your role does not work pre-visit intake."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.has_perm("core.work_intake"))


PERMISSIONS = [IsAuthenticated, WorksIntake]


class IntakeDayApi(APIView):
    """The visits of one day at one of your sites, in time order, with checklist and missing items."""

    permission_classes = PERMISSIONS

    @extend_schema(
        tags=TAGS,
        operation_id="intake_day",
        parameters=[
            OpenApiParameter("site", OpenApiTypes.STR, description="Site code (one of yours; default: your first)"),
            OpenApiParameter("day", OpenApiTypes.STR, description="today, tomorrow or YYYY-MM-DD (site time)"),
        ],
        responses=s.IntakeSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        sites = list(sites_for(request.user))
        code = request.query_params.get("site")
        site = next((x for x in sites if x.code == code), None) if code else (sites[0] if sites else None)
        if site is None:
            raise Http404("No such site among yours.")
        today, tomorrow = selectors.intake_days(site)
        which = request.query_params.get("day", "today")
        try:
            day = {"today": today, "tomorrow": tomorrow}.get(which) or date.fromisoformat(which)
        except ValueError:
            raise ValidationError({"day": ["Use today, tomorrow or a date such as 2026-03-01."]}) from None
        if abs((day - today).days) > 31:
            raise ValidationError({"day": ["Choose a day within a month of today."]})
        intakes = [row.intake for row in selectors.intake_day(user=request.user, site=site, day=day)]
        access_log_listed(request, intakes)  # the selector attached each intake's patient
        return Response(s.IntakeSerializer(intakes, many=True).data)


class IntakeDetailApi(APIView):
    """One intake with its checklist (read-only: actions have their own endpoints)."""

    permission_classes = PERMISSIONS

    @extend_schema(tags=TAGS, operation_id="intake_detail", responses=s.IntakeSerializer)
    def get(self, request: Request, pk: int) -> Response:
        row = selectors.intake_row(user=request.user, intake_id=pk)
        if row.patient is not None:
            access_log(request, patient=row.intake.patient_ref, what=f"intake:{pk}", site=row.intake.site)
        return Response(s.IntakeSerializer(row.intake).data)


class _ActionApi(APIView):
    permission_classes = PERMISSIONS
    input_serializer: type[drf.Serializer] = EmptyInput
    call: Callable[[int, Any, dict[str, Any]], Any]
    created: type[drf.Serializer] | None = None

    def handle(self, request: Request, pk: int) -> Response:
        selectors.intake_get(user=request.user, intake_id=pk)  # 404 outside your sites
        data = self.input_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = type(self).call(pk, request.user, dict(data.validated_data))
        except ConcurrentTransition as exc:
            raise ConflictError("This intake changed meanwhile; read it again.", code="concurrent_change") from exc
        if self.created is not None:
            return Response(self.created(result).data, status=201)
        intake = selectors.intake_get(user=request.user, intake_id=pk)
        return Response(s.IntakeSerializer(intake).data)


ACTIONS: dict[str, tuple[Callable[..., Any], type[drf.Serializer], type[drf.Serializer] | None, str | None]] = {
    "check": (lambda i, by, d: services.intake_check_set(intake_id=i, key=d["key"], done=d["done"], by=by),
              s.CheckInput, None, services.intake_check_set.__doc__),
    "check_in": (lambda i, by, d: services.intake_check_in(intake_id=i, by=by), EmptyInput, None,
                 services.intake_check_in.__doc__),
    "no_show": (lambda i, by, d: services.intake_no_show(intake_id=i, by=by, reason=d["reason"]),
                OptionalReasonInput, None, services.intake_no_show.__doc__),
    "cancel": (lambda i, by, d: services.intake_cancel(intake_id=i, by=by, reason=d["reason"]), ReasonInput,
               None, services.intake_cancel.__doc__),
    "outreach": (lambda i, by, d: services.intake_outreach_record(intake_id=i, by=by, **d), OutreachInput,
                 OutreachSerializer, services.intake_outreach_record.__doc__),
    "notes": (lambda i, by, d: work.note_add(workflow="intake", item_id=i, text=d["text"], by=by), NoteAddInput,
              NoteSerializer, "Add a note to the intake's timeline."),
}  # fmt: skip


def _action_api(name: str) -> type[_ActionApi]:
    call, input_serializer, created, summary = ACTIONS[name]

    @extend_schema(
        tags=TAGS,
        operation_id=f"intake_{name}",
        summary=(summary or "").strip().split("\n")[0],
        request=input_serializer,
        responses={201 if created else 200: created or s.IntakeSerializer},
    )
    def post(self: _ActionApi, request: Request, pk: int) -> Response:
        return self.handle(request, pk)

    camel = "".join(part.capitalize() for part in name.split("_"))
    attrs = {"post": post, "input_serializer": input_serializer, "call": staticmethod(call), "created": created,
             "__doc__": summary}  # fmt: skip
    return type(f"Intake{camel}Api", (_ActionApi,), attrs)


ACTION_APIS: dict[str, type[_ActionApi]] = {name: _action_api(name) for name in ACTIONS}
