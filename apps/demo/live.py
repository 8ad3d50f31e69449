"""The gentle live feed ``make run`` keeps going: new simulated EHR events posted to this
server's own webhook (the real interface), one every few seconds, in a daemon thread.

The feed rotates the demo source's webhook token when it starts (the token is stored only as a
hash, so a fresh one is the only way to hold it) and keeps it in memory. The reference data
(sites, clinicians, the lab) came with the history and is not posted again.
"""

import logging
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

from django.db import close_old_connections, connection

from apps.ehr.services.sources import source_upsert

from .delivery import DeliveryError, Webhook, restamp, webhook_url
from .generator import Config, Rates, simulate

logger = logging.getLogger(__name__)
REFERENCE_TYPES = {"Organization", "Location", "Practitioner", "PractitionerRole"}
LIVE_RATES = Rates(referrals_per_day=60.0, visits_per_day=40.0, labs_per_day=40.0)


def live_events(*, seed: int, now: datetime, hours: float = 24) -> list[dict]:
    """The resources of the next ``hours`` of a busy clinic day, without the reference data."""
    events = simulate(Config(seed=seed, rates=LIVE_RATES), start=now, end=now + timedelta(hours=hours))
    return [e.resource for e in events if e.resource["resourceType"] not in REFERENCE_TYPES]


def wait_for_port(host: str, port: int, *, timeout: float = 60.0, stop: threading.Event | None = None) -> bool:
    """Whether ``host:port`` accepts connections within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (stop and stop.is_set()):
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.5)
    return False


def first_page_wait(url: str, *, timeout: float = 120.0) -> bool:
    """Whether ``url`` answers a page (any HTTP status below 500) within ``timeout`` seconds."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (our own http://127.0.0.1 page)
                return response.status < 500
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return True
        except OSError:
            pass
        time.sleep(0.25)
    return False


def ready_line(url: str, *, started: float | None, now: float) -> str:
    """What ``make run`` prints once the first page answers (with the time since it started)."""
    since = f" ({now - started:.0f} s after make run started)" if started else ""
    return f"clinops is ready: {url} answers{since}. Sign in with a demo user (README, Tour)."


class LiveFeed(threading.Thread):
    """Posts one resource every ``1 / per_second`` seconds to ``base_url``'s webhook until stopped."""

    def __init__(self, *, base_url: str, source_name: str = "demo-ehr", per_second: float = 0.25) -> None:
        super().__init__(name="demo-live-feed", daemon=True)
        self.base_url, self.source_name, self.per_second = base_url, source_name, per_second
        self.stop = threading.Event()
        self.posted = 0

    def run(self) -> None:
        try:
            self._run()
        except DeliveryError as exc:
            logger.warning("demo live feed stopped: %s", exc)
        finally:
            connection.close()

    def _run(self) -> None:
        close_old_connections()
        _, token = source_upsert(name=self.source_name, rotate_token=True)
        connection.close()
        url = webhook_url(self.base_url, self.source_name)
        host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
        if not wait_for_port(host, int(port), stop=self.stop):
            logger.warning("demo live feed: %s did not answer; no feed", self.base_url)
            return
        webhook = Webhook(url, token or "")
        while not self.stop.is_set():
            now = datetime.now(UTC).replace(microsecond=0)
            for resource in live_events(seed=int(now.timestamp()), now=now):
                if self.stop.wait(1 / self.per_second):
                    return
                webhook.post(restamp(resource, datetime.now(UTC)))
                self.posted += 1
