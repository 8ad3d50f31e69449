"""What the shared worklist (``apps.workflow.worklist``) needs to know about referrals: their
queues and open states, the referral's own columns, where a referral may be moved from its
state, and the safe bulk action (start triage of received referrals)."""

from apps.workflow.worklist import BulkAction, Column, WorklistSpec, queues_of_state, state_guarded

from .models import Referral
from .selectors import QUEUES
from .services import referral_triage
from .workflow import OPEN, QUEUE_FOR_STATE, State

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
        Column("Referral", "referrals/worklist/_referral.html", css="wl-ref"),
        Column("Flags", "referrals/worklist/_flags.html", css="wl-flags"),
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
