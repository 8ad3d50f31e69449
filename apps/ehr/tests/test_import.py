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


def run(*args):
    from io import StringIO

    out = StringIO()
    call_command("ehr_import", *args, stdout=out, stderr=StringIO())
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


def test_bad_lines_fail_alone_are_reported_and_strict_exits_non_zero(tmp_path):
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
    output = run("--source", "s", str(path))
    assert row(output, "Patient") == [1, 0, 0, 0, 0]
    assert row(output, "Observation") == [1, 0, 0, 0, 1]
    assert row(output, "(unreadable)")[-1] == 1
    assert f"{path}:2: malformed JSON" in output
    assert "Observation/o1" in output and "Field required" in output
    assert InboxMessage.objects.get(resource_id="o1").status == InboxMessage.Status.DEAD  # kept, replayable
    assert set(Observation.objects.values_list("fhir_id", flat=True)) == {"o2"}
    with pytest.raises(CommandError, match="2 entries failed"):
        run("--source", "s", "--strict", str(path))


def test_a_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="no such file or folder"):
        run("--source", "s", str(tmp_path / "nope.ndjson"))


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
