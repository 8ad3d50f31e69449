"""FHIR R4 ``ConceptMap/$translate``, GET and POST, at ``/fhir/ConceptMap/$translate``.

In: ``system`` + ``code`` (or, POST only, ``coding``), ``targetsystem`` (or ``target``, the
target code system's URI), optionally ``url`` (a ConceptMap's canonical URL) and
``conceptMapVersion`` (a version number of that map: any state, so a steward can try a draft).
Out: ``Parameters`` with ``result``, ``message`` and one ``match`` per target (equivalence,
concept, source). Served from the active versions' in-memory table unless a version is named.

Any signed-in member of staff may translate (session or API key, ``Authorization: Token``
or ``Bearer``); there is no patient data here. Every error is an OperationOutcome.
"""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.db import DatabaseError
from django.http import JsonResponse
from drf_spectacular.utils import extend_schema
from fhir.resources.R4B.parameters import Parameters
from pydantic import ValidationError
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.core.api_tokens import ApiTokenAuthentication
from apps.core.fhir_outcome import FHIR_JSON, operation_outcome
from apps.core.json_input import JsonInputError, json_loads

from .exchange import TO_FHIR
from .models import CodeSystem, ConceptMap
from .translation import Outcome, Translation, targets_from, translate, translate_version

logger = logging.getLogger(__name__)

JSON_TYPES = {FHIR_JSON, "application/json", "application/json+fhir"}
SUPPORTED = ("url", "conceptMapVersion", "system", "version", "code", "coding", "target", "targetsystem", "reverse")
NOT_SUPPORTED = {
    "conceptMap": "an inline ConceptMap",
    "source": "a source value set",
    "codeableConcept": "a CodeableConcept (send one coding)",
    "dependency": "dependencies",
}
FORMAT_PARAMS = ("_format", "_pretty")


class TranslateError(Exception):
    def __init__(self, status: int, diagnostics: str, *, code: str = "invalid", expression: str = "") -> None:
        super().__init__(diagnostics)
        self.status, self.diagnostics, self.code, self.expression = status, diagnostics, code, expression


class FhirSessionAuthentication(SessionAuthentication):
    """A signed-in browser's session, CSRF-checked on the Django request itself.

    DRF's check reads ``request.POST`` on DRF's request, which parses the body with the view's
    parsers: a ``application/fhir+json`` body has none here (this view reads the body itself),
    so every session POST was answered 415 before the CSRF token was even looked at. Django's
    request leaves a JSON body unread, and the token comes from the X-CSRFToken header."""

    def enforce_csrf(self, request: Request) -> None:
        super().enforce_csrf(request._request)  # type: ignore[arg-type]  # the check needs .POST and .META only


def _outcome(status: int, diagnostics: str, *, code: str, expression: str = "") -> JsonResponse:
    body = operation_outcome(diagnostics, code=code, expression=[expression] if expression else None)
    return JsonResponse(body, status=status, content_type=FHIR_JSON)


def _exception_handler(exc: Exception, context: dict[str, Any]) -> JsonResponse:
    if isinstance(exc, TranslateError):
        return _outcome(exc.status, exc.diagnostics, code=exc.code, expression=exc.expression)
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, SuspiciousOperation):
        return _outcome(400, "The request is too large or malformed.", code="invalid")
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response = _outcome(401, "Authentication required: sign in, or send Authorization: Token <key>.", code="login")
        if auth_header := getattr(exc, "auth_header", None):
            response["WWW-Authenticate"] = auth_header
        return response
    if isinstance(exc, exceptions.APIException):
        codes = {403: "forbidden", 405: "not-supported", 406: "not-supported", 415: "not-supported"}
        return _outcome(exc.status_code, str(exc.detail), code=codes.get(exc.status_code, "invalid"))
    if isinstance(exc, DatabaseError):
        logger.error("$translate: database unavailable (%s)", type(exc).__name__)
        response = _outcome(503, "Terminology is unavailable; retry later.", code="transient")
        response["Retry-After"] = "30"
        return response
    logger.error("$translate: unexpected %s", type(exc).__name__, exc_info=exc)
    return _outcome(500, "Internal error; it has been logged.", code="exception")


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    return False


