"""A result-interpretation map version and the open results it changes: one selector for the
stewards' impact preview and for the re-route when the version becomes active
(terminology.impact).

A result is changed by a version when the criticality its interpretation codes get under the
version (the version for the codes of its source system, the active maps for any other code)
differs from the one it has, or when it is held in the exceptions queue and the version maps
its codes."""

from collections.abc import Iterable
from typing import Any

from apps.terminology.impact import ImpactItem
from apps.terminology.translation import Translation, translate, translate_version
from apps.workflow.transitions import held_release

from .interpretation import INTERPRETATION_SYSTEM, Interpretation, Translator, criticality_from
from .models import ResultItem
from .services import criticality_set
from .workflow import EXCEPTIONS_QUEUE, QUEUE_FOR_STATE, Criticality

WORKFLOW_LABEL = "Results follow-up"
QUEUE_LABELS = {
    "review": "Review",
    "notify": "Notify the patient",
    "follow_up": "Follow-up",
    "exceptions": "Exceptions",
}


def _translator(version: Any) -> Translator:
    system = version.map.source_system.url
    seen: dict[str, Translation] = {}  # one query per code of the version's system, not per item

    def translator(source: str, code: str, target: str) -> Translation | None:
        if source != system:
            return translate(source, code, target)
        if code not in seen:
            seen[code] = translate_version(version, code)
        return seen[code]

    return translator


def _proposed(version: Any, item: ResultItem, translator: Translator | None = None) -> Interpretation | None:
    """What ``version`` makes of the item's codes, or None when it changes nothing."""
    codings = [(c.partition("|")[0], c.partition("|")[2], "") for c in item.interpretation_codes.split(",") if c]
    found = criticality_from(codings, translator or _translator(version))
    release = item.queue == EXCEPTIONS_QUEUE and not found.held
    return found if release or found.criticality != item.criticality else None


def _changed(version: Any) -> list[tuple[ResultItem, Interpretation]]:
    concept_map = version.map
    if concept_map.target_system.url != INTERPRETATION_SYSTEM:
        return []
    system = concept_map.source_system.url
    items = (
        ResultItem.objects.filter(is_open=True, interpretation_codes__contains=f"{system}|")
        .select_related("site")
        .order_by("pk")
    )
    found = []
    translator = _translator(version)
    for item in items.iterator():
        if any(c.partition("|")[0] == system for c in item.interpretation_codes.split(",")):
            proposed = _proposed(version, item, translator)
            if proposed is not None:
                found.append((item, proposed))
    return found


def result_impact(version: Any) -> Iterable[ImpactItem]:
    """The open results whose criticality (or hold) ``version`` would change (no patient data)."""

    def label(item: ResultItem, criticality: str, held: bool) -> str:
        words = Criticality(criticality).label
        return f"{words}, held for a steward" if held else words

    return [
        ImpactItem(
            workflow=WORKFLOW_LABEL,
            item_id=item.pk,
            queue=QUEUE_LABELS.get(item.queue, item.queue.replace("_", " ").capitalize()),
            site=item.site.name,
            what="criticality",
            before=label(item, item.criticality, item.queue == EXCEPTIONS_QUEUE),
            after=label(item, found.criticality, found.held and item.queue == EXCEPTIONS_QUEUE),
        )
        for item, found in _changed(version)
    ]


def results_reroute(version: Any, item_ids: list[int]) -> int:
    """The version is active: give each listed result the criticality it gives its codes and
    take the held ones out of the exceptions queue (each locked and re-checked). Returns how many."""

    def release(item: ResultItem) -> tuple[str, str] | None:
        found = _proposed(version, item)
        if found is None:
            return None
        criticality_set(item, found.criticality)
        item.criticality_note = found.note[:300]
        queue = item.queue
        if item.queue == EXCEPTIONS_QUEUE and not found.held:
            item.exception_reason = ""
            queue = QUEUE_FOR_STATE.get(item.state, item.queue)
        return queue, f"Interpretation now maps (map version {version.number}): {item.get_criticality_display()}"

    return held_release(ResultItem.WORKFLOW, item_ids, transition="interpret", release=release)
