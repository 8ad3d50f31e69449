"""POST /integrations/<source>/hl7v2 (and a v2 message sent to …/fhir): the ACK comes back only
after the message is stored; every refusal is a clear 4xx, never a 500."""

import io

import pytest
from django.test import override_settings
from django.urls import reverse

from apps.ehr.models import Hl7Message, Patient

from .v2_corpus import configure, malformed, raw, segments

pytestmark = pytest.mark.django_db
V2 = "application/hl7-v2"


@pytest.fixture
def source(ehr_source):
    configure(ehr_source)
    return ehr_source


def post(client, source, body, *, token=None, content_type=V2, url_name="ehr:hl7v2_receive"):
    token = source.token if token is None else token
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post(reverse(url_name, args=[source.name]), data=body, content_type=content_type, **headers)


@pytest.mark.parametrize("content_type", [V2, "x-application/hl7-v2+er7", "application/hl7-v2; charset=utf-8"])
def test_a_message_is_stored_and_answered_with_its_ack(
    client, source, content_type, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, source, raw("adt_a01"), content_type=content_type)
    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type.split(";")[0])
    ack = segments(response.content.decode())
    assert ack["MSA"][1:3] == ["AA", "ADT0001"]
    assert Hl7Message.objects.get().channel == "http" and Patient.objects.get().family == "Rivera"


def test_the_fhir_address_takes_v2_too(client, source, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, source, raw("siu_s12"), url_name="ehr-webhook")
    assert response.status_code == 200 and segments(response.content.decode())["MSA"][1] == "AA"


def test_a_resend_gets_the_same_ack(client, source, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = post(client, source, raw("oru_r01"))
        again = post(client, source, raw("oru_r01"))
    assert first.content == again.content and Hl7Message.objects.get().duplicates == 1


def test_a_rejected_message_is_400_with_its_ar(client, source):
    response = post(client, source, malformed("unknown_event"))
    assert response.status_code == 400
    assert segments(response.content.decode())["MSA"][1] == "AR"


def test_an_application_error_is_200_with_its_ae(client, source):
    response = post(client, source, malformed("no_patient_id"))
    assert response.status_code == 200
    assert segments(response.content.decode())["ERR"][3].startswith("101^")


def test_no_accept_ack_asked_for_is_204(client, source):
    header, rest = raw("adt_a04").split(b"\r", 1)
    response = post(client, source, header + b"|||NE|AL\r" + rest)
    assert response.status_code == 204 and Hl7Message.objects.get().ack_code == "CA"


def test_the_ack_comes_back_in_the_message_character_set(client, source):
    response = post(client, source, raw("adt_a31"))
    assert response["Content-Type"].endswith("charset=iso8859-1")
    assert segments(response.content.decode("iso8859-1"))["MSA"][1] == "AA"


@pytest.mark.parametrize("token", ["", "wrong"])
def test_a_missing_or_wrong_token_is_401_and_nothing_is_stored(client, source, token):
    response = post(client, source, raw("adt_a01"), token=token)
    assert response.status_code == 401 and not Hl7Message.objects.exists()


def test_other_content_types_are_415_and_get_is_405(client, source):
    assert post(client, source, raw("adt_a01"), content_type="text/plain").status_code == 415
    response = client.get(reverse("ehr:hl7v2_receive", args=[source.name]))
    assert response.status_code == 405


@override_settings(EHR_WEBHOOK_MAX_BYTES=1000)
def test_a_message_over_the_limit_is_413(client, source):
    assert post(client, source, raw("adt_a01") + b"NTE|1||" + b"x" * 2000 + b"\r").status_code == 413
    assert not Hl7Message.objects.exists()


@pytest.mark.parametrize("body", [b"\r", b"\xff\xfe\x00garbage", b"MSH|^~\\&|" + b"^" * 100_000, b"{}"])
def test_hostile_bodies_are_4xx_with_an_ar(client, source, body):
    response = post(client, source, body)
    assert response.status_code == 400
    assert segments(response.content.decode("latin-1"))["MSA"][1] == "AR"


def _chunked(client, source, body: bytes, *, terminated: bool):
    """A chunked upload as gunicorn hands it over (see test_webhook_hostile): no Content-Length,
    the decoded body on wsgi.input, and ``wsgi.input_terminated`` when the server decoded it."""
    environ = {"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked"}
    if terminated:
        environ["wsgi.input_terminated"] = True
    return client.post(
        reverse("ehr:hl7v2_receive", args=[source.name]),
        content_type=V2,
        HTTP_AUTHORIZATION=f"Bearer {source.token}",
        **environ,
    )


def test_a_chunked_message_is_stored_and_answered_aa(client, source, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _chunked(client, source, raw("adt_a01"), terminated=True)
    assert response.status_code == 200
    assert segments(response.content.decode())["MSA"][1:3] == ["AA", "ADT0001"]
    assert bytes(Hl7Message.objects.get().envelope.raw) == raw("adt_a01")


def test_chunks_the_server_did_not_decode_are_411_and_nothing_is_stored(client, source):
    response = _chunked(client, source, raw("adt_a01"), terminated=False)
    assert response.status_code == 411 and b"send Content-Length" in response.content
    assert not Hl7Message.objects.exists()
