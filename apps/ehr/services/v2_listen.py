"""What the MLLP listener needs from the database: its routes (which source on which port, from
which addresses) and the call that stores a frame and answers its ACK, from a worker thread."""

import logging
from collections import defaultdict

from django.db import DatabaseError, connection

from ..models import EhrSource, Hl7Message
from ..v2.ack import AckProblem, ack_build
from ..v2.listener import Reply, Route, networks_of
from .v2_batch import hl7_receive_any

logger = logging.getLogger(__name__)


class ListenConfigError(Exception):
    """The sources' MLLP settings cannot be served as they are (the command says which)."""


def mllp_routes(*, sources: list[str] | None = None, port: int | None = None) -> dict[int, list[Route]]:
    """{port: routes} of the active sources with an MLLP port (or the named ones, on ``port``).

    Sources sharing a port are told apart by address, so two of them may not allow one address."""
    rows = EhrSource.objects.filter(is_active=True)
    rows = rows.filter(name__in=sources) if sources else rows.filter(mllp_port__isnull=False)
    routes: dict[int, list[Route]] = defaultdict(list)
    for source in rows.order_by("name"):
        try:
            networks = networks_of(list(source.mllp_allowed_addresses or []))
        except ValueError as exc:
            raise ListenConfigError(f"source {source.name}: allowed address is not valid: {exc}") from exc
        if not networks:
            raise ListenConfigError(f"source {source.name}: no allowed addresses; set mllp_allowed_addresses")
        chosen = port if port is not None else source.mllp_port
        if chosen is None:
            raise ListenConfigError(f"source {source.name}: no MLLP port; set mllp_port or pass --port")
        for other in routes[chosen]:
            if any(a.overlaps(b) for a in networks for b in other.networks if a.version == b.version):
                raise ListenConfigError(
                    f"sources {other.name} and {source.name} share port {chosen} and an allowed address"
                )
        routes[chosen].append(Route(source.pk, source.name, networks))
    if sources and set(sources) - {r.name for rs in routes.values() for r in rs}:
        missing = sorted(set(sources) - {r.name for rs in routes.values() for r in rs})
        raise ListenConfigError(f"no active source named {', '.join(missing)}")
    return dict(routes)


def mllp_handle(source_id: int, raw: bytes, peer: str) -> Reply:
    """Store one frame and return its ACK (in a listener worker thread). When nothing could be
    stored, an AR says so: the sender keeps the message and sends it again."""
    # The worker thread keeps its connection between messages (a new one per message would cost
    # more than storing it); one the database dropped is replaced.
    if connection.connection is not None and not connection.is_usable():
        connection.close()
    try:
        source = EhrSource.objects.get(pk=source_id)
        receipt = hl7_receive_any(source=source, raw=raw, channel=Hl7Message.Channel.MLLP, peer=peer)
    except Exception as exc:
        # Not stored (or not known to be): an AR, and the sender sends it again; a resend of one
        # that was stored after all gets its stored ACK. The log names no message data.
        logger.error("hl7_listen: a message from source %s was not stored (%s)", source_id, exc.__class__.__name__)
        if isinstance(exc, DatabaseError):
            connection.close()
        problem = AckProblem("207", "", "The message was not stored; send it again.")
        return Reply(ack_build(None, "AR", problem).encode())
    return Reply(receipt.ack_bytes if receipt.send else None)
