from typing import Any

from django import template

from ..models import PatientChannel, PatientMessage
from ..patient_actions import patient_opt_outs

register = template.Library()


@register.inclusion_tag("notifications/_patient_messages.html")
def patient_messages_panel(patient: Any) -> dict[str, Any]:
    """The patient page's reminders panel: the channels the patient opted out of (staff may change
    them) and the last reminders, with what became of each."""
    out = patient_opt_outs(source_id=patient.source_id, patient_ref=patient.reference)
    recent = PatientMessage.objects.filter(source_id=patient.source_id, patient_ref=patient.reference)[:10]
    return {
        "patient": patient,
        "channels": [{"value": v, "label": label, "out": v in out} for v, label in PatientChannel.choices],
        "recent": recent,
    }
