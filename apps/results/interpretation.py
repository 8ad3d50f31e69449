"""Criticality from a result's interpretation codes, translated to the canonical
result-interpretation code set by the terminology maps. A code no active map knows is never
guessed: it goes to the unmapped-codes queue and the result waits in the exceptions queue
(reviewed as abnormal meanwhile) until a mapping becomes active."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from apps.ehr.models import Observation
from apps.terminology.translation import Translation, translate

from .workflow import CRITICALITY_RANK, Criticality

INTERPRETATION_SYSTEM = "http://clinops.example.org/fhir/CodeSystem/result-interpretation"
Translator = Callable[[str, str, str], Translation | None]  # (system, code, target system)


@dataclass(frozen=True)
class Interpretation:
    criticality: str
    note: str = ""  # how it was found, shown on the item
    unmapped: tuple[tuple[str, str, str], ...] = field(default=())  # (system, code, display) nobody maps
    codes: tuple[str, ...] = ()

    @property
    def held(self) -> bool:
        return bool(self.unmapped) and not self.note.startswith("From ")


def _codings(resource: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for concept in resource.get("interpretation") or [] for c in concept.get("coding") or [] if c.get("code")]


def criticality_of(resources: Iterable[dict[str, Any]], translator: Translator | None = None) -> Interpretation:
    """The most critical canonical criticality among the resources' interpretation codings."""
    codings = [(c.get("system", ""), c["code"], c.get("display", "")) for r in resources for c in _codings(r)]
    return criticality_from(codings, translator)


def criticality_from(codings: Iterable[tuple[str, str, str]], translator: Translator | None = None) -> Interpretation:
    """``criticality_of`` for ``(system, code, display)`` codings; ``translator`` (default: the
    active maps) lets a steward's preview ask what a version not yet active would make of them."""
    translator = translator or translate
    found: list[str] = []
    unmapped: list[tuple[str, str, str]] = []
    codes: list[str] = []
    for system, code, display in codings:
        codes.append(f"{system}|{code}")
        if system == INTERPRETATION_SYSTEM and code in Criticality.values:
            found.append(code)
            continue
        translation = translator(system, code, INTERPRETATION_SYSTEM)
        if translation is not None and translation.mapped and translation.target_code in Criticality.values:
            found.append(translation.target_code)
        elif translation is None or not translation.mapped:
            unmapped.append((system, code, display))
    if found:
        worst = min(found, key=lambda c: CRITICALITY_RANK[c])
        return Interpretation(worst, f"From the interpretation codes {', '.join(codes)}", tuple(unmapped), tuple(codes))
    if unmapped:
        listed = ", ".join(f"{s or '(no system)'}|{c}" for s, c, _ in unmapped)
        return Interpretation(
            Criticality.ABNORMAL,
            f"No active map translates {listed}: reviewed as abnormal until a steward maps it.",
            tuple(unmapped),
            tuple(codes),
        )
    return Interpretation(Criticality.ABNORMAL, "No interpretation code was sent: reviewed as abnormal.")


def observation_values(observations: Iterable[Observation]) -> list[dict[str, Any]]:
    """The values shown side by side and compared when a result is amended."""
    rows = []
    for obs in observations:
        rows.append(
            {
                "ref": obs.reference,
                "code": obs.code,
                "display": obs.code_display,
                "value": obs.value_number if obs.value_number is not None else obs.value_text,
                "unit": obs.value_unit,
                "low": obs.reference_low,
                "high": obs.reference_high,
                "range": obs.reference_text,
                "interpretation": ", ".join(c["code"] for c in _codings(obs.raw or {})),
                "status": obs.status,
            }
        )
    return rows


def values_changes(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[str]:
    """Words for what changed between two value lists (by observation reference)."""
    old = {row["ref"]: row for row in before}
    new = {row["ref"]: row for row in after}
    out = []
    for key, row in new.items():
        name = row.get("display") or key
        if key not in old:
            out.append(f"{name}: added ({row.get('value')} {row.get('unit') or ''})".strip())
            continue
        for attr, label in (("value", "value"), ("interpretation", "interpretation"), ("status", "status")):
            if old[key].get(attr) != row.get(attr):
                out.append(f"{name}: {label} {old[key].get(attr) or '—'} → {row.get(attr) or '—'}")
    out.extend(f"{old[key].get('display') or key}: removed" for key in old if key not in new)
    return out
