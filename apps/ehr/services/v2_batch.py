"""An HL7 v2 batch (FHS/BHS … BTS/FTS) into the inbox: each of its messages is received as if it
came alone (stored first, deduplicated, converted, its own ACK), and the answer is the batch of
those ACKs. A message that asked for no accept ACK (MSH-15) has none in the batch."""

from ..models import EhrSource
from ..v2.batch import batch_ack, batch_split, is_batch
from .v2_inbox import V2Receipt, hl7_receive

__all__ = ["hl7_receive_any", "is_batch"]


def hl7_receive_batch(*, source: EhrSource, raw: bytes, channel: str, peer: str = "") -> V2Receipt:
    """Receive every message of a batch; the receipt's ACK is the batch ACK. Its code is AA when
    every message was taken (AA/AE/CA), AR when none was, AE otherwise."""
    batch = batch_split(raw)
    receipts = [hl7_receive(source=source, raw=m, channel=channel, peer=peer) for m in batch.messages]
    taken = [r.accepted for r in receipts]
    code = "AA" if taken and all(taken) else ("AE" if any(taken) else "AR")
    codec = next((r.codec for r in receipts if r.codec), "utf-8")
    text = batch_ack(batch, [r.ack for r in receipts if r.send])
    inbox_ids = tuple(i for r in receipts for i in r.inbox_ids)
    return V2Receipt(text, code, codec, True, inbox_ids=inbox_ids, batch=tuple(receipts))


def hl7_receive_any(*, source: EhrSource, raw: bytes, channel: str, peer: str = "") -> V2Receipt:
    """One message (``hl7_receive``) or a batch of them (``hl7_receive_batch``)."""
    receive = hl7_receive_batch if is_batch(raw) else hl7_receive
    return receive(source=source, raw=raw, channel=channel, peer=peer)
