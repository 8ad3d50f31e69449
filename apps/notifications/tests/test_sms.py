"""Text messages: the console default, and the Twilio adapter against a local HTTP server standing
in for Twilio, which receives the real request the twilio library sends."""

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from apps.notifications.sms import ConsoleSmsBackend, SmsError, TwilioSmsBackend, sms_backend


class FakeTwilio(BaseHTTPRequestHandler):
    answers: list[tuple[int, dict]] = []
    seen: list[dict] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        type(self).seen.append(
            {"path": self.path, "auth": self.headers.get("Authorization", ""), "form": parse_qs(body)}
        )
        status, answer = type(self).answers.pop(0)
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def twilio(settings):
    FakeTwilio.answers, FakeTwilio.seen = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeTwilio)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SMS_BACKEND = "apps.notifications.sms.TwilioSmsBackend"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "1" * 32, "secret-token"
    settings.SMS_FROM = "+15550000000"
    settings.TWILIO_API_BASE = f"http://127.0.0.1:{server.server_port}"
    yield FakeTwilio
    server.shutdown()


def test_twilio_sends_the_text_to_the_messages_api(twilio):
    twilio.answers.append((201, {"sid": "SM" + "a" * 32, "status": "queued"}))
    backend = sms_backend()
    assert isinstance(backend, TwilioSmsBackend)
    assert backend.send(to="+15551234567", body="Your visit is tomorrow at 10:00.") == "SM" + "a" * 32
    [request] = twilio.seen
    assert request["path"] == f"/2010-04-01/Accounts/AC{'1' * 32}/Messages.json"
    assert request["auth"].startswith("Basic ")
    assert request["form"] == {
        "To": ["+15551234567"],
        "From": ["+15550000000"],
        "Body": ["Your visit is tomorrow at 10:00."],
    }


@pytest.mark.parametrize(("status", "transient"), [(500, True), (429, True), (400, False)])
def test_twilio_failures_say_whether_to_retry(twilio, status, transient):
    twilio.answers.append(
        (status, {"code": 21211, "message": "The 'To' number +15551234567 is not valid.", "status": status})
    )
    with pytest.raises(SmsError) as raised:
        sms_backend().send(to="+15551234567", body="x")
    assert raised.value.transient is transient
    assert "+1555" not in str(raised.value)  # the number never reaches logs through the error


def test_console_default_prints_the_text():
    out = io.StringIO()
    sid = ConsoleSmsBackend(out).send(to="+15551234567", body="Reminder")
    assert sid.startswith("console-") and "to +15551234567\nReminder" in out.getvalue()
