"""Test helpers for patient messages: a reachable patient (first name, email, mobile), the links in a message."""

import re

from apps.ehr.models import Patient

EMAIL = "amaka.patient@example.org"
MOBILE = "+15551234567"
LINK = re.compile(r"https?://[^/\s]+(/p/(confirm|cancel|form|stop-email|stop-sms)/[^/\s]+/)")


def reachable(item, *, email: bool = True, sms: bool = True, given: str = "Amaka") -> Patient:
    """Give the item's patient a first name, an email address and a mobile number in the store."""
    patient = Patient.objects.get(source_id=item.source_id, fhir_id=item.patient_ref.partition("/")[2])
    telecom = []
    if email:
        telecom.append({"system": "email", "value": EMAIL})
    if sms:
        telecom += [{"system": "phone", "value": "+15550001111", "use": "home"},
                    {"system": "phone", "value": MOBILE, "use": "mobile"}]  # fmt: skip
    patient.raw = {**patient.raw, "telecom": telecom, "name": [{"family": patient.family, "given": [given]}]}
    patient.given = given
    patient.save()
    return patient


def links(body: str) -> dict[str, str]:
    """The paths of a message's links by kind (confirm, cancel, form, stop-email, stop-sms)."""
    return {kind: path for path, kind in LINK.findall(body)}
