"""What the intake API reads and writes."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# One vocabulary for every workflow's API: the inputs and the note, patient and user shapes are shared.
from apps.referrals.serializers import (  # noqa: F401 - re-exported for api.py
    EmptyInput,
    NoteAddInput,
    NoteSerializer,
    OptionalReasonInput,
    OutreachInput,
    PatientSerializer,
    ReasonInput,
    UserRefSerializer,
)

from .models import Intake, IntakeCheck, IntakeOutreach


class CheckSerializer(serializers.ModelSerializer):
    done = serializers.SerializerMethodField()

    class Meta:
        model = IntakeCheck
        fields = ["key", "label", "done", "done_at", "done_source", "evidence"]
        read_only_fields = fields

    def get_done(self, obj: IntakeCheck) -> bool:
        return obj.done_at is not None


class IntakeSerializer(serializers.ModelSerializer):
    """An intake with its checklist. ``patient`` is null for roles that may not see patients."""

    site = serializers.SlugRelatedField(slug_field="code", read_only=True)
    state_display = serializers.CharField(source="get_state_display", read_only=True)
    assignee = UserRefSerializer(read_only=True, allow_null=True)
    checklist = CheckSerializer(source="checks", many=True, read_only=True)
    missing = serializers.SerializerMethodField()
    check_in_minutes = serializers.FloatField(read_only=True, allow_null=True)
    patient = serializers.SerializerMethodField()

    class Meta:
        model = Intake
        fields = [
            "id", "site", "state", "state_display", "is_open", "assignee", "patient_ref", "patient", "visit_start",
            "visit_date", "appointment_type", "appointment_type_display", "exception_reason", "due_at", "checklist",
            "missing", "outreach_attempts", "ready_at", "complete_before_visit", "arrived_at", "checked_in_at",
            "check_in_minutes", "reschedule_count",
        ]  # fmt: skip
        read_only_fields = fields

    def get_missing(self, obj: Intake) -> list[str]:
        return [c.label for c in obj.checks.all() if not c.done_at]

    @extend_schema_field(PatientSerializer(allow_null=True))
    def get_patient(self, obj: Intake) -> dict[str, Any] | None:
        patient = getattr(obj, "patient", None)
        return PatientSerializer(patient).data if patient is not None else None


class IntakeOutreachSerializer(serializers.ModelSerializer):
    by = UserRefSerializer(read_only=True)

    class Meta:
        model = IntakeOutreach
        fields = ["id", "channel", "outcome", "at", "by", "note"]
        read_only_fields = fields


class CheckInput(serializers.Serializer):
    key = serializers.SlugField(max_length=40)
    done = serializers.BooleanField(default=True)
