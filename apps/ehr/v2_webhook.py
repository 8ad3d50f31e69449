"""``POST /integrations/<source>/hl7v2``: an interface engine posts one HL7 v2 message (ER7), or a
batch of them (FHS/BHS … BTS/FTS), answered with the batch of their ACKs.

Authenticated like the FHIR webhook, by the source's token (``Authorization: Bearer …``). The
message is committed to the inbox before the answer, which is its ACK (same content type back):
200 for AA/AE and enhanced-mode CA, 400 for AR/CR (the message was not taken: the ERR says why),
204 when MSH-15 asked for no accept ACK in this case. Plain-text 401 (token), 405 (not POST),
411 (chunked where the server cannot decode chunks), 413 (over EHR_WEBHOOK_MAX_BYTES), 415 (not
v2) and 503 (not stored: send again); never a 500.
"""

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from .models import EhrSource, Hl7Message
from .request_body import BodyRefused, body_read
from .services.v2_batch import hl7_receive_any

logger = logging.getLogger(__name__)
V2_TYPES = {"application/hl7-v2", "x-application/hl7-v2+er7", "application/edi-hl7v2"}


def _text(status: int, message: str, **headers: str) -> HttpResponse:
    response = HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


@csrf_exempt
@login_not_required
def receive(request: HttpRequest, source: str) -> HttpResponse:
    if request.method != "POST":
        return _text(405, "Send HL7 v2 messages with POST.", Allow="POST")
    auth = request.headers.get("Authorization", "")
    token = auth[7:].strip() if auth.startswith("Bearer ") else ""
    found = EhrSource.objects.filter(name=source, is_active=True).first() if token else None
    if found is None or not found.check_webhook_token(token):
        return _text(401, "Send Authorization: Bearer <the source's webhook token>.", WWW_Authenticate="Bearer")
    content_type = (request.content_type or "").lower()
    if content_type not in V2_TYPES:
        return _text(415, f"Content-Type {content_type or '(none)'} is not accepted; send application/hl7-v2.")
    try:
        body = body_read(request, settings.EHR_WEBHOOK_MAX_BYTES, "message")
    except BodyRefused as exc:
        return _text(exc.status, exc.message)
    try:
        receipt = hl7_receive_any(
            source=found, raw=body, channel=Hl7Message.Channel.HTTP, peer=request.META.get("REMOTE_ADDR", "")
        )
    except DatabaseError:
        logger.exception("hl7 http: could not store a message from source %s", found.pk)
        return _text(503, "The message was not stored; send it again.", Retry_After="30")
    if not receipt.send:
        return HttpResponse(status=204)
    status = 200 if receipt.accepted else 400
    charset = receipt.codec or "utf-8"
    return HttpResponse(receipt.ack_bytes, status=status, content_type=f"{content_type}; charset={charset}")
