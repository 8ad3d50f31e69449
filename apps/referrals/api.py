"""The referral API: the worklist (same filters and keyset cursor as the page), one referral,
and one POST endpoint per action. Nothing writes a referral's state, queue or assignee
directly: the detail endpoint is read-only (PATCH/PUT answer 405).

Errors map through apps.core.api_errors: ApplicationError 400, PermissionDenied 403,
ConflictError / TransitionNotAllowed 409. Patient data in a response is access-logged.
"""

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
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
from apps.core.roles import can_see_patient_data
from apps.workflow import services as work
from apps.workflow.selectors import SORTS, patients_attach
from apps.workflow.serializers import (
    EmptyInput,
    NoteAddInput,
    NoteInput,
    NoteSerializer,
    OptionalReasonInput,
    OutreachInput,
    OutreachSerializer,
    ReasonInput,
)

from . import selectors, services
from . import serializers as s
from .forms import WorklistFilterForm
from .models import Referral

WORKFLOW = Referral.WORKFLOW
TAGS = ["referrals"]


class WorksReferrals(BasePermission):
    message = "Your role does not work the referral queues."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.has_perm("core.work_referrals"))


PERMISSIONS = [IsAuthenticated, WorksReferrals]
LIST_PARAMETERS = [
    OpenApiParameter("site", OpenApiTypes.STR, description="Site code (one of yours)"),
    OpenApiParameter("queue", OpenApiTypes.STR, enum=[q for q, _ in selectors.QUEUES]),
    OpenApiParameter("priority", OpenApiTypes.STR, enum=["stat", "asap", "urgent", "routine"]),
    OpenApiParameter("state", OpenApiTypes.STR, description="An open state, e.g. triage"),
    OpenApiParameter("assignee", OpenApiTypes.STR, description="me, unassigned, or a user id"),
    OpenApiParameter("due", OpenApiTypes.STR, enum=["overdue", "due_soon"]),
    OpenApiParameter("min_age_days", OpenApiTypes.INT, description="Open for at least this many days"),
    OpenApiParameter("sort", OpenApiTypes.STR, enum=list(SORTS)),
    OpenApiParameter("cursor", OpenApiTypes.STR, description="From the previous page's `next`"),
]


class ReferralListApi(APIView):
    """Open referrals at your sites, one keyset page at a time (50 a page)."""

    permission_classes = PERMISSIONS

    @extend_schema(
        tags=TAGS, operation_id="referrals_list", parameters=LIST_PARAMETERS, responses=s.ReferralPageSerializer
    )
    def get(self, request: Request) -> Response:
        form = WorklistFilterForm(request.query_params, user=request.user)
        if not form.is_valid():
            raise ValidationError(form.errors.get_json_data())
        cursor = request.query_params.get("cursor") or None
        page = selectors.referral_worklist(
            user=request.user, filters=form.filters(), sort=form.sort_key(), cursor=cursor
        )
        access_log_listed(request, page.items)
        next_url = None
        if page.next_cursor:
            query = urlencode({**form.params(), "cursor": page.next_cursor})
            next_url = request.build_absolute_uri(f"{request.path}?{query}")
        return Response({"results": s.ReferralSerializer(page.items, many=True).data, "next": next_url})


