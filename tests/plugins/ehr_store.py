"""Store rows made directly, for tests that read the store (not through the ingestion pipeline)."""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from apps.ehr.models import STORE_MODELS, EhrSource, FhirResource

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T0 = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)


def source_make(name: str = "store-test-ehr") -> EhrSource:
    """An EHR source for store rows (get or create by name)."""
    source, _ = EhrSource.objects.get_or_create(name=name, defaults={"base_url": "http://127.0.0.1:9/fhir"})
    return source


def store_make(
    resource_type: str,
    fhir_id: str,
    *,
    last_updated: datetime = T0,
    source: EhrSource | None = None,
    version_id: str = "1",
    deleted: bool = False,
    body: dict[str, Any] | None = None,
    **typed: Any,
) -> FhirResource:
    """One stored resource: ``raw`` is ``body`` plus resourceType, id and meta; ``typed`` sets model fields."""
    model = STORE_MODELS[resource_type]
    meta = {"versionId": version_id, "lastUpdated": last_updated.isoformat().replace("+00:00", "Z")}
    raw = {"resourceType": resource_type, "id": fhir_id, "meta": meta, **(body or {})}
    now = timezone.now()
    return model.objects.create(
        source=source or source_make(),
        fhir_id=fhir_id,
        version_id=version_id,
        last_updated=last_updated,
        last_updated_us=(last_updated - EPOCH) // timedelta(microseconds=1),
        version_seq=int(version_id) if version_id.isdigit() else 0,
        content_sha256=hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest(),
        raw=raw,
        deleted=deleted,
        first_stored_at=now,
        stored_at=now,
        **typed,
    )


def patient_make(fhir_id: str, family: str = "Doe", **kwargs: Any) -> FhirResource:
    """A Patient with a name (raw and typed)."""
    body = {"name": [{"family": family, "given": ["Pat"]}], "gender": "unknown"}
    return store_make("Patient", fhir_id, body=body, family=family, **kwargs)


def observation_make(fhir_id: str, patient_id: str, *, status: str = "final", **kwargs: Any) -> FhirResource:
    """A final heart-rate Observation for ``Patient/<patient_id>`` (raw and typed)."""
    body = {
        "status": status,
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "valueQuantity": {"value": 72, "unit": "/min"},
    }
    return store_make(
        "Observation", fhir_id, body=body, status=status, subject_ref=f"Patient/{patient_id}", code="http://loinc.org|8867-4",
        **kwargs,
    )  # fmt: skip


def matrix_read_kwargs(site: Any) -> dict[str, str]:
    """URL kwargs for the access matrix's FHIR read row: a Patient that exists (the store has no site)."""
    if not STORE_MODELS["Patient"].objects.filter(fhir_id="matrix-patient").exists():
        patient_make("matrix-patient")
    return {"resource_type": "Patient", "fhir_id": "matrix-patient"}
