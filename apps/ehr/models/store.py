"""The local FHIR store: a typed model per resource type with the fields workflows search on,
plus the raw JSON, the FHIR id, ``meta.versionId`` and ``lastUpdated``.

Rows are written only by ``apps.ehr.services.store.resource_upsert`` (a version-guarded
upsert in SQL); references are kept as ``Type/id`` strings, so a reference to a resource not
yet received is kept and resolves when that resource arrives.
"""

from typing import TYPE_CHECKING, Any, ClassVar

from django.db import models

from .sources import EhrSource


def ref_field(index: bool = False) -> models.CharField:
    return models.CharField(max_length=200, blank=True, db_index=index)


def code_field(index: bool = False) -> models.CharField:
    """A coded value as ``system|code`` (or ``|code`` with no system)."""
    return models.CharField(max_length=300, blank=True, db_index=index)


class FhirResource(models.Model):
    RESOURCE_TYPE = ""
    if TYPE_CHECKING:  # every concrete store model has one, for code that takes any of them
        objects: ClassVar[models.Manager[Any]]
    # The field holding the patient reference, for ``patient``/``subject`` search and access logs.
    PATIENT_FIELD: str | None = None

    source = models.ForeignKey(EhrSource, on_delete=models.PROTECT, related_name="+")
    fhir_id = models.CharField(max_length=128)
    version_id = models.CharField(max_length=64, blank=True)
    # Version order: (last_updated_us, version_seq); an upsert that is not newer changes nothing.
    last_updated = models.DateTimeField(db_index=True)
    last_updated_us = models.BigIntegerField()
    version_seq = models.BigIntegerField(default=0)
    content_sha256 = models.CharField(max_length=64)
    raw = models.JSONField()
    deleted = models.BooleanField(default=False)
    revision = models.PositiveIntegerField(default=1, help_text="How many versions were stored (1 = new)")
    first_stored_at = models.DateTimeField()
    stored_at = models.DateTimeField()

    class Meta:
        abstract = True
        constraints = [models.UniqueConstraint(fields=["source", "fhir_id"], name="%(app_label)s_%(class)s_identity")]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return f"{self.RESOURCE_TYPE}/{self.fhir_id}"

    @property
    def patient_reference(self) -> str:
        if self.RESOURCE_TYPE == "Patient":
            return self.reference
        return getattr(self, self.PATIENT_FIELD, "") if self.PATIENT_FIELD else ""


class Patient(FhirResource):
    RESOURCE_TYPE = "Patient"
    PATIENT_FIELD = None
    family = models.CharField(max_length=200, blank=True, db_index=True)
    given = models.CharField(max_length=200, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    gender = models.CharField(max_length=16, blank=True)
    mrn = models.CharField(max_length=100, blank=True, db_index=True)
    active = models.BooleanField(null=True)

    class Meta(FhirResource.Meta):
        pass


class Practitioner(FhirResource):
    RESOURCE_TYPE = "Practitioner"
    family = models.CharField(max_length=200, blank=True)
    given = models.CharField(max_length=200, blank=True)
    identifier = models.CharField(max_length=100, blank=True, db_index=True)
    active = models.BooleanField(null=True)

    class Meta(FhirResource.Meta):
        pass


class PractitionerRole(FhirResource):
    RESOURCE_TYPE = "PractitionerRole"
    practitioner_ref = ref_field(index=True)
    organization_ref = ref_field()
    location_ref = ref_field()
    role = code_field()
    specialty = code_field()
    active = models.BooleanField(null=True)

    class Meta(FhirResource.Meta):
        pass


class Organization(FhirResource):
    RESOURCE_TYPE = "Organization"
    name = models.CharField(max_length=300, blank=True)
    identifier = models.CharField(max_length=100, blank=True)
    part_of_ref = ref_field()
    active = models.BooleanField(null=True)

    class Meta(FhirResource.Meta):
        pass


class Location(FhirResource):
    RESOURCE_TYPE = "Location"
    name = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=32, blank=True)
    managing_organization_ref = ref_field()

    class Meta(FhirResource.Meta):
        pass


