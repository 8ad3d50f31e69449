"""``POST /integrations/<source>/fhir``: the EHR pushes resources or Bundles here.

The raw body is committed to the inbox before the answer (202 with a receipt). Every other
answer is an OperationOutcome: 400 not FHIR (or an id that is not a FHIR id), 401 bad or
missing token, 405 not POST, 411 chunked where the server cannot decode chunks, 413 too large,
415 neither JSON nor HL7 v2 (which is answered as on ``…/hl7v2``), 503 not stored (retry) — never a 500.
"""

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from . import v2_webhook
from .models import EhrSource, InboxMessage
from .outcome import FHIR_JSON, operation_outcome, outcome_response
from .request_body import BodyRefused, body_read
from .services.envelope import EnvelopeError
from .services.inbox import inbox_receive
from .v2_webhook import V2_TYPES

logger = logging.getLogger(__name__)
ACCEPTED_TYPES = {"application/fhir+json", "application/json", "application/json+fhir"}


def _unauthorized(reason: str) -> HttpResponse:
    return outcome_response(401, reason, code="login", WWW_Authenticate='Bearer realm="clinops"')


@csrf_exempt
@login_not_required
def receive(request: HttpRequest, source: str) -> HttpResponse:
    if request.method != "POST":
        return outcome_response(405, "Send resources with POST.", code="not-supported", Allow="POST")
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or not auth[7:].strip():
        return _unauthorized("Missing bearer token: send Authorization: Bearer <the source's webhook token>.")
    found = EhrSource.objects.filter(name=source, is_active=True).first()
    if found is None or not found.check_webhook_token(auth[7:].strip()):
        return _unauthorized("The bearer token is not valid for this source.")

    content_type = request.content_type or ""
    if content_type.lower() in V2_TYPES:  # an HL7 v2 message sent to the FHIR address: take it as v2
        return v2_webhook.receive(request, source)
    if content_type.lower() not in ACCEPTED_TYPES:
        return outcome_response(
            415,
            f"Content-Type {content_type or '(none)'} is not accepted; send application/fhir+json "
            "(or HL7 v2 as application/hl7-v2).",
            code="not-supported",
        )
    try:
        body = body_read(request, settings.EHR_WEBHOOK_MAX_BYTES, "body")
    except BodyRefused as exc:
        code = "too-costly" if exc.status == 413 else "not-supported"
        return outcome_response(exc.status, exc.message, code=code)

    correlation_id = request.headers.get("X-Correlation-ID", "")
    try:
        receipt = inbox_receive(
            source=found,
            body=body,
            channel=InboxMessage.Channel.WEBHOOK,
            content_type=content_type,
            correlation_id=correlation_id,
        )
    except EnvelopeError as exc:
        expression = [exc.expression] if exc.expression else None
        return JsonResponse(
            operation_outcome(exc.message, code="structure", expression=expression), status=400, content_type=FHIR_JSON
        )
    except DatabaseError:
        logger.exception("webhook: could not store a delivery from source %s", found.pk)
        return outcome_response(503, "The message was not stored; send it again.", code="transient", Retry_After="30")
    response = JsonResponse(receipt.as_json(), status=202)
    response["X-Correlation-ID"] = receipt.correlation_id
    return response
