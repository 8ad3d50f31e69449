"""The FHIR read API views: one small DRF view per interaction (metadata, search-type, read).

DRF views so that ``LoginRequiredMiddleware`` lets them through (a FHIR client never gets a
login redirect) and token authentication works; responses are plain JSON built from the
store's raw column, and every error is an OperationOutcome (``errors.fhir_exception_handler``).
Not site-scoped: see the package docstring.
"""

from collections.abc import Iterable
from typing import Any

from django.http import JsonResponse
from django.urls import reverse
from django.utils.http import http_date
from drf_spectacular.utils import extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.core.access_log import access_log_many
from apps.core.models import AccessLog

from ..models import FhirResource
from ..outcome import FHIR_JSON
from ..services.envelope import id_problem
from .auth import AUTHENTICATION_CLASSES, CanReadFhirApi
from .bundle import bundle_searchset, resource_json
from .capability import capability_statement
from .errors import FhirError, fhir_exception_handler
from .search import search_parse, store_model, store_read, store_search

JSON = "application/json"
_FORMATS = {"json": FHIR_JSON, JSON: JSON, FHIR_JSON: FHIR_JSON, "application/json+fhir": FHIR_JSON}
_FHIR_ACCEPTS = {FHIR_JSON, "application/json+fhir", "*/*", "application/*"}


def negotiate(request: Request) -> str:
    """The response media type: ``_format`` first, then ``Accept``; 406 when only something else is wanted."""
    fmt = request.query_params.get("_format")
    if fmt is not None:
        # An unencoded "+" in a query string arrives as a space.
        media = _FORMATS.get(fmt.strip().lower().replace(" ", "+"))
        if media is None:
            raise FhirError(406, f"_format={fmt[:64]!r} is not served; this server speaks JSON.", expression="_format")
        return media
    accept = request.headers.get("Accept", "")
    types = {part.split(";")[0].strip().lower() for part in accept.split(",") if part.strip()}
    if not types or types & _FHIR_ACCEPTS:
        return FHIR_JSON
    if JSON in types:
        return JSON
    raise FhirError(406, f"Accept: {accept[:100]} is not served; ask for {FHIR_JSON}.")


def prefers_strict(request: Request) -> bool:
    """FHIR's ``Prefer: handling=strict|lenient``; strict unless lenient is asked for."""
    preferences = request.headers.get("Prefer", "").replace(";", ",").split(",")
    return not any(p.strip().lower().replace(" ", "") == "handling=lenient" for p in preferences)


def access_log_resources(request: Request, rows: Iterable[FhirResource], action: str) -> None:
    """One access-log row per returned resource that belongs to a patient; ``fhir:<Type>/<id>``."""
    entries = [(row.patient_reference[:128], f"fhir:{row.reference}"[:128]) for row in rows if row.patient_reference]
    access_log_many(request, entries=entries, action=action)


@extend_schema(exclude=True)  # described by /fhir/metadata, not the OpenAPI schema
class FhirApiView(APIView):
    """The common ground: token or session, ``ehr.read_fhir_api``, JSON only, OperationOutcome errors."""

    authentication_classes = AUTHENTICATION_CLASSES
    permission_classes = [CanReadFhirApi]
    http_method_names = ["get", "head"]
    # Query parameters a non-search interaction accepts.
    allowed_params: tuple[str, ...] = ("_format", "_pretty")

    def get_exception_handler(self) -> Any:
        return fhir_exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # negotiation, authentication, permission
        # Only now, so that an anonymous caller learns nothing but 401.
        negotiate(request)
        if request.query_params.get("_pretty", "false") not in ("true", "false"):
            raise FhirError(400, "_pretty must be true or false.", expression="_pretty")
        for name, values in request.query_params.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                # PostgreSQL cannot compare text holding NUL: a 400 here, not a failed query.
                raise FhirError(400, "A parameter holds a NUL character.", expression=name.replace("\x00", ""))

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[JSONRenderer, str]:
        # DRF negotiates before authenticating; an unacceptable format is refused in initial().
        try:
            return JSONRenderer(), negotiate(request)
        except FhirError:
            return JSONRenderer(), FHIR_JSON

    def check_params(self, request: Request) -> None:
        """Strict handling for interactions that take no search parameters."""
        unknown = [name for name in request.query_params if name not in self.allowed_params]
        if unknown and prefers_strict(request):
            raise FhirError(
                400, f"Unknown parameter {unknown[0]!r}; this interaction takes {', '.join(self.allowed_params)}.",
                code="not-supported", expression=unknown[0],
            )  # fmt: skip

    def fhir_response(self, body: dict[str, Any], **headers: str) -> JsonResponse:
        pretty = self.request.query_params.get("_pretty") == "true"
        response = JsonResponse(
            body,
            content_type=getattr(self.request, "accepted_media_type", FHIR_JSON),
            json_dumps_params={"indent": 2} if pretty else {},
        )
        for name, value in headers.items():
            response[name] = value
        return response


