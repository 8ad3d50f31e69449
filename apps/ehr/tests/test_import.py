"""ehr_import: NDJSON (plain and gzipped) and JSON files or folders, with a summary table."""

import gzip
import json

import pytest
from django.core.management import CommandError, call_command

from apps.ehr.models import EhrSource, InboxMessage, Observation, Patient

pytestmark = pytest.mark.django_db


def patient(pid, version="1"):
    return {"resourceType": "Patient", "id": pid, "meta": {"versionId": version}, "name": [{"family": f"F{pid}"}]}


def observation(oid, subject="p1"):
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"text": "Potassium"},
        "subject": {"reference": f"Patient/{subject}"},
    }


def run(*args, fails=False):
    """The command's output; ``fails``: it must exit non-zero (some entry failed)."""
    from io import StringIO

    out = StringIO()
    try:
        call_command("ehr_import", *args, stdout=out, stderr=StringIO())
    except CommandError as error:
        assert fails, f"ehr_import failed: {error}\n{out.getvalue()}"
        return out.getvalue() + f"\nCommandError: {error}"
    assert not fails, "ehr_import exited 0 although something failed"
    return out.getvalue()


def row(output, name):
    line = next(line for line in output.splitlines() if line.startswith(name))
    return [int(x.replace(",", "")) for x in line.split()[-5:]]  # new updated unchanged ignored failed


def test_ndjson_gz_and_json_in_a_folder_with_a_table_per_type(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "Patient.ndjson").write_text("\n".join(json.dumps(patient(f"p{i}")) for i in range(3)) + "\n")
    with gzip.open(folder / "Observation.ndjson.gz", "wt") as handle:
        handle.write("\n".join(json.dumps(observation(f"o{i}")) for i in range(4)))
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": patient("p0", version="2")}]}
    (folder / "z-update.json").write_text(json.dumps(bundle))
    output = run("--source", "bulk-ehr", str(folder))
    assert "created source bulk-ehr" in output
    assert row(output, "Patient") == [3, 1, 0, 0, 0]
    assert row(output, "Observation") == [4, 0, 0, 0, 0]
    assert Patient.objects.get(fhir_id="p0").version_id == "2"
    again = run("--source", "bulk-ehr", str(folder))
    assert row(again, "Patient") == [0, 0, 4, 0, 0] and row(again, "total") == [0, 0, 8, 0, 0]
    assert EhrSource.objects.filter(name="bulk-ehr").count() == 1


def test_bad_lines_fail_alone_are_reported_and_the_exit_status_is_non_zero(tmp_path):
    path = tmp_path / "mixed.ndjson"
    path.write_text(
        json.dumps(patient("p1"))
        + "\n"
        + "{not json\n"
        + json.dumps({"resourceType": "Observation", "id": "o1"})
        + "\n"
        + json.dumps(observation("o2"))
        + "\n"
    )
    output = run("--source", "s", str(path), fails=True)
    assert row(output, "Patient") == [1, 0, 0, 0, 0]
    assert row(output, "Observation") == [1, 0, 0, 0, 1]
    assert row(output, "(unreadable)")[-1] == 1
    assert f"{path}:2: malformed JSON at column 2" in output
    assert f"{path}:3: Observation/o1" in output and "Field required" in output
    assert InboxMessage.objects.get(resource_id="o1").status == InboxMessage.Status.DEAD  # kept, replayable
    assert set(Observation.objects.values_list("fhir_id", flat=True)) == {"o2"}
    assert "CommandError: 2 entries failed; the rest was imported" in output
    assert "2 entries failed" in run("--source", "s", "--strict", str(path), fails=True)


def test_a_missing_path_is_a_clear_error(tmp_path):
    assert "no such file or folder" in run("--source", "s", str(tmp_path / "nope.ndjson"), fails=True)


def test_ehr_source_prints_a_token_once(capsys):
    call_command("ehr_source", "epic-north", "--base-url", "https://ehr.example.org/fhir/")
    first = capsys.readouterr().out
    assert "webhook token (shown once" in first and "POST /integrations/epic-north/fhir" in first
    token = first.split("): ")[-1].strip()
    source = EhrSource.objects.get(name="epic-north")
    assert source.base_url == "https://ehr.example.org/fhir" and source.check_webhook_token(token)
    assert token not in source.webhook_token_hash
    call_command("ehr_source", "epic-north")
    assert "unchanged" in capsys.readouterr().out and EhrSource.objects.get().check_webhook_token(token)


def test_ehr_source_rejects_a_bad_url():
    with pytest.raises(CommandError, match="base_url"):
        call_command("ehr_source", "x", "--base-url", "not a url")


def test_a_webhook_token_can_follow_an_option_on_any_command_line():
    """A token is pasted after --token; one starting with "-" would be read as another option."""
    source = EhrSource(name="t")
    tokens = {source.new_webhook_token() for _ in range(300)}
    assert len(tokens) == 300
    assert all(len(t) >= 64 and t[0].isalnum() and t.isalnum() for t in tokens)


def test_one_bad_byte_or_a_cut_gz_fails_alone_and_everything_else_lands(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    lines = [json.dumps(patient(f"p{i}")).encode() for i in range(3)]
    lines[1] = lines[1].replace(b"Fp1", b"F\xffp1")  # one byte that is not UTF-8
    (folder / "a-Patient.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    whole = gzip.compress(b"\n".join(json.dumps(observation(f"o{i}")).encode() for i in range(200)) + b"\n")
    (folder / "b-Observation.ndjson.gz").write_bytes(whole[: len(whole) // 2])  # cut off mid-stream
    (folder / "c-bundle.json").write_bytes(b'{"resourceType": "Bundle",\n "type": "collection",\n "entry": [}')
    (folder / "d-Patient.ndjson").write_text(json.dumps(patient("p9")) + "\n")

    output = run("--source", "s", str(folder), fails=True)

    assert set(Patient.objects.values_list("fhir_id", flat=True)) == {"p0", "p2", "p9"}
    assert Observation.objects.count() > 0  # the lines before the cut
    assert f"{folder / 'a-Patient.ndjson'}:2: the body is not UTF-8 text" in output
    assert f"{folder / 'b-Observation.ndjson.gz'}: the file could not be read to the end after line" in output
    assert f"{folder / 'c-bundle.json'}: malformed JSON at line 3, column 12" in output
    assert "CommandError: 3 entries failed; the rest was imported" in output


def test_an_id_that_is_not_a_fhir_id_fails_alone_with_its_line(tmp_path):
    path = tmp_path / "Patient.ndjson"
    path.write_text(json.dumps(patient("p" * 129)) + "\n" + json.dumps(patient("p1")) + "\n")
    output = run("--source", "s", str(path), fails=True)
    assert f"{path}:1: Patient/{'p' * 64}" in output and "is not a FHIR id" in output
    assert list(Patient.objects.values_list("fhir_id", flat=True)) == ["p1"]
