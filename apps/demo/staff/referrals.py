"""Simulated staff work on the demo's referrals, done only through the referral services.

Walks the open referrals of one source that no person has touched yet and whose seeded delay
has passed (``ctx.due``) and, as a demo user allowed to work the referral's site, triages,
accepts, asks for information, declines, requests and grants authorisation, starts
scheduling, records outreach and abandons — with a seeded ``random.Random`` per referral (the
seed and its ServiceRequest id), so the same referral and seed always get the same decisions.
Referrals a person has already acted on (a staff transition or an outreach attempt) are
skipped, and the untouched ones roll the same "leave it" again: a second run changes nothing.

The referrer is simulated here too, on the EHR's side: some questions clinops asked are answered
after a seeded delay by a Communication in response about the referrer's Task, delivered into
the inbox as the EHR would, so the answer reaches the referral through the real ingestion path.
"""

import random
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from django.utils import timezone

from apps.ehr.models import InboxMessage
from apps.ehr.services.inbox import inbox_process, inbox_receive
from apps.referrals import services
from apps.referrals.models import Referral
from apps.referrals.policy import QUESTION_SYSTEM
from apps.referrals.workflow import State
from apps.workflow.models import OUTREACH_FAILED, Transition, TransitionSource

from . import StaffContext, staff_register

WORKERS = ("scheduler", "supervisor")  # the supervisor covers the sites no demo scheduler has
DECLINE_REASONS = ["no-capacity", "not-indicated", "wrong-service", "insufficient-information"]
FAILED_OUTCOMES = ["no_answer", "left_message", "wrong_number"]


@dataclass(frozen=True)
class StaffRates:
    triage: float = 0.8
    accept: float = 0.75  # of triaged; the rest: needs_info, declined, or still in triage
    request_info: float = 0.08
    decline: float = 0.06
    referrer_answers: float = 0.6  # of the questions asked; the rest are never answered
    referrer_median_hours: float = 30.0  # how long the referrer takes to answer
    request_auth: float = 0.12  # of accepted
    authorized: float = 0.6
    start_scheduling: float = 0.8
    outreach_failures: float = 0.35  # chance each of up to three outreach attempts fails
    abandon: float = 0.5  # after three failed attempts


@staff_register(Referral.WORKFLOW)
def referrals_staff(ctx: StaffContext, rates: StaffRates | None = None) -> Counter:
    """Act on every untouched, due open referral of ``ctx.source_name``; returns the count per action."""
    rates = rates or StaffRates()
    touched = Transition.objects.filter(workflow=Referral.WORKFLOW, source=TransitionSource.STAFF).values("item_id")
    referrals = (
        Referral.objects.filter(source__name=ctx.source_name, is_open=True)
        .exclude(queue=services.EXCEPTIONS_QUEUE)
        .exclude(pk__in=touched)
        .exclude(outreach_attempts__gt=0)
        .select_related("site", "service_request")
        .order_by("pk")
    )
    done: Counter = _referrer_answers(ctx, rates)
    for referral in referrals:
        key = f"referral:{referral.service_request.fhir_id}"
        if not ctx.due(key, referral.opened_at):
            continue
        worker = ctx.worker(referral, among=WORKERS)
        if worker is None:
            done["no demo user works this site"] += 1
            continue
        rng = ctx.rng(referral.service_request.fhir_id)
        _work(rng, rates, referral, worker, done)
    return done


def _work(rng: random.Random, rates: StaffRates, referral: Referral, by: Any, done: Counter) -> None:
    rid = referral.pk
    state = referral.state
    if state == "received":
        if rng.random() >= rates.triage:
            return
        state = _act(done, "triage", services.referral_triage(referral_id=rid, by=by))
    if state == "triage":
        roll = rng.random()
        if roll < rates.request_info:
            state = _act(
                done,
                "request_info",
                services.referral_request_info(
                    referral_id=rid, by=by, question="Please send the most recent clinic letter and test results."
                ),
            )
            return  # the referrer answers through the EHR (_referrer_answers), or not
        if roll < rates.request_info + rates.decline:
            _act(
                done,
                "decline",
                services.referral_decline(referral_id=rid, by=by, reason_code=rng.choice(DECLINE_REASONS)),
            )
            return
        if rng.random() >= rates.accept:
            return
        state = _act(done, "accept", services.referral_accept(referral_id=rid, by=by))
    if state == "accepted":
        if rng.random() < rates.request_auth:
            state = _act(done, "request_auth", services.referral_request_auth(referral_id=rid, by=by))
            if rng.random() >= rates.authorized:
                return
            state = _act(done, "authorize", services.referral_authorize(referral_id=rid, by=by))
        elif rng.random() < rates.start_scheduling:
            state = _act(done, "start_scheduling", services.referral_start_scheduling(referral_id=rid, by=by))
    if state == "scheduling":
        _outreach(rng, rates, rid, by, done)