class ReferralDetailApi(APIView):
    """One referral with its service request, outreach and the actions you may take now."""

    permission_classes = PERMISSIONS

    @extend_schema(tags=TAGS, operation_id="referrals_detail", responses=s.ReferralDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        referral = selectors.referral_get(user=request.user, referral_id=pk)
        patients_attach([referral], user=request.user)
        if can_see_patient_data(request.user) and referral.patient_ref:
            access_log(request, patient=referral.patient_ref, what=f"referral:{referral.pk}", site=referral.site)
        return Response(s.ReferralDetailSerializer(referral, context={"request": request}).data)


class _ActionApi(APIView):
    """POST one action on one referral (of your sites): validate, call one service, answer."""

    permission_classes = PERMISSIONS
    input_serializer: type[drf.Serializer] = EmptyInput
    output: Callable[[Any, Request, Referral], tuple[Any, int]]
    call: Callable[[int, Any, dict[str, Any]], Any]

    def handle(self, request: Request, pk: int) -> Response:
        referral = selectors.referral_get(user=request.user, referral_id=pk)
        data = self.input_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = type(self).call(referral.pk, request.user, dict(data.validated_data))
        except ConflictError as exc:
            if exc.code == "already_claimed":
                message = selectors.claim_conflict_message(referral_id=referral.pk)
                raise ConflictError(message, code=exc.code, extra=exc.extra) from exc
            raise
        except ConcurrentTransition as exc:
            raise ConflictError("This referral changed meanwhile; read it again.", code="concurrent_change") from exc
        body, status = type(self).output(result, request, referral)
        return Response(body, status=status)


def _referral_out(result: Any, request: Request, referral: Referral) -> tuple[Any, int]:
    """The referral after the action (without patient data: nothing to access-log)."""
    return s.ReferralSerializer(selectors.referral_get(user=request.user, referral_id=referral.pk)).data, 200


def _created(serializer: type[drf.Serializer]) -> Callable[[Any, Request, Referral], tuple[Any, int]]:
    return lambda result, request, referral: (serializer(result).data, 201)


def _reassign(referral_id: int, by: Any, data: dict[str, Any]) -> Any:
    to = None
    if data["assignee"] is not None:
        to = selectors.referral_workers(user=by).filter(pk=data["assignee"]).first()
        if to is None:
            raise ValidationError({"assignee": ["No one by that id works referrals at your sites."]})
    return work.item_reassign(workflow=WORKFLOW, item_id=referral_id, to=to, by=by, reason=data["reason"])


def _supervisor(call: Callable[[int, Any, dict[str, Any]], Any]) -> Callable[[int, Any, dict[str, Any]], Any]:
    def checked(referral_id: int, by: Any, data: dict[str, Any]) -> Any:
        if not by.has_perm("core.supervise_queues"):
            raise PermissionDenied("Only a supervisor can do that.")
        return call(referral_id, by, data)

    return checked


# name → (service call, input, output, summary). The path is the name with hyphens.
ACTIONS: dict[str, tuple[Callable[..., Any], type[drf.Serializer], Any, str | None]] = {
    "claim": (lambda i, by, d: work.item_claim(workflow=WORKFLOW, item_id=i, by=by), EmptyInput, _referral_out,
              "Take the referral; 409 names who has it when someone else does."),
    "release": (lambda i, by, d: work.item_release(workflow=WORKFLOW, item_id=i, by=by), EmptyInput, _referral_out,
                "Give the referral back to its queue (its holder, or a supervisor)."),
    "triage": (lambda i, by, d: services.referral_triage(referral_id=i, by=by), EmptyInput, _referral_out,
               services.referral_triage.__doc__),
    "accept": (lambda i, by, d: services.referral_accept(referral_id=i, by=by, note=d["note"]), NoteInput,
               _referral_out, services.referral_accept.__doc__),
    "request_auth": (lambda i, by, d: services.referral_request_auth(referral_id=i, by=by, note=d["note"]),
                     NoteInput, _referral_out, services.referral_request_auth.__doc__),
    "authorize": (lambda i, by, d: services.referral_authorize(referral_id=i, by=by, note=d["note"]), NoteInput,
                  _referral_out, services.referral_authorize.__doc__),
    "start_scheduling": (lambda i, by, d: services.referral_start_scheduling(referral_id=i, by=by), EmptyInput,
                         _referral_out, services.referral_start_scheduling.__doc__),
    "request_info": (lambda i, by, d: services.referral_request_info(referral_id=i, by=by, question=d["question"]),
                     s.RequestInfoInput, _referral_out, services.referral_request_info.__doc__),
    "receive_info": (lambda i, by, d: services.referral_receive_info(referral_id=i, by=by, note=d["note"]),
                     NoteInput, _referral_out, services.referral_receive_info.__doc__),
    "decline": (lambda i, by, d: services.referral_decline(referral_id=i, by=by, reason_code=d["reason_code"],
                                                           note=d["note"]),
                s.DeclineInput, _referral_out, services.referral_decline.__doc__),
    "cancel": (lambda i, by, d: services.referral_cancel(referral_id=i, by=by, reason=d["reason"]), ReasonInput,
               _referral_out, services.referral_cancel.__doc__),
    "abandon": (lambda i, by, d: services.referral_abandon(referral_id=i, by=by, reason=d["reason"]),
                OptionalReasonInput, _referral_out, services.referral_abandon.__doc__),
    "forward": (lambda i, by, d: services.referral_forward(referral_id=i, by=by, service_line_code=d["service_line"],
                                                           reason=d["reason"]),
                s.ForwardInput, _referral_out, services.referral_forward.__doc__),
    "outreach": (lambda i, by, d: services.referral_outreach_record(referral_id=i, by=by, **d), OutreachInput,
                 _created(OutreachSerializer), services.referral_outreach_record.__doc__),
    "notes": (lambda i, by, d: work.note_add(workflow=WORKFLOW, item_id=i, text=d["text"], by=by), NoteAddInput,
              _created(NoteSerializer), "Add a note to the referral's timeline."),
    "reassign": (_supervisor(_reassign), s.ReassignInput, _referral_out,
                 "Supervisors: give the referral to someone who works referrals at its site (or nobody)."),
    "move": (_supervisor(lambda i, by, d: work.item_move(workflow=WORKFLOW, item_id=i, queue=d["queue"], by=by,
                                                         reason=d["reason"])),
             s.MoveInput, _referral_out, "Supervisors: move the referral to another queue; its SLA clock restarts."),
}  # fmt: skip

RESPONSES = {
    "outreach": OutreachSerializer,
    "notes": NoteSerializer,
}


def _action_api(name: str) -> type[_ActionApi]:
    call, input_serializer, output, summary = ACTIONS[name]
    status = 201 if name in RESPONSES else 200

    @extend_schema(
        tags=TAGS,
        operation_id=f"referrals_{name}",
        summary=(summary or "").strip().split("\n")[0],
        request=input_serializer,
        responses={status: RESPONSES.get(name, s.ReferralSerializer)},
    )
    def post(self: _ActionApi, request: Request, pk: int) -> Response:
        return self.handle(request, pk)

    camel = "".join(part.capitalize() for part in name.split("_"))
    attrs = {"post": post, "input_serializer": input_serializer, "call": staticmethod(call),
             "output": staticmethod(output), "__doc__": summary}  # fmt: skip
    return type(f"Referral{camel}Api", (_ActionApi,), attrs)


ACTION_APIS: dict[str, type[_ActionApi]] = {name: _action_api(name) for name in ACTIONS}