def _check_values(params: dict[str, Any]) -> None:
    # PostgreSQL cannot compare text holding NUL: a 400 here, not a failed query.
    for name, value in params.items():
        if "\x00" in name or _holds_nul(value):
            raise TranslateError(400, "A parameter holds a NUL character.", expression=name.replace("\x00", ""))


def _check_names(names: list[str]) -> None:
    for name in names:
        if name in NOT_SUPPORTED:
            raise TranslateError(
                400, f"{name}: {NOT_SUPPORTED[name]} is not supported here.", code="not-supported", expression=name
            )
        if name not in SUPPORTED and name not in FORMAT_PARAMS:
            raise TranslateError(
                400, f"Unknown parameter {name!r}; $translate takes {', '.join(SUPPORTED)}.", expression=name
            )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise TranslateError(400, f"{repeated[0]} is given more than once.", expression=repeated[0])


def params_from_query(query: Any) -> dict[str, Any]:
    names = [name for name in query for _ in query.getlist(name)]
    _check_names(names)
    if "coding" in names:
        raise TranslateError(400, "coding can only be sent in a POSTed Parameters resource.", expression="coding")
    # An unencoded "+" in a query string arrives as a space.
    if query.get("_format", "json").lower().replace(" ", "+") not in ("json", FHIR_JSON, "application/json"):
        raise TranslateError(406, "This server answers in JSON only.", code="not-supported", expression="_format")
    return {name: query.get(name) for name in names if name not in FORMAT_PARAMS}


def params_from_body(request: Request) -> dict[str, Any]:
    media = (request.content_type or "").split(";")[0].strip().lower()
    if media not in JSON_TYPES:
        raise exceptions.UnsupportedMediaType(
            media or "(none)", detail=f"Send a FHIR Parameters resource as {FHIR_JSON}, not {media or 'no body'}."
        )
    try:
        data = json_loads(request.body or b"null")
    except JsonInputError as error:
        raise TranslateError(400, f"The body is not JSON we accept: {error.message}") from None
    if not isinstance(data, dict) or data.get("resourceType") != "Parameters":
        raise TranslateError(400, "The body must be a FHIR Parameters resource.")
    try:
        Parameters.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise TranslateError(400, f"The Parameters resource is not valid FHIR R4: {where}: {first['msg']}.") from None
    entries = data.get("parameter") or []
    _check_names([entry.get("name", "") for entry in entries])
    params: dict[str, Any] = {}
    for entry in entries:
        values = [key for key in entry if key.startswith("value")]
        if len(values) != 1:
            raise TranslateError(
                400, f"Parameter {entry['name']} needs exactly one value[x].", expression=entry["name"]
            )
        params[entry["name"]] = entry[values[0]]
    return params