ANSWERS = [
    "Clinic letter of last month and the latest blood results are attached in the record.",
    "The patient had an ECG and bloods two weeks ago; results are now in the shared record.",
    "No further tests so far; the symptoms have worsened this week, please see them soon.",
]


def _referrer_answers(ctx: StaffContext, rates: StaffRates) -> Counter:
    """The referrer answers some of clinops's questions after a delay: a Communication in response,
    about their Task, delivered into the inbox (the EHR's side of the loop; ingestion does the rest)."""
    done: Counter = Counter()
    # A referrer answers after a delay even when the staff act on everything now (``simulate_ehr
    # --staff``): a question this run asked is not answered by the next run at the same moment.
    clock = ctx if ctx.now is not None else replace(ctx, now=timezone.now())
    waiting = Referral.objects.filter(source__name=ctx.source_name, state=State.NEEDS_INFO).exclude(task_ref="")
    for referral in waiting.select_related("source", "service_request").order_by("pk"):
        asked = (
            Transition.objects.filter(workflow=Referral.WORKFLOW, item_id=referral.pk, transition="request_info")
            .order_by("-at", "-id")
            .first()
        )
        if asked is None:
            continue
        key = f"referrer:{referral.service_request.fhir_id}:{asked.pk}"
        rng = ctx.rng(key)
        if rng.random() >= rates.referrer_answers or not clock.due_after(key, asked.at, rates.referrer_median_hours):
            continue
        answered_at = ctx.now or asked.at
        answer = {
            "resourceType": "Communication", "id": f"answer-{referral.service_request.fhir_id}-{asked.pk}",
            "meta": {"versionId": "1", "lastUpdated": answered_at.isoformat()}, "status": "completed",
            "inResponseTo": [{"identifier": {"system": QUESTION_SYSTEM,
                                             "value": f"referral-{referral.pk}-question-{asked.pk}"}}],
            "about": [{"reference": referral.task_ref}],
            "subject": {"reference": referral.patient_ref} if referral.patient_ref else None,
            "sender": {"reference": referral.requester_ref} if referral.requester_ref else None,
            "sent": answered_at.isoformat(), "payload": [{"contentString": rng.choice(ANSWERS)}],
        }  # fmt: skip
        # Stored, then processed here and now, as a bulk import does (the history's clock is travelled).
        receipt = inbox_receive(source=referral.source, body={k: v for k, v in answer.items() if v is not None},
                                channel=InboxMessage.Channel.WEBHOOK, process=False)  # fmt: skip
        inbox_process(message_ids=receipt.new_ids)
        done["referrer answered"] += 1
    return done


def _outreach(rng: random.Random, rates: StaffRates, rid: int, by: Any, done: Counter) -> None:
    failed = 0
    for _ in range(3):
        outcome = rng.choice(FAILED_OUTCOMES) if rng.random() < rates.outreach_failures else "reached"
        services.referral_outreach_record(
            referral_id=rid, by=by, channel=rng.choice(["phone", "phone", "sms", "portal"]), outcome=outcome
        )
        done["outreach"] += 1
        if outcome not in OUTREACH_FAILED:
            return
        failed += 1
    if failed >= services.ABANDON_AFTER_ATTEMPTS and rng.random() < rates.abandon:
        _act(done, "abandon", services.referral_abandon(referral_id=rid, by=by))


def _act(done: Counter, name: str, referral: Referral) -> str:
    done[name] += 1
    return referral.state
