"""What the shared worklist (``apps.workflow.worklist``) needs to know about referrals: their
queues and open states, the referral's own columns, where a referral may be moved from its
state, and the safe bulk action (start triage of received referrals)."""

from typing import Any

from django.urls import reverse
from django.utils.html import format_html

from apps.workflow.templatetags.plain_words import plain_codes_text
from apps.workflow.worklist import BulkAction, Column, WorklistSpec, queues_of_state, state_guarded

from .models import Referral
from .selectors import QUEUES
from .services import referral_triage
from .workflow import OPEN, QUEUE_FOR_STATE, State


def referral_cell(referral: Any) -> str:
    """The specialty and the reason."""
    return format_html(
        '<span class="wl-specialty">{}</span>\n<span class="sub wl-reason" title="{}">{}</span>',
        referral.specialty_display or "No specialty",
        referral.reason,
        referral.reason or "No reason given",
    )


def flags_cell(referral: Any) -> str:
    """A possible duplicate (its link) and an exception (why, codes by their names)."""
    flags = []
    if referral.possible_duplicate_of_id:
        url = reverse("referrals:detail", args=[referral.possible_duplicate_of_id])
        flags.append(format_html('<a class="flag flag-dup" href="{}">Possible duplicate</a>', url))
    if referral.exception_reason:
        why = plain_codes_text(referral.exception_reason)
        flags.append(format_html('<span class="flag flag-exc" title="{}">Exception</span>', why))
    return "\n".join(flags)


REFERRAL_WORKLIST = WorklistSpec(
    workflow=Referral.WORKFLOW,
    namespace="referrals",
    title="Referrals",
    noun="referral",
    plural="referrals",
    lede="Open referrals at your sites",
    permissions=("core.work_referrals",),
    work_permission="core.work_referrals",
    queues=tuple(QUEUES),
    states=tuple((state.value, state.label) for state in State if state in OPEN),
    columns=(
        Column("Referral", css="wl-ref", cell=referral_cell),
        Column("Flags", css="wl-flags", cell=flags_cell),
    ),
    queues_for=queues_of_state(QUEUE_FOR_STATE),
    bulk_actions=(
        BulkAction(
            key="triage",
            label="Start triage",
            done="moved into triage",
            permission="core.supervise_queues",
            hint="Only referrals that are received and not yet in triage",
            run=state_guarded(
                Referral,
                State.RECEIVED,
                lambda item_id, by, reason: referral_triage(referral_id=item_id, by=by),
                refusal="it is already past triage; open it to see the next step.",
                code="not_received",
            ),
        ),
    ),
    select_related=("site", "assignee", "service_line"),
    head_template="referrals/_enter_link.html",
)
