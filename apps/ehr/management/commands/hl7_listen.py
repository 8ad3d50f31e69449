"""Run the MLLP listener for HL7 v2 (a long-running process; production supervises it)."""

import asyncio
import logging
import signal
import ssl
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.ehr.services.v2_listen import ListenConfigError, mllp_handle, mllp_routes
from apps.ehr.v2.listener import Listener

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Listen for HL7 v2 over MLLP on each active source's port (EhrSource.mllp_port), taking "
        "connections only from the source's allowed addresses; --source/--port serve named sources on one port."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="0.0.0.0", help="Address to bind (default every interface)")  # noqa: S104
        parser.add_argument("--source", action="append", dest="sources", help="Serve only this source (repeatable)")
        parser.add_argument("--port", type=int, help="One port for the named sources (told apart by address)")
        parser.add_argument("--workers", type=int, default=4, help="Threads storing messages (database connections)")
        parser.add_argument("--idle-seconds", type=float, default=300.0, help="Close a connection quiet this long")
        parser.add_argument("--tls-cert", help="PEM certificate: serve MLLP over TLS")
        parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
        parser.add_argument("--tls-client-ca", help="PEM CA bundle: require client certificates signed by it")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["port"] is not None and not options["sources"]:
            raise CommandError("--port serves the sources named with --source")
        try:
            routes = mllp_routes(sources=options["sources"], port=options["port"])
        except ListenConfigError as exc:
            raise CommandError(str(exc)) from exc
        if not routes:
            raise CommandError("No active source has an MLLP port: set one in the admin or use --source and --port.")
        context = self._tls(options)
        listener = Listener(
            routes,
            mllp_handle,
            host=options["host"],
            max_bytes=settings.EHR_WEBHOOK_MAX_BYTES,
            idle_seconds=options["idle_seconds"],
            workers=options["workers"],
            ssl_context=context,
        )
        asyncio.run(self._serve(listener))

    def _tls(self, options: dict[str, Any]) -> ssl.SSLContext | None:
        if not options["tls_cert"]:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(options["tls_cert"], options["tls_key"])
        if options["tls_client_ca"]:
            context.load_verify_locations(options["tls_client_ca"])
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    async def _serve(self, listener: Listener) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        ports = await listener.start()
        self.stdout.write(f"hl7_listen: listening on {listener.host} port(s) {', '.join(map(str, ports))}")
        self.stdout.flush()
        await stop.wait()
        self.stdout.write("hl7_listen: stopping (answering the messages being stored)")
        await listener.stop()
        s = listener.stats
        self.stdout.write(
            f"hl7_listen: stopped after {s.connections} connection(s), {s.frames} message(s), "
            f"{s.refused} refused, {s.framing_errors} framing error(s)"
        )