class Encounter(FhirResource):
    RESOURCE_TYPE = "Encounter"
    PATIENT_FIELD = "subject_ref"
    status = models.CharField(max_length=32, blank=True)
    class_code = code_field()
    subject_ref = ref_field(index=True)
    appointment_ref = ref_field(index=True)
    based_on_ref = ref_field()
    service_provider_ref = ref_field()
    location_ref = ref_field()
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)

    class Meta(FhirResource.Meta):
        pass


class Appointment(FhirResource):
    RESOURCE_TYPE = "Appointment"
    PATIENT_FIELD = "patient_ref"
    status = models.CharField(max_length=32, blank=True)
    start = models.DateTimeField(null=True, blank=True, db_index=True)
    end = models.DateTimeField(null=True, blank=True)
    patient_ref = ref_field(index=True)
    practitioner_ref = ref_field()
    location_ref = ref_field()
    based_on_ref = ref_field(index=True)
    appointment_type = code_field()
    service_type = code_field()
    slot_ref = ref_field(index=True)

    class Meta(FhirResource.Meta):
        pass


class Schedule(FhirResource):
    """Whose time a set of Slots is: a practitioner and a location, for a specialty."""

    RESOURCE_TYPE = "Schedule"
    active = models.BooleanField(null=True)
    service_type = code_field()
    specialty = code_field(index=True)
    specialty_display = models.CharField(max_length=300, blank=True)
    practitioner_ref = ref_field()
    location_ref = ref_field(index=True)
    comment = models.CharField(max_length=300, blank=True)

    class Meta(FhirResource.Meta):
        pass


class Slot(FhirResource):
    """A time on a Schedule, free or busy as the EHR says (booking reads Appointments too)."""

    RESOURCE_TYPE = "Slot"
    schedule_ref = ref_field(index=True)
    status = models.CharField(max_length=32, blank=True)
    start = models.DateTimeField(null=True, blank=True, db_index=True)
    end = models.DateTimeField(null=True, blank=True)
    service_type = code_field()
    specialty = code_field()
    overbooked = models.BooleanField(null=True)

    class Meta(FhirResource.Meta):
        pass


class ServiceRequest(FhirResource):
    RESOURCE_TYPE = "ServiceRequest"
    PATIENT_FIELD = "subject_ref"
    status = models.CharField(max_length=32, blank=True)
    intent = models.CharField(max_length=32, blank=True)
    priority = models.CharField(max_length=16, blank=True)
    category = code_field()
    code = code_field()
    code_display = models.CharField(max_length=300, blank=True)
    subject_ref = ref_field(index=True)
    requester_ref = ref_field()
    performer_ref = ref_field()
    reason_code = code_field()
    reason_display = models.CharField(max_length=300, blank=True)
    authored_on = models.DateTimeField(null=True, blank=True)
    occurrence_start = models.DateTimeField(null=True, blank=True)

    class Meta(FhirResource.Meta):
        pass


class Task(FhirResource):
    RESOURCE_TYPE = "Task"
    PATIENT_FIELD = "for_ref"
    status = models.CharField(max_length=32, blank=True)
    business_status = code_field()
    intent = models.CharField(max_length=32, blank=True)
    priority = models.CharField(max_length=16, blank=True)
    code = code_field()
    focus_ref = ref_field(index=True)
    for_ref = ref_field(index=True)
    based_on_ref = ref_field()
    owner_ref = ref_field()
    requester_ref = ref_field()
    authored_on = models.DateTimeField(null=True, blank=True)
    last_modified = models.DateTimeField(null=True, blank=True)

    class Meta(FhirResource.Meta):
        pass


