"""Retention: processed messages' raw payloads are kept ``EhrSource.retention_days``, then pruned.

Never pruned: dead letters (they wait for someone to fix and replay them), messages not yet
processed, and anything under legal hold (the source's or the message's own). The local store
keeps each resource's newest version and the transition log keeps every state change, so what a
prune removes is the raw history of payloads, not the workflow's. A webhook body (envelope) goes
once none of its messages is left and no HL7 v2 message refers to it; an outbox message sent
before the cutoff keeps its row (its dedupe key keeps a re-run from sending it again) but not
its payload. Each source's run is recorded with its counts (``RetentionRun``, audit-logged).
"""

import logging
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from apps.core.models import User

from ..models import EhrSource, Hl7Message, InboxEnvelope, InboxMessage, OutboxMessage, RetentionRun

logger = logging.getLogger(__name__)
CHUNK = 5000  # rows deleted per statement: short locks, bounded memory


def retention_prune(*, now: datetime | None = None) -> list[RetentionRun]:
    """Prune every source with a retention period that is not under legal hold; one run each."""
    now = now or timezone.now()
    sources = EhrSource.objects.filter(retention_days__isnull=False, legal_hold=False).order_by("pk")
    return [source_prune(source=source, now=now) for source in sources]


def source_prune(*, source: EhrSource, now: datetime) -> RetentionRun:
    """Prune one source's processed payloads older than its retention period; record the counts."""
    cutoff = now - timedelta(days=source.retention_days or 0)
    old = InboxMessage.objects.filter(source=source, received_at__lt=cutoff)
    prunable = old.filter(status=InboxMessage.Status.PROCESSED, legal_hold=False)
    removed = 0
    while ids := list(prunable.values_list("pk", flat=True)[:CHUNK]):
        with transaction.atomic():
            removed += InboxMessage.objects.filter(pk__in=ids).delete()[0]
    envelopes = (
        InboxEnvelope.objects.filter(source=source, received_at__lt=cutoff, messages__isnull=True)
        .exclude(pk__in=Hl7Message.objects.filter(source=source).values("envelope_id"))
        .values_list("pk", flat=True)
    )
    envelopes_removed = 0
    while ids := list(envelopes[:CHUNK]):
        envelopes_removed += InboxEnvelope.objects.filter(pk__in=ids).delete()[0]
    cleared = (
        OutboxMessage.objects.filter(source=source, status=OutboxMessage.Status.SENT, sent_at__lt=cutoff)
        .exclude(changes={})
        .update(changes={})
    )
    run = RetentionRun.objects.create(
        source=source,
        ran_at=now,
        cutoff=cutoff,
        messages_removed=removed,
        deliveries_removed=envelopes_removed,
        outbox_payloads_cleared=cleared,
        held_kept=old.filter(legal_hold=True).count(),
        dead_kept=old.filter(status=InboxMessage.Status.DEAD, legal_hold=False).count(),
    )
    logger.info(
        "retention: source %s pruned %d message(s), %d delivery(ies), %d outbox payload(s)",
        source.pk,
        removed,
        envelopes_removed,
        cleared,
    )
    return run


def inbox_legal_hold_set(*, message_id: int, hold: bool, by: User) -> InboxMessage:
    """Place one inbox message under legal hold (never pruned) or lift the hold; logged with ids only
    (inbox rows are outside django-auditlog: the inbox is its own history)."""
    if not by.has_perm("core.administer_integrations"):
        raise PermissionDenied("Only integration admins can place messages under legal hold.")
    with transaction.atomic():
        message = InboxMessage.objects.select_for_update().get(pk=message_id)
        if message.legal_hold != hold:
            message.legal_hold = hold
            message.save(update_fields=["legal_hold"])
            logger.info(
                "retention: user %s %s legal hold on inbox message %s",
                by.pk,
                "placed" if hold else "lifted",
                message.pk,
            )
    return message