class FhirMetadataApi(FhirApiView):
    """``GET /fhir/metadata``: the CapabilityStatement."""

    allowed_params = ("_format", "_pretty", "mode")

    def get(self, request: Request) -> JsonResponse:
        self.check_params(request)
        if request.query_params.get("mode", "full") != "full":
            raise FhirError(400, "Only mode=full is supported.", code="not-supported", expression="mode")
        base_url = request.build_absolute_uri(reverse("fhir:metadata")).removesuffix("/metadata")
        return self.fhir_response(capability_statement(base_url=base_url))


class FhirSearchApi(FhirApiView):
    """``GET /fhir/<Type>?…``: search-type, one keyset page as a searchset Bundle."""

    def get(self, request: Request, resource_type: str) -> JsonResponse:
        model = store_model(resource_type)
        query = search_parse(model, request.query_params, strict=prefers_strict(request))
        page = store_search(model, query)
        access_log_resources(request, page.rows, AccessLog.Action.SEARCH)
        search_url = request.build_absolute_uri(reverse("fhir:search", kwargs={"resource_type": resource_type}))
        return self.fhir_response(bundle_searchset(search_url=search_url, query=query, page=page))


class FhirReadApi(FhirApiView):
    """``GET /fhir/<Type>/<id>``: read; 404 if never stored, 410 if deleted (see ``store_read`` for sources)."""

    def get(self, request: Request, resource_type: str, fhir_id: str) -> JsonResponse:
        model = store_model(resource_type)
        self.check_params(request)
        row = store_read(model, fhir_id)
        if row is None:
            raise FhirError(404, f"{resource_type}/{fhir_id} is not in the store.")
        if row.deleted:
            raise FhirError(410, f"{resource_type}/{fhir_id} has been deleted.")
        access_log_resources(request, [row], AccessLog.Action.VIEW)
        headers = {"Last-Modified": http_date(row.last_updated.timestamp())}
        if row.version_id:
            headers["ETag"] = f'W/"{row.version_id}"'
        return self.fhir_response(resource_json(row), **headers)


class FhirUnsupportedApi(FhirApiView):
    """Anything else under ``/fhir/``: a 404 OperationOutcome rather than an HTML page."""

    def get(self, request: Request, rest: str = "") -> JsonResponse:
        if not rest.strip("/"):
            raise FhirError(404, "This is the FHIR base URL; /fhir/metadata says what it serves.")
        first, _, remainder = rest.partition("/")
        store_model(first)  # an unknown type is a 404 of its own
        if remainder and "/" not in remainder and not remainder.startswith("$"):
            # A read of an id that no FHIR server can hold (too long, or other characters).
            raise FhirError(400, id_problem(first, remainder), expression=first)
        raise FhirError(
            404, f"{first}/{remainder[:100]} is neither a resource id nor supported here: this server offers "
            "read and search-type only (see /fhir/metadata).", code="not-supported",
        )  # fmt: skip
