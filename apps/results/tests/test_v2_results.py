"""Lab results sent as HL7 v2 (ORU R01) feed results follow-up as FHIR results do: the abnormal
flags (OBX-8) go through the governed interpretation map to a criticality."""

import pytest

from apps.ehr.models import Hl7Message, InboxMessage
from apps.ehr.services.v2_inbox import hl7_receive
from apps.results.models import ResultItem

from .ehr_feed import make_source

pytestmark = pytest.mark.django_db


def oru(control_id: str, *, flag: str, value: str, status: str = "F") -> bytes:
    segments = [
        f"MSH|^~\\&|LAB|HOSP|CLINOPS|CLINOPS|20260318160000+0000||ORU^R01^ORU_R01|{control_id}|P|2.5.1",
        "PID|1||MRN1001^^^HOSP^MR||Rivera^Ana||19800214|F",
        "OBR|1|LAB9001^EPIC|F5001^LAB|2823-3^Potassium^LN|||20260318080000+0000" + "|" * 18 + status,
        f"OBX|1|NM|2823-3^Potassium^LN||{value}|mmol/L^mmol/L^UCUM|3.5-5.1|{flag}|||{status}",
    ]
    return "\r".join(segments).encode() + b"\r"


def send(source, data, capture):
    with capture(execute=True):
        receipt = hl7_receive(source=source, raw=data, channel=Hl7Message.Channel.MLLP)
    assert receipt.ack_code == "AA", receipt.ack
    messages = InboxMessage.objects.filter(envelope__hl7_message__id=receipt.message_id)
    assert {m.status for m in messages} == {"processed"}, [m.last_error for m in messages]


@pytest.mark.parametrize(("flag", "value", "criticality"), [("HH", "6.9", "critical"), ("H", "5.4", "abnormal")])
def test_a_v2_result_opens_a_follow_up_with_the_criticality_of_its_flag(
    flag, value, criticality, django_capture_on_commit_callbacks
):
    source, site = make_source()
    send(source, oru("ORU1", flag=flag, value=value), django_capture_on_commit_callbacks)
    items = ResultItem.objects.filter(resource_type="Observation")
    assert [(i.criticality, i.site) for i in items] == [(criticality, site)]


def test_a_result_entered_in_error_voids_its_follow_up(django_capture_on_commit_callbacks):
    source, _ = make_source()
    send(source, oru("ORU1", flag="HH", value="6.9"), django_capture_on_commit_callbacks)
    wrong = oru("ORU2", flag="HH", value="6.9", status="W").replace(b"20260318160000", b"20260318170000")
    send(source, wrong, django_capture_on_commit_callbacks)
    states = list(ResultItem.objects.values_list("state", flat=True))
    assert states and set(states) == {"voided"}
