"""The results API (under /api/results/): the inbox or a follow-up step, one result, and one
POST endpoint per action. Errors map through apps.core.api_errors (400 / 403 / 409); a result
at another site is 404. Listing or reading results is access-logged."""

from collections.abc import Callable
from typing import Any, cast

from django.core.exceptions import PermissionDenied
from django_fsm import ConcurrentTransition
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers as drf
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.access_log import access_log, access_log_listed
from apps.core.errors import ConflictError
from apps.core.models import User
from apps.workflow.serializers import EmptyInput

from . import selectors, services
from . import serializers as s
from .permissions import REVIEW, WORK

TAGS = ["results"]


class SeesResults(BasePermission):
    message = "Your role does not review or work results."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and (request.user.has_perm(REVIEW) or request.user.has_perm(WORK)))


PERMISSIONS = [IsAuthenticated, SeesResults]


class ResultListApi(APIView):
    """Clinicians: the inbox (results to review, most critical first). MAs: one follow-up step."""

    permission_classes = PERMISSIONS

    @extend_schema(
        tags=TAGS,
        operation_id="results_list",
        parameters=[
            OpenApiParameter(
                "view",
                OpenApiTypes.STR,
                enum=["inbox", *selectors.MA_STEPS],
                description="inbox (clinicians) or an MA step; default by role",
            ),
            OpenApiParameter("cursor", OpenApiTypes.STR, description="From the previous page's `next` (MA steps)"),
        ],
        responses=s.ResultSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        view = request.query_params.get("view") or ("inbox" if request.user.has_perm(REVIEW) else "notify")
        if view == "inbox":
            if not request.user.has_perm(REVIEW):
                raise PermissionDenied("Only clinicians have a results inbox.")
            items = [i for g in selectors.result_inbox(user=request.user) for i in g.items]
            access_log_listed(request, items, only_patients_shown=False)
            return Response({"results": s.ResultSerializer(items, many=True).data, "next": None})
        if view not in selectors.MA_STEPS:
            raise drf.ValidationError({"view": [f"Use inbox or one of {', '.join(selectors.MA_STEPS)}."]})
        if not request.user.has_perm(WORK):
            raise PermissionDenied("Your role does not work result follow-up.")
        page = selectors.result_worklist(user=request.user, step=view, cursor=request.query_params.get("cursor"))
        access_log_listed(request, page.items, only_patients_shown=False)
        next_url = None
        if page.next_cursor:
            next_url = request.build_absolute_uri(f"{request.path}?view={view}&cursor={page.next_cursor}")
        return Response({"results": s.ResultSerializer(page.items, many=True).data, "next": next_url})


class ResultDetailApi(APIView):
    """One result with its values (access-logged)."""

    permission_classes = PERMISSIONS

    @extend_schema(tags=TAGS, operation_id="results_detail", responses=s.ResultDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        item = selectors.result_get(user=request.user, item_id=pk)
        access_log(request, patient=item.patient_ref, what=f"result:{item.pk}", site=item.site)
        return Response(s.ResultDetailSerializer(item).data)


def _action(name: str, input_serializer: type[drf.Serializer], call: Callable[[int, Any, dict], Any],
            summary: str) -> type[APIView]:  # fmt: skip
    @extend_schema(tags=TAGS, operation_id=f"results_{name}", summary=summary.strip().split("\n")[0],
                   request=input_serializer, responses=s.ResultSerializer)  # fmt: skip
    def post(self: APIView, request: Request, pk: int) -> Response:
        item = selectors.result_get(user=request.user, item_id=pk)
        data = input_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            call(item.pk, request.user, dict(data.validated_data))
        except ConcurrentTransition as exc:
            raise ConflictError("This result changed meanwhile; read it again.", code="concurrent_change") from exc
        return Response(s.ResultSerializer(selectors.result_get(user=request.user, item_id=pk)).data)

    camel = "".join(part.capitalize() for part in name.split("_"))
    return type(f"Result{camel}Api", (APIView,), {"post": post, "permission_classes": PERMISSIONS, "__doc__": summary})


ACTIONS = {
    "review": (s.ReviewInput, lambda i, by, d: services.result_review(item_id=i, by=by, **d),
               services.result_review.__doc__),
    "take": (EmptyInput, lambda i, by, d: services.result_take(item_id=i, by=by), services.result_take.__doc__),
    "notify": (s.NotifyInput, lambda i, by, d: services.result_notify(item_id=i, by=by, **d),
               services.result_notify.__doc__),
    "schedule_follow_up": (s.RequiredNoteInput, lambda i, by, d: services.result_schedule_follow_up(
        item_id=i, by=by, note=d["note"]), services.result_schedule_follow_up.__doc__),
    "close": (s.ResultNoteInput, lambda i, by, d: services.result_close(item_id=i, by=by, note=d["note"]),
              services.result_close.__doc__),
    "reassign": (s.ResultReassignInput, lambda i, by, d: services.result_reassign(
        item_id=i, to_id=d["assignee"], by=by, reason=d["reason"]), services.result_reassign.__doc__),
}  # fmt: skip
ACTION_APIS = {name: _action(name, inp, call, doc or name) for name, (inp, call, doc) in ACTIONS.items()}


class AcknowledgeApi(APIView):
    """Acknowledge several normal results at once (all or none; 409 names those that are not)."""

    permission_classes = PERMISSIONS

    @extend_schema(tags=TAGS, operation_id="results_acknowledge", request=s.AcknowledgeInput,
                   responses=s.ResultSerializer(many=True))  # fmt: skip
    def post(self, request: Request) -> Response:
        if not request.user.has_perm(REVIEW):
            raise PermissionDenied("Only a clinician can review results.")
        data = s.AcknowledgeInput(data=request.data)
        data.is_valid(raise_exception=True)
        items = services.results_acknowledge(item_ids=data.validated_data["items"], by=cast(User, request.user),
                                             note=data.validated_data["note"])  # fmt: skip
        return Response(s.ResultSerializer(items, many=True).data)


class CoverageApi(APIView):
    """Clinicians: your current and planned cover; POST names who covers your inbox for a period."""

    permission_classes = [IsAuthenticated]

    def _check(self, request: Request) -> None:
        if not request.user.has_perm(REVIEW):
            raise PermissionDenied("Only a clinician has a results inbox to cover.")

    @extend_schema(tags=TAGS, operation_id="results_coverage_list", responses=s.CoverageSerializer(many=True))
    def get(self, request: Request) -> Response:
        self._check(request)
        return Response(s.CoverageSerializer(selectors.coverage_list(user=request.user), many=True).data)

    @extend_schema(tags=TAGS, operation_id="results_coverage_create", request=s.CoverageSerializer,
                   responses={201: s.CoverageSerializer})  # fmt: skip
    def post(self, request: Request) -> Response:
        self._check(request)
        data = s.CoverageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        coverage = services.coverage_set(
            by=cast(User, request.user), covered_by_id=v["covered_by"].pk, starts_at=v["starts_at"],
            ends_at=v["ends_at"], note=v.get("note", ""),
        )  # fmt: skip
        return Response(s.CoverageSerializer(coverage).data, status=201)
