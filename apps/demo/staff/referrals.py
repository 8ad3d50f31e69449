"""Simulated staff work on the demo's referrals, done only through the referral services.

Walks the open referrals of one source that no person has touched yet and whose seeded delay
has passed (``ctx.due``) and, as a demo user allowed to work the referral's site, triages,
accepts, asks for information, declines, requests and grants authorisation, starts
scheduling, records outreach and abandons — with a seeded ``random.Random`` per referral (the
seed and its ServiceRequest id), so the same referral and seed always get the same decisions.
Referrals a person has already acted on (a staff transition or an outreach attempt) are
skipped, and the untouched ones roll the same "leave it" again: a second run changes nothing.
"""

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from apps.referrals import services
from apps.referrals.models import Referral
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
    info_received: float = 0.5
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
    done: Counter = Counter()
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
            if rng.random() < rates.info_received:
                state = _act(done, "receive_info", services.referral_receive_info(referral_id=rid, by=by))
            return
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
