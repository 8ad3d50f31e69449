"""ehr_import takes HL7 v2 files: MLLP-framed, or one message per blank-line-separated block."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.ehr.models import Hl7Message, Patient

from .v2_corpus import configure, malformed, raw

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command("ehr_import", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def source(ehr_source):
    return configure(ehr_source)


def line(output, name):
    return next(row for row in output.splitlines() if row.startswith(name)).split()[-4:]


def test_a_blank_line_separated_file_is_imported_message_by_message(tmp_path, source):
    text = b"\n\n".join(raw(n).replace(b"\r", b"\n") for n in ("adt_a01", "adt_a08", "siu_s12"))
    (tmp_path / "feed.txt").write_bytes(text)  # no v2 suffix: recognised by its MSH
    output = run("--source", source.name, str(tmp_path / "feed.txt"))
    assert line(output, "ADT^A01") == ["1", "0", "0", "0"] and line(output, "SIU^S12") == ["1", "0", "0", "0"]
    assert "3 v2 message(s)" in output and "malformed JSON" not in output
    assert Hl7Message.objects.filter(channel="file", status="converted").count() == 3
    assert Patient.objects.get().fhir_id == "HOSP-MRN1001"


def test_an_mllp_framed_file_and_a_folder_mixing_v2_and_fhir(tmp_path, source):
    framed = b"".join(b"\x0b" + raw(n) + b"\x1c\r" for n in ("oru_r01", "mdm_t02"))
    (tmp_path / "capture.hl7").write_bytes(framed)
    (tmp_path / "patients.ndjson").write_text('{"resourceType": "Patient", "id": "p9", "meta": {"versionId": "1"}}\n')
    output = run("--source", source.name, str(tmp_path))
    assert line(output, "ORU^R01") == ["1", "0", "0", "0"] and line(output, "MDM^T02") == ["1", "0", "0", "0"]
    assert Patient.objects.filter(fhir_id="p9").exists()  # the FHIR file next to it is imported too


def test_resends_and_bad_messages_are_counted_and_the_exit_status_is_non_zero(tmp_path, source):
    blocks = [raw("adt_a01"), raw("adt_a01"), malformed("unknown_event"), malformed("no_patient_id")]
    (tmp_path / "mixed.hl7").write_bytes(b"\n".join(b.replace(b"\r", b"\n") for b in blocks))
    out = StringIO()
    with pytest.raises(CommandError, match="2 v2 message\\(s\\) or resource\\(s\\) failed; the rest was imported"):
        call_command("ehr_import", "--source", source.name, str(tmp_path / "mixed.hl7"), stdout=out, stderr=StringIO())
    output = out.getvalue()
    assert line(output, "ADT^A01") == ["1", "1", "0", "1"]  # AA, AE (no PID-3), AR none, one resend
    assert line(output, "ADT^A99") == ["0", "0", "1", "0"]
    assert "PID-3" in output
    with pytest.raises(CommandError, match="failed"):
        run("--source", source.name, "--strict", str(tmp_path / "mixed.hl7"))