class Observation(FhirResource):
    RESOURCE_TYPE = "Observation"
    PATIENT_FIELD = "subject_ref"
    status = models.CharField(max_length=32, blank=True)
    category = code_field()
    code = code_field(index=True)
    code_display = models.CharField(max_length=300, blank=True)
    subject_ref = ref_field(index=True)
    based_on_ref = ref_field()
    performer_ref = ref_field()
    effective = models.DateTimeField(null=True, blank=True)
    issued = models.DateTimeField(null=True, blank=True)
    value_number = models.FloatField(null=True, blank=True)
    value_unit = models.CharField(max_length=64, blank=True)
    value_text = models.CharField(max_length=500, blank=True)
    interpretation = code_field()
    reference_low = models.FloatField(null=True, blank=True)
    reference_high = models.FloatField(null=True, blank=True)
    reference_text = models.CharField(max_length=300, blank=True)
    member_refs = models.JSONField(default=list, blank=True)

    class Meta(FhirResource.Meta):
        pass


class DiagnosticReport(FhirResource):
    RESOURCE_TYPE = "DiagnosticReport"
    PATIENT_FIELD = "subject_ref"
    status = models.CharField(max_length=32, blank=True)
    category = code_field()
    code = code_field(index=True)
    code_display = models.CharField(max_length=300, blank=True)
    subject_ref = ref_field(index=True)
    based_on_ref = ref_field(index=True)
    performer_ref = ref_field()
    effective = models.DateTimeField(null=True, blank=True)
    issued = models.DateTimeField(null=True, blank=True)
    result_refs = models.JSONField(default=list, blank=True)
    conclusion = models.TextField(blank=True)

    class Meta(FhirResource.Meta):
        pass


class DocumentReference(FhirResource):
    RESOURCE_TYPE = "DocumentReference"
    PATIENT_FIELD = "subject_ref"
    status = models.CharField(max_length=32, blank=True)
    doc_status = models.CharField(max_length=32, blank=True)
    type = code_field()
    type_display = models.CharField(max_length=300, blank=True)
    category = code_field()
    subject_ref = ref_field(index=True)
    author_ref = ref_field()
    encounter_ref = ref_field()
    date = models.DateTimeField(null=True, blank=True)
    description = models.CharField(max_length=500, blank=True)

    class Meta(FhirResource.Meta):
        pass


class StoredResource(FhirResource):
    """Every R4 resource type without a typed model (Condition, Procedure, MedicationRequest, …):
    the raw JSON, version and time like the others, plus a few search keys. Typed models stay
    only where a workflow needs fields; this is what keeps the rest of the EHR's data."""

    PATIENT_FIELD = "patient_ref"
    resource_type = models.CharField(max_length=64)
    patient_ref = ref_field()
    status = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "resource_type", "fhir_id"], name="ehr_storedresource_identity")
        ]
        indexes = [
            models.Index(fields=["resource_type", "last_updated"], name="ehr_stored_type_updated"),
            models.Index(fields=["resource_type", "patient_ref"], name="ehr_stored_type_patient"),
        ]

    @property
    def reference(self) -> str:
        return f"{self.resource_type}/{self.fhir_id}"


STORE_MODELS: dict[str, type[FhirResource]] = {
    model.RESOURCE_TYPE: model
    for model in (
        Patient,
        Practitioner,
        PractitionerRole,
        Organization,
        Location,
        Encounter,
        Appointment,
        Schedule,
        Slot,
        ServiceRequest,
        Task,
        Observation,
        DiagnosticReport,
        DocumentReference,
    )
}


def store_model_for(resource_type: str) -> type[FhirResource]:
    """The typed model of ``resource_type``, else the generic store (rows filtered by type)."""
    return STORE_MODELS.get(resource_type, StoredResource)


def store_rows_of(resource_type: str) -> "models.QuerySet[Any]":
    """The store rows of one resource type, typed or generic."""
    if resource_type in STORE_MODELS:
        return STORE_MODELS[resource_type]._default_manager.all()
    return StoredResource.objects.filter(resource_type=resource_type)