def _text(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TranslateError(400, f"{name} must be a string (uri, code or canonical).", expression=name)
    return value.strip()


def translation_answer(params: dict[str, Any]) -> tuple[Translation | None, str]:
    """The translation the parameters ask for, and the message to send with it."""
    system, code = _text(params, "system"), _text(params, "code")
    coding = params.get("coding")
    if coding is not None:
        if system or code:
            raise TranslateError(400, "Send either coding or system and code, not both.", expression="coding")
        if not isinstance(coding, dict):
            raise TranslateError(400, "coding must be a Coding.", expression="coding")
        system, code = str(coding.get("system") or ""), str(coding.get("code") or "")
    if params.get("reverse") not in (None, False, "false"):
        raise TranslateError(400, "reverse translation is not supported.", code="not-supported", expression="reverse")
    if not code:
        raise TranslateError(400, "code is required (or, in a POST, coding).", code="required", expression="code")
    if not system:
        raise TranslateError(
            400, "system is required: the code system the code belongs to.", code="required", expression="system"
        )
    target = _text(params, "targetsystem") or _text(params, "target")
    if target and not CodeSystem.objects.filter(url=target).exists():
        raise TranslateError(400, f"{target} is not a code system known here.", expression="targetsystem")
    url, number = _text(params, "url"), _text(params, "conceptMapVersion")
    if url:
        concept_map = ConceptMap.objects.select_related("source_system", "target_system").filter(url=url).first()
        if concept_map is None:
            raise TranslateError(404, f"There is no ConceptMap with url {url}.", code="not-found", expression="url")
        if system != concept_map.source_system.url:
            raise TranslateError(
                400, f"{url} translates codes of {concept_map.source_system.url}, not {system}.", expression="system"
            )
        if target and target != concept_map.target_system.url:
            raise TranslateError(
                400, f"{url} translates into {concept_map.target_system.url}, not {target}.", expression="targetsystem"
            )
        target = concept_map.target_system.url
        if number:
            if not number.isdigit():
                raise TranslateError(400, "conceptMapVersion is a version number.", expression="conceptMapVersion")
            version = concept_map.versions.filter(number=int(number)).first()
            if version is None:
                raise TranslateError(
                    404, f"{url} has no version {number}.", code="not-found", expression="conceptMapVersion"
                )
            versioned = translate_version(version, code)
            return versioned, f"{versioned.message} Version {number} is {version.get_state_display().lower()}."
    elif number:
        raise TranslateError(400, "conceptMapVersion needs url (which map).", expression="conceptMapVersion")
    if not target:
        targets = targets_from(system)
        if len(targets) > 1:
            raise TranslateError(
                400,
                f"{system} is mapped to several systems ({', '.join(targets)}): send targetsystem.",
                expression="targetsystem",
            )
        if not targets:
            return None, f"No active concept map translates codes of {system}."
        target = targets[0]
    translation = translate(system, code, target)
    if translation is None:
        return None, f"No active concept map translates {system} into {target}."
    return translation, translation.message


def parameters(translation: Translation | None, message: str) -> dict[str, Any]:
    """The R4 $translate answer."""
    out: list[dict[str, Any]] = [
        {"name": "result", "valueBoolean": bool(translation and translation.mapped)},
        {"name": "message", "valueString": message},
    ]
    if translation is None:
        return {"resourceType": "Parameters", "parameter": out}
    source = [{"name": "source", "valueUri": translation.map_url}] if translation.map_url else []
    for match in translation.matches:
        concept = {"system": translation.target_system, "code": match.code}
        if match.display:
            concept["display"] = match.display
        out.append(
            {
                "name": "match",
                "part": [
                    {"name": "equivalence", "valueCode": TO_FHIR.get(match.relationship, match.relationship)},
                    {"name": "concept", "valueCoding": concept},
                    *source,
                ],
            }
        )
    if translation.outcome is Outcome.NOT_MAPPED:
        out.append({"name": "match", "part": [{"name": "equivalence", "valueCode": "unmatched"}, *source]})
    return {"resourceType": "Parameters", "parameter": out}


@extend_schema(exclude=True)  # a FHIR operation, described by FHIR, not the OpenAPI schema
class ConceptMapTranslateApi(APIView):
    """``GET|POST /fhir/ConceptMap/$translate``."""

    authentication_classes = [ApiTokenAuthentication, FhirSessionAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]
    http_method_names = ["get", "post"]

    def get_exception_handler(self) -> Any:
        return _exception_handler

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[JSONRenderer, str]:
        return JSONRenderer(), FHIR_JSON

    def get(self, request: Request) -> JsonResponse:
        return self._answer(params_from_query(request.query_params))

    def post(self, request: Request) -> JsonResponse:
        return self._answer(params_from_body(request))

    def _answer(self, params: dict[str, Any]) -> JsonResponse:
        _check_values(params)
        translation, message = translation_answer(params)
        return JsonResponse(parameters(translation, message), content_type=FHIR_JSON)
