"""Text messages to patients through a small backend interface, chosen by ``SMS_BACKEND`` like
Django's ``EMAIL_BACKEND``: the embedded default prints to the console; ``TwilioSmsBackend`` sends
through Twilio's own client library. A backend raises ``SmsError`` (``transient`` says whether a
retry may help); it never logs the number or the text."""

import sys
import uuid
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class SmsError(Exception):
    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class SmsBackend(Protocol):
    def send(self, *, to: str, body: str) -> str:
        """Send one text; returns the provider's id of the message."""
        ...


def sms_backend() -> SmsBackend:
    """The configured backend (``SMS_BACKEND``, a dotted path)."""
    return import_string(settings.SMS_BACKEND)()


class ConsoleSmsBackend:
    """Prints each text to standard output (the embedded default, like the console email backend)."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdout

    def send(self, *, to: str, body: str) -> str:
        sid = f"console-{uuid.uuid4().hex[:12]}"
        self.stream.write(f"SMS {sid} to {to}\n{body}\n{'-' * 40}\n")
        self.stream.flush()
        return sid


class TwilioSmsBackend:
    """Twilio Programmable Messaging (``twilio`` library). Settings: TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN, SMS_FROM; TWILIO_API_BASE replaces https://api.twilio.com (a regional
    proxy, or a local stand-in in tests)."""

    TWILIO_BASE = "https://api.twilio.com"

    def __init__(self) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        base = settings.TWILIO_API_BASE.rstrip("/")

        class _Rebased(TwilioHttpClient):
            def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
                if base and url.startswith(TwilioSmsBackend.TWILIO_BASE):
                    url = base + url[len(TwilioSmsBackend.TWILIO_BASE) :]
                return super().request(method, url, *args, **kwargs)

        http = _Rebased(timeout=settings.SMS_TIMEOUT_SECONDS)
        self.client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http)

    def send(self, *, to: str, body: str) -> str:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            message = self.client.messages.create(to=to, from_=settings.SMS_FROM, body=body)
        except TwilioRestException as exc:
            raise SmsError(f"Twilio refused the message (HTTP {exc.status}, code {exc.code})",
                           transient=exc.status == 429 or exc.status >= 500) from None  # fmt: skip
        except (TwilioException, OSError) as exc:
            raise SmsError(f"Twilio could not be reached ({type(exc).__name__})", transient=True) from None
        return str(message.sid)
