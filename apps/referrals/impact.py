"""A specialty map version and the open referrals it changes: one selector for the stewards'
impact preview and for the re-route when the version becomes active (terminology.impact).

A referral is changed by a version when the canonical specialty the version gives its specialty
code differs from the one it has now: a held referral the version maps, a routed one it maps
elsewhere, or a routed one it no longer maps (held again for a person to route)."""

from collections.abc import Iterable
from typing import Any

from apps.terminology.impact import ImpactItem
from apps.terminology.models import Concept
from apps.terminology.translation import translate_version
from apps.workflow.transitions import EXCEPTIONS_QUEUE, held_release

from .models import Referral
from .routing import SPECIALTY_SYSTEM, RoutingError, route_for, service_line_for
from .selectors import queue_label
from .workflow import QUEUE_FOR_STATE

WORKFLOW_LABEL = "Referrals"


def _proposed(version: Any, specialty: str) -> str:
    """The canonical specialty ``version`` gives a referral's ``system|code`` ("" for none)."""
    return translate_version(version, specialty.partition("|")[2]).target_code or ""


def _changed(version: Any) -> list[tuple[Referral, str]]:
    concept_map = version.map
    if concept_map.target_system.url != SPECIALTY_SYSTEM:
        return []
    referrals = (
        Referral.objects.filter(is_open=True, specialty__startswith=f"{concept_map.source_system.url}|")
        .select_related("site")
        .only("pk", "queue", "specialty", "canonical_specialty", "site__name")
        .order_by("pk")
    )
    found = []
    proposed_for: dict[str, str] = {}  # one translation per specialty code, not per referral
    for referral in referrals.iterator():
        if referral.specialty not in proposed_for:
            proposed_for[referral.specialty] = _proposed(version, referral.specialty)
        proposed = proposed_for[referral.specialty]
        if proposed != referral.canonical_specialty:
            found.append((referral, proposed))
    return found


def referral_impact(version: Any) -> Iterable[ImpactItem]:
    """The open referrals whose routing ``version`` would change (no patient data)."""
    changed = _changed(version)
    names = dict(
        Concept.objects.filter(system__url=SPECIALTY_SYSTEM).values_list("code", "display")
    )  # codes → the specialties' names

    def name(code: str, held: str) -> str:
        return names.get(code, code) if code else held

    return [
        ImpactItem(
            workflow=WORKFLOW_LABEL,
            item_id=referral.pk,
            queue=queue_label(referral.queue),
            site=referral.site.name,
            what="routing",
            before=name(referral.canonical_specialty, "held: no specialty yet"),
            after=name(proposed, "held for a person to route"),
        )
        for referral, proposed in changed
    ]


def referrals_reroute(version: Any, item_ids: list[int]) -> int:
    """The version is active: route each listed referral by the specialty it gives it (each
    locked and re-checked; one it no longer changes is left alone). Returns how many changed."""

    def release(referral: Referral) -> tuple[str, str] | None:
        proposed = _proposed(version, referral.specialty)
        if proposed == referral.canonical_specialty:
            return None
        code = referral.specialty.partition("|")[2]
        held = referral.queue == EXCEPTIONS_QUEUE
        if proposed:
            try:
                route = route_for(referral.source_id, referral.service_request.performer_ref, proposed)
            except RoutingError as error:
                proposed, problem = "", str(error)
            else:
                referral.site = route.site
                referral.service_line = route.service_line or service_line_for(route.site, proposed)
                referral.canonical_specialty, referral.exception_reason = proposed, ""
                queue = QUEUE_FOR_STATE.get(referral.state, "triage") if held else referral.queue
                return queue, f"Specialty {code} now maps to {proposed} (map version {version.number})"
        else:
            problem = f"Map version {version.number} no longer maps specialty {code}: a person must route it."
        referral.canonical_specialty, referral.exception_reason = "", problem[:300]
        return EXCEPTIONS_QUEUE, problem

    return held_release(Referral.WORKFLOW, item_ids, transition="route", release=release)
