"""Template filters that keep internal words off staff screens: a code system's URI becomes its
name (``http://…/v3-ObservationInterpretation|HH`` → ``Observation interpretation HH``)."""

import re

from django import template

register = template.Library()

# A system URI, optionally followed by ``|code`` (the way codes are written in reasons and notes).
_CODED = re.compile(r"(?P<system>(?:https?|urn):[^\s|,;()]+[^\s|,;().:])(?:\|(?P<code>[^\s,;()]+[^\s,;().:]))?")


# The code systems every EHR sends, by their usual names (when the terminology tables lack them).
WELL_KNOWN = {
    "http://snomed.info/sct": "SNOMED CT",
    "http://loinc.org": "LOINC",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://hl7.org/fhir/sid/icd-10": "ICD-10",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
}


def system_name(url: str) -> str:
    """The human name of a code system: its title in the terminology tables, a well-known name,
    else its last path segment in words (``v3-ObservationInterpretation`` → ``Observation interpretation``)."""
    from apps.terminology.models import CodeSystem

    title = CodeSystem.objects.filter(url=url).values_list("title", flat=True).first()
    if title:
        return title
    if url in WELL_KNOWN:
        return WELL_KNOWN[url]
    last = re.split(r"[/:]", url.rstrip("/"))[-1]
    last = re.sub(r"^v[23]-", "", last)
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", last).replace("-", " ").replace("_", " ").split()
    return " ".join(words).capitalize() if words else "a code system"


def plain_codes_text(text: str) -> str:
    """``text`` with every code-system URI replaced by the system's name (and its code kept)."""
    if not text or ":" not in text:
        return text
    names: dict[str, str] = {}

    def name(match: re.Match[str]) -> str:
        system = match["system"]
        names.setdefault(system, system_name(system))
        return f"{names[system]} {match['code']}" if match["code"] else names[system]

    return _CODED.sub(name, text)


@register.filter
def plain_codes(text: str) -> str:
    """``{{ item.exception_reason|plain_codes }}``: code-system URIs shown by their names."""
    return plain_codes_text(str(text or ""))
