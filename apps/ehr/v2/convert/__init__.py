"""HL7 v2 → FHIR R4, after the HL7 v2-to-FHIR implementation guide's message and segment maps.

``convert`` returns the resources one message becomes (the Patient first); they then go through
the same inbox, store and workflow handlers as FHIR input. A message whose content cannot be
converted raises ``V2Error`` with ``ack="AE"`` and the place that is wrong.
"""

from collections.abc import Callable

from ..message import UNSUPPORTED_EVENT, UNSUPPORTED_TYPE, V2Error, V2Message
from . import adt, documents, orders, results, siu
from .datatypes import Context, Resource

CONVERTERS: dict[str, tuple[tuple[str, ...], Callable[[V2Message, Context], list[Resource]]]] = {
    "ADT": (adt.EVENTS, adt.convert),
    "SIU": (siu.EVENTS, siu.convert),
    "ORM": (("O01",), orders.convert),
    "OML": (("O21",), orders.convert),
    "ORU": (results.EVENTS, results.convert),
    "MDM": (documents.EVENTS, documents.convert),
}

__all__ = ["CONVERTERS", "Context", "check_supported", "convert"]


def check_supported(message_code: str, event: str) -> None:
    """AR unless this message type and event are ones clinops converts."""
    if message_code not in CONVERTERS:
        raise V2Error(
            f"Message type {message_code} is not taken here (ADT, SIU, ORM, OML, ORU and MDM are).",
            code=UNSUPPORTED_TYPE,
            location="MSH^1^9^1",
        )
    events, _ = CONVERTERS[message_code]
    if event not in events:
        raise V2Error(
            f"Event {message_code}^{event or '(none)'} is not taken here ({', '.join(events)} are).",
            code=UNSUPPORTED_EVENT,
            location="MSH^1^9^2",
        )


def convert(message: V2Message, ctx: Context) -> list[Resource]:
    check_supported(message.header.message_code, message.header.event)
    return CONVERTERS[message.header.message_code][1](message, ctx)
