"""Reading an inbound request body under a size limit, the one way both EHR endpoints do it.

A chunked upload has no Content-Length, so Django reads it as empty; the WSGI server (gunicorn)
decodes the chunks and says so with ``wsgi.input_terminated``, and its input is then read to the
end (with the same cap). A server that does not decode chunks gets a 411. Each endpoint turns
``BodyRefused`` into its own kind of answer (an OperationOutcome for FHIR, plain text for v2).
"""

from typing import Any

from django.http import HttpRequest

CHUNK = 64 * 1024


class BodyRefused(Exception):
    """The body was not read: ``status`` (411 or 413) and a sentence saying what to do."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _stream(request: HttpRequest) -> Any:
    """What to read the body from; None when the server did not decode a chunked upload."""
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if not chunked or request.META.get("CONTENT_LENGTH"):
        return request
    if request.META.get("wsgi.input_terminated"):
        return request.META["wsgi.input"]
    return None


def body_read(request: HttpRequest, limit: int, noun: str) -> bytes:
    """The whole body, at most ``limit`` bytes; ``noun`` names it in the refusal ("body", "message")."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise BodyRefused(413, f"The {noun} is {declared} bytes; the limit is {limit}.")
    stream = _stream(request)
    if stream is None:
        raise BodyRefused(411, "This server cannot read a chunked body here; send Content-Length.")
    body = bytearray()
    while chunk := stream.read(CHUNK):
        body += chunk
        if len(body) > limit:
            raise BodyRefused(413, f"The {noun} is larger than the limit of {limit} bytes.")
    return bytes(body)
